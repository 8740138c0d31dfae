import assert from "node:assert/strict";
import {
  CELL_SIZES,
  MAX_HEAP_VALUE_BYTES,
  SLAB_BYTES,
  ValueHeap,
} from "../../src/store/value_heap.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

/** Lengths from empty to the largest the heap holds, most of them short. */
function randomLength(random: SeededRandom): number {
  const roll = random.next();
  if (roll < 0.6) return random.below(130);
  if (roll < 0.9) return random.below(2048);
  return random.below(MAX_HEAP_VALUE_BYTES + 1);
}

function assertHolds(heap: ValueHeap, model: Map<number, string>): void {
  for (const [handle, value] of model) {
    assert.equal(heap.length(handle), value.length);
    assert.equal(heap.decode(handle), value);
    const copy = new Uint8Array(value.length + 3);
    assert.equal(heap.copyInto(handle, copy, 3), value.length + 3);
    assert.equal(Buffer.from(copy.subarray(3)).toString("latin1"), value);
  }
}

function usedBytesOf(model: Map<number, string>): number {
  let used = 0;
  for (const value of model.values()) used += CELL_SIZES.find((size) => size >= value.length + 4)!;
  return used;
}

Deno.test("the value heap holds every live value byte for byte through random stores, frees and resizes", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = new SeededRandom(seed);
    const heap = new ValueHeap();
    const model = new Map<number, string>();
    for (let step = 0; step < 3000; step++) {
      const roll = random.next();
      const handles = [...model.keys()];
      if (roll < 0.5 || handles.length === 0) {
        const value = random.bytes(randomLength(random));
        const handle = random.next() < 0.5
          ? heap.storeString(value)
          : heap.storeBytes(Buffer.from(`xx${value}y`, "latin1"), 2, 2 + value.length);
        assert.ok(handle >= 0 && handle < 2 ** 30, `seed ${seed}: a handle is a small integer`);
        assert.ok(!model.has(handle), `seed ${seed}: a live handle is not given out twice`);
        model.set(handle, value);
      } else {
        const handle = random.pick(handles);
        heap.free(handle);
        model.delete(handle);
        if (roll < 0.75) {
          // A resize: the value grows or shrinks into a new cell.
          const value = random.bytes(randomLength(random));
          model.set(heap.storeString(value), value);
        }
      }
    }
    assertHolds(heap, model);
    assert.equal(heap.stats().usedBytes, usedBytesOf(model), `seed ${seed}`);
  }
});

Deno.test("the value heap reuses freed cells before it takes a new slab", () => {
  const heap = new ValueHeap();
  const handles = Array.from({ length: 1000 }, (_, i) => heap.storeString(`value-${i}`));
  const slabBytes = heap.stats().slabBytes;
  const freed = new Set(handles.slice(0, 500));
  for (const handle of freed) heap.free(handle);
  for (let i = 0; i < 500; i++) assert.ok(freed.has(heap.storeString(`again-${i}`)));
  assert.equal(heap.stats().slabBytes, slabBytes);
});

Deno.test("the value heap releases a slab whose last value is freed unless it is its size class's only one", () => {
  const heap = new ValueHeap();
  const cellsPerSlab = SLAB_BYTES / 64;
  const handles = Array.from({ length: cellsPerSlab + 1 }, () => heap.storeString("x".repeat(60)));
  assert.equal(heap.stats().slabs, 2);
  heap.free(handles.pop()!);
  assert.equal(heap.stats().slabs, 1, "the second slab, empty, is released");
  for (const handle of handles) heap.free(handle);
  assert.equal(heap.stats().slabs, 1, "the class keeps one slab");
  assert.equal(heap.stats().usedBytes, 0);
});

Deno.test("the value heap refuses a value longer than its largest cell and stores one that fits", () => {
  const heap = new ValueHeap();
  assert.equal(heap.storeString("a".repeat(MAX_HEAP_VALUE_BYTES + 1)), -1);
  const handle = heap.storeString("a".repeat(MAX_HEAP_VALUE_BYTES));
  assert.equal(heap.length(handle), MAX_HEAP_VALUE_BYTES);
});

Deno.test("the value heap refuses a value when its slab limit is reached", () => {
  const heap = new ValueHeap(1);
  heap.storeString("short");
  assert.equal(heap.storeString("x".repeat(1000)), -1, "another size class needs a second slab");
});

Deno.test("compaction moves every value out of sparse slabs, keeps each byte for byte and frees the slabs", () => {
  for (const seed of [11, 12, 13]) {
    const random = new SeededRandom(seed);
    const heap = new ValueHeap();
    let model = new Map<number, string>();
    // Two size classes (64- and 72-byte cells), several slabs each.
    for (let i = 0; i < 100_000; i++) {
      const value = random.bytes(60 + random.below(8));
      model.set(heap.storeString(value), value);
    }
    // Free nine in ten, at random: every slab is left sparse.
    for (const handle of [...model.keys()]) {
      if (random.next() < 0.9) {
        heap.free(handle);
        model.delete(handle);
      }
    }
    const before = heap.stats();
    assert.ok(heap.planCompaction() > 0, `seed ${seed}: sparse slabs are marked`);
    const moved = new Map<number, string>();
    for (const [handle, value] of model) {
      moved.set(heap.isEvacuating(handle) ? heap.relocate(handle) : handle, value);
    }
    model = moved;
    const after = heap.stats();
    assert.equal(after.evacuatingSlabs, 0, `seed ${seed}: every marked slab emptied`);
    assert.ok(after.slabs < before.slabs, `seed ${seed}: ${after.slabs} < ${before.slabs} slabs`);
    assert.ok(after.fragmentationRatio < before.fragmentationRatio, `seed ${seed}`);
    assert.equal(after.usedBytes, usedBytesOf(model));
    assertHolds(heap, model);
    // New values go to the slabs that are left, and the freed slab numbers are reused.
    for (let i = 0; i < 1000; i++) {
      const value = random.bytes(random.below(120));
      model.set(heap.storeString(value), value);
    }
    assertHolds(heap, model);
  }
});

Deno.test("compaction marks no slab whose values would not fit elsewhere in its class", () => {
  const heap = new ValueHeap();
  heap.storeString("only");
  assert.equal(heap.planCompaction(), 0);
});
