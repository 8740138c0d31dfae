/**
 * Per tree segment, the slots of the keys that hash there (for listing one segment without a
 * lookup per key): a list linked through the link in each slot's record (entry_slots.ts), with
 * its head and length in typed arrays. No array per segment: 65,536 JavaScript arrays with room
 * to grow took about 17 bytes per key at 1M keys, the link takes 4 (see docs/performance.md,
 * Memory).
 * An overwrite leaves the lists as they are; only new keys and removals change them. Pure.
 */

import { assert } from "../assert.ts";
import type { EntrySlots } from "./entry_slots.ts";

export class SegmentLists {
  readonly #slots: EntrySlots;
  /** Per segment, its first slot; -1: none. */
  readonly #heads: Int32Array;
  readonly #sizes: Int32Array;

  constructor(segmentCount: number, slots: EntrySlots) {
    this.#slots = slots;
    this.#heads = new Int32Array(segmentCount).fill(-1);
    this.#sizes = new Int32Array(segmentCount);
  }

  /** Slots in `segment`. */
  size(segment: number): number {
    return this.#sizes[segment] ?? 0;
  }

  /** The first slot of `segment` (-1: none); the next of each is EntrySlots.link(). */
  first(segment: number): number {
    return this.#heads[segment] ?? -1;
  }

  /** The slots of `segment`, in no particular order. */
  slotsOf(segment: number): number[] {
    const found: number[] = [];
    for (let slot = this.first(segment); slot >= 0; slot = this.#slots.link(slot)) found.push(slot);
    return found;
  }

  add(segment: number, slot: number): void {
    this.#slots.setLink(slot, this.first(segment));
    this.#heads[segment] = slot;
    this.#sizes[segment]!++;
  }

  /** Takes `slot` out of `segment`'s list: linear in the list (n / 65,536 keys on average). */
  remove(segment: number, slot: number): void {
    const slots = this.#slots;
    const next = slots.link(slot);
    let previous = this.first(segment);
    if (previous === slot) this.#heads[segment] = next;
    else {
      for (;;) {
        assert(previous >= 0, "SegmentLists.remove() is given a slot of the segment");
        const after = slots.link(previous);
        if (after === slot) break;
        previous = after;
      }
      slots.setLink(previous, next);
    }
    this.#sizes[segment]!--;
  }

  clear(): void {
    this.#heads.fill(-1);
    this.#sizes.fill(0);
  }
}
