/**
 * Compaction of the value heap, a bounded step at a time (see docs/performance.md, Values outside
 * the heap): the heap marks sparse slabs as evacuating, and each step visits the next entries,
 * segment by segment, moving the values that lie in those slabs. Pure.
 */

import type { EntrySlots } from "./entry_slots.ts";
import type { ValueHeap } from "./value_heap.ts";

export class Compaction {
  readonly #values: ValueHeap;
  /** Where the next step goes on: a segment, and a place in its list of entries. */
  #segment = 0;
  #position = 0;

  constructor(values: ValueHeap) {
    this.#values = values;
  }

  /**
   * Moves the values of the next `maxEntries` entries of `segments` that lie in slabs being
   * emptied, going on from where the last step stopped, as the index resizes a few cells per
   * write. An entry moved within its segment's list between steps may be missed by one pass;
   * the next pass takes it. Returns how many entries it visited; 0 when nothing is to be emptied.
   */
  step(
    segments: readonly (number[] | undefined)[],
    slots: EntrySlots,
    maxEntries: number,
  ): number {
    const values = this.#values;
    if (values.evacuatingSlabs === 0 && values.planCompaction() === 0) return 0;
    let visited = 0;
    while (visited < maxEntries && values.evacuatingSlabs > 0) {
      const entries = segments[this.#segment] ?? [];
      const end = Math.min(entries.length, this.#position + maxEntries - visited);
      for (let i = this.#position; i < end; i++) {
        // i < end <= entries.length.
        const slot = entries[i]!;
        const value = slots.value(slot);
        if (value >= 0 && values.isEvacuating(value)) slots.setValue(slot, values.relocate(value));
      }
      visited += end - this.#position;
      this.#position = end;
      if (end < entries.length) break;
      this.#segment = (this.#segment + 1) % segments.length;
      this.#position = 0;
      // An empty segment costs a step too, so that a sparse store's step stays bounded.
      visited++;
    }
    return visited;
  }
}
