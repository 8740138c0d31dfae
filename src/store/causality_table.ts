/**
 * The store's part of causality (see causality.ts): a side table of causalities by slot, so
 * that only the keys whose version vector goes beyond their own dot, or that hold losers, pay
 * for one (an entry without one hashes exactly as before causality existed); the causality of
 * local writes and of merges; the count of conflicts detected; and, in conflicts mode siblings,
 * the losers' values and the count of keys that hold them.
 */

import {
  type Causality,
  causalityHash,
  type ConflictHook,
  type Dot,
  hasSiblings,
  joinVectors,
  newLosers,
  settle,
  siblingExpired,
  vectorOf,
  versionsOf,
  withoutValue,
  writeCausality,
} from "./causality.ts";
import { compareEpochs, type CounterState } from "./counter.ts";
import type { Entry } from "./entry.ts";
import type { Lanes } from "./hash.ts";

/**
 * What the table reads of a stored entry: its slot (the table's key, see entry_slots.ts) and
 * its version and expiry, as they are before the change under way.
 */
export interface SlotView extends Dot {
  readonly slot: number;
  readonly expiresAtMs: number;
}

const NO_DOTS: readonly Dot[] = [];

/** A key's winner and causality before a merge. */
export interface Before {
  readonly dot: Dot;
  readonly causality: Causality | undefined;
}

/** One version of a key with siblings, as GET lists them (see Store.siblings). */
export interface Sibling extends Dot {
  /** null: the version deleted the key, or its value has expired. */
  readonly value: string | null;
}

/** How a table tells the value of the entry in a slot (null: a tombstone). */
export type ValueReader = (slot: number) => string | null;

export class CausalityTable {
  /** Off (conflicts mode lww): no entry gets a causality, and nothing is detected. */
  readonly tracking: boolean;
  /** Conflicts mode siblings: a version that loses keeps its value (null: none kept). */
  readonly #readValue: ValueReader | null;
  readonly #causalities = new Map<number, Causality>();
  #conflictsDetected = 0;
  #siblingKeys = 0;

  constructor(tracking: boolean, readValue: ValueReader | null = null) {
    this.tracking = tracking || readValue !== null;
    this.#readValue = readValue;
  }

  /** Keys whose state holds siblings (values of concurrent versions that lost by LWW). */
  get siblingKeys(): number {
    return this.#siblingKeys;
  }

  /** Whether the entry's key holds siblings: it stays until a write resolves them. */
  holdsSiblings(slot: number): boolean {
    return this.#siblingKeys !== 0 && hasSiblings(this.get(slot));
  }

