/**
 * The store's side table of counter states, by entry (the store's are slot numbers): only counter keys pay for it, and the
 * entry itself (and so the GET path) stays as for any key (see counter.ts).
 */

import { counterHash, type CounterState } from "./counter.ts";
import type { Lanes } from "./hash.ts";

export class CounterTable<E> {
  readonly #states = new Map<E, CounterState>();

  get size(): number {
    return this.#states.size;
  }

  get(entry: E): CounterState | undefined {
    return this.#states.size === 0 ? undefined : this.#states.get(entry);
  }

  /** Gives the entry its state; undefined: it is no counter (any more). */
  set(entry: E, state: CounterState | undefined): void {
    if (state === undefined) this.#states.delete(entry);
    else this.#states.set(entry, state);
  }

  clear(): void {
    this.#states.clear();
  }

  /**
   * An entry's hash with its counter's folded in (`lanes` XOR the hash of every contribution),
   * so that two nodes whose counters differ only below the newest contribution still hold
   * different trees; `lanes` as they are for any other entry.
   */
  mix(entry: E, lanes: Lanes): Lanes {
    const state = this.get(entry);
    if (state === undefined) return lanes;
    // counterHash() writes the shared lanes too: the entry's hash is copied out first.
    const entryLow = lanes[0];
    const entryHigh = lanes[1];
    const [low, high] = counterHash(state);
    lanes[0] = entryLow ^ low;
    lanes[1] = entryHigh ^ high;
    return lanes;
  }
}
