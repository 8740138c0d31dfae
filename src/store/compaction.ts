/**
 * Compaction of the value heap, a bounded step at a time (see docs/performance.md, Values outside
 * the heap): the heap marks sparse slabs as evacuating, and each step visits the next entries,
 * slot by slot, moving the values that lie in those slabs. Pure.
 */

import type { EntrySlots } from "./entry_slots.ts";
import type { ValueHeap } from "./value_heap.ts";

export class Compaction {
  readonly #values: ValueHeap;
  /** The slot the next step goes on from. */
  #position = 0;

  constructor(values: ValueHeap) {
    this.#values = values;
  }

  /**
   * Moves the keys and values of the next `maxEntries` slots of `slots` that lie in slabs being emptied,
   * going on from where the last step stopped, as the index resizes a few cells per write. A
   * value written between steps into a slot already visited may be missed by one pass; the next
   * pass takes it. Returns how many slots it visited; 0 when nothing is to be emptied.
   */
  step(slots: EntrySlots, maxEntries: number): number {
    const values = this.#values;
    if (values.evacuatingSlabs === 0 && values.planCompaction() === 0) return 0;
    let visited = 0;
    while (visited < maxEntries && values.evacuatingSlabs > 0) {
      const end = Math.min(slots.end, this.#position + maxEntries - visited);
      for (let slot = this.#position; slot < end; slot++) {
        if (slots.holdsKey(slot)) slots.relocate(slot);
      }
      visited += Math.max(0, end - this.#position);
      this.#position = end;
      if (end < slots.end) break;
      this.#position = 0;
      // The turn to the first slot costs a step too, so that an empty store's step stays bounded.
      visited++;
    }
    return visited;
  }
}