  /**
   * The versions of the entry's key with siblings: the LWW winner first (its value null when it
   * is not `live`: deleted or expired), then the siblings newest first, each null when it is a
   * deletion or its expiry is at or before `nowMs` (as the winner's); undefined: none. An
   * expired sibling is still a version of the key: it is listed, and the key still holds
   * siblings, until a write resolves them.
   */
  siblingsOf(entry: SlotView, live: boolean, nowMs: number): Sibling[] | undefined {
    if (this.#siblingKeys === 0 || this.#readValue === null) return undefined;
    const causality = this.get(entry.slot);
    if (causality === undefined || !hasSiblings(causality)) return undefined;
    const value = live ? this.#readValue(entry.slot) : null;
    const siblings: Sibling[] = [{ node: entry.node, hlc: entry.hlc, value }];
    for (let i = causality.losers.length - 1; i >= 0; i--) {
      const loser = causality.losers[i]!;
      if (loser.value === undefined) continue;
      const value = siblingExpired(loser, nowMs) ? null : loser.value;
      siblings.push({ node: loser.node, hlc: loser.hlc, value });
    }
    return siblings;
  }

  get size(): number {
    return this.#causalities.size;
  }

  get conflictsDetected(): number {
    return this.#conflictsDetected;
  }

  get(slot: number): Causality | undefined {
    return this.#causalities.size === 0 ? undefined : this.#causalities.get(slot);
  }

  /** Gives the entry its causality; undefined: its own dot alone, no losers. */
  set(slot: number, causality: Causality | undefined): void {
    if (this.#readValue !== null) {
      if (hasSiblings(this.get(slot))) this.#siblingKeys--;
      if (hasSiblings(causality)) this.#siblingKeys++;
    } else if (causality !== undefined && hasSiblings(causality)) {
      // Not in mode siblings: of a peer's siblings, the dots alone (as settled() keeps them).
      causality = { seen: causality.seen, losers: causality.losers.map(withoutValue) };
    }
    if (causality === undefined) this.#causalities.delete(slot);
    else this.#causalities.set(slot, causality);
  }

  clear(): void {
    this.#causalities.clear();
    this.#siblingKeys = 0;
  }

  /**
   * The causality of a local write by `node` at `hlc` over the key's `current` entry: it has
   * seen every version the key holds. None when not tracked, and none (at no cost) when this
   * node wrote the current version and it has no causality.
   */
  forWrite(current: SlotView | undefined, node: string, hlc: number): Causality | undefined {
    if (current === undefined || !this.tracking) return undefined;
    const causality = this.get(current.slot);
    if (causality === undefined && current.node === node) return undefined;
    return writeCausality({ node, hlc }, versionsOf(current, causality));
  }

  /**
   * The key's causality after the merge of `remote` into `current` (whose counter state is
   * `counter`), the merge's winner being `next` (null: current's version stays). Two counters
   * of one epoch merge into a state that has seen both: never a conflict.
   */
  settled(
    current: SlotView,
    counter: CounterState | undefined,
    remote: Entry,
    next: Entry | null,
  ): Causality | undefined {
    if (!this.tracking) return undefined;
    const causality = this.get(current.slot);
    const repeated = next === null && remote.hlc === current.hlc && remote.node === current.node;
    // Nothing new to know: a repeated entry without causality costs nothing.
    if (repeated && causality === undefined && remote.causality === undefined) return undefined;
    const readValue = this.#readValue;
    const mine = versionsOf(
      current,
      causality,
      readValue === null ? undefined : readValue(current.slot),
      current.expiresAtMs,
    );
    let theirs = versionsOf(
      remote,
      remote.causality,
      readValue === null ? undefined : remote.value,
      remote.expiresAtMs,
    );
    // A peer's siblings are kept in mode siblings only (a peer in another mode is refused
    // before its entries reach the store; this keeps the rule local too).
    if (readValue === null) theirs = theirs.map(withoutValue);
    let joined = NO_DOTS;
    if (
      counter !== undefined && remote.counter !== undefined &&
      compareEpochs(counter, remote.counter) === 0
    ) {
      joined = joinVectors(vectorOf(mine[0]!), vectorOf(theirs[0]!));
    }
    return settle(next ?? current, joined, [...mine, ...theirs]);
  }

  /**
   * What detect() compares a merge's outcome with: the entry's dot and causality before the
   * merge changes it; undefined (nothing allocated) when causality is not tracked.
   */
  before(entry: SlotView): Before | undefined {
    if (!this.tracking) return undefined;
    return { dot: { node: entry.node, hlc: entry.hlc }, causality: this.get(entry.slot) };
  }

  /**
   * Counts each (winner, loser) pair that a merge made appear in a key's state (from `before`
   * to `after`), and calls `hook` with it.
   */
  detect(
    key: string,
    before: Before | undefined,
    after: Dot,
    afterCausality: Causality | undefined,
    hook: ConflictHook | null,
  ): void {
    if (afterCausality === undefined || afterCausality.losers.length === 0) return;
    const winner: Dot = { node: after.node, hlc: after.hlc };
    const found = newLosers(before?.dot, before?.causality, winner, afterCausality);
    for (const loser of found) {
      this.#conflictsDetected++;
      hook?.(key, winner, { node: loser.node, hlc: loser.hlc });
    }
  }

  /**
   * An entry's hash with its causality's folded in (`lanes` XOR the hash of its canonical
   * text), so that anti-entropy tells apart two nodes that hold one winner with different
   * losers; `lanes` as they are for an entry without one.
   */
  mix(slot: number, lanes: Lanes): Lanes {
    const causality = this.get(slot);
    if (causality === undefined) return lanes;
    // causalityHash() writes the shared lanes too: the entry's hash is copied out first.
    const entryLow = lanes[0];
    const entryHigh = lanes[1];
    const [low, high] = causalityHash(causality);
    lanes[0] = entryLow ^ low;
    lanes[1] = entryHigh ^ high;
    return lanes;
  }
}
