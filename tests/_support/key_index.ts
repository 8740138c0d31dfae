/**
 * An index of objects by key: the store's SlotIndex (src/store/slot_index.ts) with the objects in
 * an array by slot. The store keeps its entries in columns by slot instead (entry_slots.ts) and
 * uses SlotIndex itself; this form is what the index's model test and micro benchmark drive.
 */

import { assert } from "../../src/assert.ts";
import { SlotIndex, type SlotIndexOptions } from "../../src/store/slot_index.ts";
import { isLatin1Of } from "../../src/store/binary.ts";

export interface Keyed {
  readonly key: string;
}

export type KeyIndexOptions = SlotIndexOptions;

export class KeyIndex<E extends Keyed> {
  readonly #keys: (string | undefined)[] = [];
  readonly #entries: (E | undefined)[] = [];
  /** Slots given back by delete(), taken again first. */
  readonly #free: number[] = [];
  readonly #index: SlotIndex;
  /** Slots the prefetch hint found (unused here). */
  #prefetched = new Int32Array(0);

  constructor(options: KeyIndexOptions = {}) {
    const keys = this.#keys;
    this.#index = new SlotIndex({
      keyEquals: (slot, key) => keys[slot] === key,
      keyEqualsBytes: (slot, bytes, start, end) => isLatin1Of(keys[slot]!, bytes, start, end),
      keyLength: (slot) => keys[slot]!.length,
    }, options);
  }

  get size(): number {
    return this.#index.size;
  }

  /** Cells in the table(s), for tests and memory figures. */
  get capacity(): number {
    return this.#index.capacity;
  }

  /** True while keys are moving from an old table to a new one. */
  get resizing(): boolean {
    return this.#index.resizing;
  }

  /** SlotIndex.reserve. */
  reserve(keys: number): void {
    this.#index.reserve(keys);
  }

  /** SlotIndex.prefetch. */
  prefetch(hashes: Int32Array, count: number): number {
    if (this.#prefetched.length < count) this.#prefetched = new Int32Array(count);
    return this.#index.prefetch(hashes, count, this.#prefetched);
  }

  /** The entry of `key`, whose hash is `hash`; undefined if none. */
  find(key: string, hash: number): E | undefined {
    const slot = this.#index.find(key, hash);
    return slot < 0 ? undefined : this.#entries[slot];
  }

  /** The entry whose key is the binary string of `bytes[start, end)`; undefined if none. */
  findBytes(bytes: Uint8Array, start: number, end: number, hash: number): E | undefined {
    const slot = this.#index.findBytes(bytes, start, end, hash);
    return slot < 0 ? undefined : this.#entries[slot];
  }

  /**
   * Stores `next` in place of `current`, which must be what find() returns for `next.key`
   * (undefined: the key is absent and `next` is inserted).
   */
  put(current: E | undefined, next: E, hash: number): void {
    const slot = this.#index.find(next.key, hash);
    const held = slot < 0 ? undefined : this.#entries[slot];
    assert(held === current, "KeyIndex.put() is given its key's entry");
    if (slot >= 0) {
      this.#entries[slot] = next;
      return;
    }
    const fresh = this.#free.pop() ?? this.#entries.length;
    this.#entries[fresh] = next;
    this.#keys[fresh] = next.key;
    this.#index.insert(fresh, hash);
  }

  /** Removes `entry` (the stored entry of its key, whose hash is `hash`); false if absent. */
  delete(entry: E, hash: number): boolean {
    const slot = this.#index.find(entry.key, hash);
    if (slot < 0 || this.#entries[slot] !== entry) return false;
    this.#index.delete(slot, hash);
    this.#entries[slot] = undefined;
    this.#keys[slot] = undefined;
    this.#free.push(slot);
    return true;
  }

  /** The longest distance of a key from its home cell, in cells (for tests; O(capacity)). */
  maxDisplacement(): number {
    return this.#index.maxDisplacement();
  }

  /** Every entry. Do not change the index while iterating. */
  *values(): IterableIterator<E> {
    for (const slot of this.#index.slots()) yield this.#entries[slot] as E;
  }

  clear(): void {
    this.#index.clear();
    this.#keys.length = 0;
    this.#entries.length = 0;
    this.#free.length = 0;
  }
}
