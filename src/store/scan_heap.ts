/**
 * The bounded max-heap that Store.scan() keeps the smallest keys in. Pure.
 */

import { assert } from "../assert.ts";

/** The keys of a store's slots, as smallestLiveKeys reads them (see entry_slots.ts). */
export interface ScannedKeys {
  /** One past the highest slot in use. */
  readonly end: number;
  holdsKey(slot: number): boolean;
  /** The key of a slot in use against `text` in byte order; `prefixOnly`: 0 if it starts so. */
  compareKey(slot: number, text: string, prefixOnly?: boolean): number;
  /** The key of a slot in use, as a binary string. */
  key(slot: number): string;
}

/**
 * The keys of `keys` whose slots `isLive` says are live (not tombstones, not expired), that
 * start with `prefix` and sort after `after`, in byte order, at most `limit`. Keys are compared
 * where they are held; only those kept are made strings.
 */
export function smallestLiveKeys(
  keys: ScannedKeys,
  isLive: (slot: number) => boolean,
  prefix: string,
  after: string | null,
  limit: number,
): string[] {
  const heap: string[] = []; // max-heap of the smallest `limit` keys seen
  const end = keys.end;
  for (let slot = 0; slot < end; slot++) {
    if (!keys.holdsKey(slot)) continue;
    if (prefix !== "" && keys.compareKey(slot, prefix, true) !== 0) continue;
    if (after !== null && keys.compareKey(slot, after) <= 0) continue;
    // The heap is full: its top, the largest key kept, is there unless `limit` is 0.
    const largest = heap.length < limit ? undefined : heap[0];
    if (heap.length >= limit && (largest === undefined || keys.compareKey(slot, largest) >= 0)) {
      continue;
    }
    if (!isLive(slot)) continue;
    const key = keys.key(slot);
    if (largest === undefined) heapPush(heap, key);
    else heapReplaceTop(heap, key);
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
