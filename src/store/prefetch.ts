/**
 * Prefetch hints for the store's index (see SlotIndex.prefetch): the keys a batch of requests
 * reads or writes next, hashed as the index places them.
 */

import { hashBytes, hashString } from "./hash.ts";
import type { SlotIndex } from "./slot_index.ts";
import type { EntrySlots } from "./entry_slots.ts";

/** Keys one prefetch hint covers; more are not prefetched. */
export const MAX_PREFETCH_KEYS = 64;

export class Prefetcher {
  readonly #index: SlotIndex;
  readonly #slots: EntrySlots;
  readonly #seed: number;
  /** Index hashes of the keys one hint is given, at most MAX_PREFETCH_KEYS at once. */
  readonly #hashes = new Int32Array(MAX_PREFETCH_KEYS);
  /** The slots the index found at their home cells (-1: none). */
  readonly #found = new Int32Array(MAX_PREFETCH_KEYS);
  /** What the prefetches loaded, summed: kept so that the loads are not optimized away. */
  prefetched = 0;

  /** `seed`: the one the index's key hashes use. */
  constructor(index: SlotIndex, slots: EntrySlots, seed: number) {
    this.#index = index;
    this.#slots = slots;
    this.#seed = seed;
  }

  /** The keys at `ranges` in `bytes` (pairs of start and end offsets, `count` pairs). */
  keys(bytes: Uint8Array, ranges: Int32Array, count: number): void {
    const hashes = this.#hashes;
    const n = Math.min(count, MAX_PREFETCH_KEYS);
    // `ranges` holds `count` pairs (the caller's framing wrote them): no check per key here.
    for (let i = 0; i < n; i++) {
      hashes[i] = hashBytes(bytes, ranges[2 * i]!, ranges[2 * i + 1]!, this.#seed)[0];
    }
    this.#load(n);
  }

  /** The first MAX_PREFETCH_KEYS of `keys`. */
  strings(keys: readonly string[]): void {
    const hashes = this.#hashes;
    const n = Math.min(keys.length, MAX_PREFETCH_KEYS);
    // i < n <= keys.length: every keys[i] is there.
    for (let i = 0; i < n; i++) hashes[i] = hashString(keys[i]!, this.#seed)[0];
    this.#load(n);
  }

  /**
   * The index's cells and keys for the first `count` hashes, then the version of each slot
   * found (an overwrite reads it for the tree) and its value (a handle: the read of its slab
   * comes later).
   */
  #load(count: number): void {
    const found = this.#found;
    const slots = this.#slots;
    let sum = this.#index.prefetch(this.#hashes, count, found);
    // The index wrote `count` <= MAX_PREFETCH_KEYS slots.
    for (let i = 0; i < count; i++) {
      const slot = found[i]!;
      if (slot >= 0) sum += slots.value(slot) + (slots.version(slot) === 0 ? 1 : 0);
    }
    this.prefetched += sum;
  }
}
