/**
 * Prefetch hints for the store's index (see KeyIndex.prefetch): the keys a batch of requests
 * reads or writes next, hashed as the index places them.
 */

import { hashBytes, hashString } from "./hash.ts";
import type { Keyed, KeyIndex } from "./key_index.ts";

/** Keys one prefetch hint covers; more are not prefetched. */
export const MAX_PREFETCH_KEYS = 64;

export class Prefetcher<E extends Keyed> {
  readonly #index: KeyIndex<E>;
  readonly #seed: number;
  /** Index hashes of the keys one hint is given, at most MAX_PREFETCH_KEYS at once. */
  readonly #hashes = new Int32Array(MAX_PREFETCH_KEYS);
  /** What the prefetches loaded, summed: kept so that the loads are not optimized away. */
  prefetched = 0;

  /** `seed`: the one the index's key hashes use. */
  constructor(index: KeyIndex<E>, seed: number) {
    this.#index = index;
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
    this.prefetched += this.#index.prefetch(hashes, n);
  }

  /** The first MAX_PREFETCH_KEYS of `keys`. */
  strings(keys: readonly string[]): void {
    const hashes = this.#hashes;
    const n = Math.min(keys.length, MAX_PREFETCH_KEYS);
    // i < n <= keys.length: every keys[i] is there.
    for (let i = 0; i < n; i++) hashes[i] = hashString(keys[i]!, this.#seed)[0];
    this.prefetched += this.#index.prefetch(hashes, n);
  }
}
