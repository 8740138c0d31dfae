/**
 * The bounded max-heap that Store.scan() keeps the smallest keys in. Pure.
 */

import { assert } from "../assert.ts";

/**
 * The keys of `keys` (by slot; undefined: a free slot) whose slots `isLive` says are live (not
 * tombstones, not expired), that start with `prefix` and sort after `after`, in byte order, at
 * most `limit`.
 */
export function smallestLiveKeys(
  keys: readonly (string | undefined)[],
  isLive: (slot: number) => boolean,
  prefix: string,
  after: string | null,
  limit: number,
): string[] {
  const heap: string[] = []; // max-heap of the smallest `limit` keys seen
  for (let slot = 0; slot < keys.length; slot++) {
    const key = keys[slot];
    if (key === undefined || !key.startsWith(prefix) || (after !== null && key <= after)) {
      continue;
    }
    if (!isLive(slot)) continue;
    if (heap.length < limit) heapPush(heap, key);
    else {
      // The heap is full: its top, the largest key kept, is there unless `limit` is 0.
      const largest = heap[0];
      if (largest !== undefined && key < largest) heapReplaceTop(heap, key);
    }
  }
  return heap.sort();
}

/**
 * Adds `key` to a max-heap: moves each smaller parent down into the hole below it, then puts
 * the key in the last hole.
 */
function heapPush(heap: string[], key: string): void {
  let i = heap.length;
  heap.push(key);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const above = heap[parent];
    assert(above !== undefined, "a heap cell's parent is in the heap");
    if (above >= key) break;
    heap[i] = above;
    i = parent;
  }
  heap[i] = key;
}

/**
 * Replaces the top of a non-empty max-heap with `key`: moves the larger child up into the
 * hole while it is larger than the key, then puts the key in the last hole.
 */
function heapReplaceTop(heap: string[], key: string): void {
  let i = 0;
  for (;;) {
    // A child past the end of the heap reads as undefined.
    const left = 2 * i + 1;
    const leftKey = heap[left];
    const rightKey = heap[left + 1];
    let largest = i;
    let largestKey = key;
    if (leftKey !== undefined && leftKey > largestKey) {
      largest = left;
      largestKey = leftKey;
    }
    if (rightKey !== undefined && rightKey > largestKey) {
      largest = left + 1;
      largestKey = rightKey;
    }
    if (largest === i) break;
    heap[i] = largestKey;
    i = largest;
  }
  heap[i] = key;
}
