/**
 * The store's own form of an entry, and the two ways out of it: a change (an entry of its own)
 * and the entry its readers see (the value decoded from the value heap). Pure.
 */

import type { Entry } from "./entry.ts";
import type { CounterState } from "./counter.ts";
import type { Causality } from "./causality.ts";
import { assert } from "../assert.ts";
import { hlcToMs } from "./hlc.ts";
import type { ValueHeap } from "./value_heap.ts";

/**
 * An entry as held by the store: one object per key, updated in place when the key is written
 * again. Five fields and nothing derived, because there is one per key; built as an object
 * literal, which V8 lays out tighter than a class instance (measured: about 50 bytes less per
 * key; see docs/performance.md, Memory). Updating in place, rather than replacing the object,
 * leaves the garbage collector only the new value to move per overwrite: the entry and the box V8
 * keeps its version number in stay where they are (see docs/performance.md). What write() and the
 * merge hand out as the change is a copy, so that a change held by the log or the outbox never
 * changes under it. The value is a handle into the store's ValueHeap (a small integer), or a
 * string when the heap does not take it (longer than MAX_HEAP_VALUE_BYTES, or the heap full),
 * or null for a tombstone (see docs/performance.md, Values outside the heap).
 */
export interface StoredEntry {
  readonly key: string;
  value: string | number | null;
  hlc: number;
  node: string;
  expiresAtMs: number;
}

export function storedEntry(
  key: string,
  value: string | number | null,
  hlc: number,
  node: string,
  expiresAtMs: number,
): StoredEntry {
  return { key, value, hlc, node, expiresAtMs };
}

/** A change as write() hands it out: an entry of its own, value and all. */
export function change(
  key: string,
  value: string | null,
  hlc: number,
  node: string,
  expiresAtMs: number,
  causality?: Causality,
): Entry {
  return causality === undefined
    ? { key, value, hlc, node, expiresAtMs }
    : { key, value, hlc, node, expiresAtMs, causality };
}

/**
 * The entry as the store's readers see it: the stored object itself when its value is a
 * string or a tombstone, else a copy with the value decoded from the heap.
 */
export function publicEntry(entry: StoredEntry, values: ValueHeap): Entry {
  const value = entry.value;
  if (typeof value !== "number") return entry as Entry;
  return {
    key: entry.key,
    value: values.decode(value),
    hlc: entry.hlc,
    node: entry.node,
    expiresAtMs: entry.expiresAtMs,
  };
}

/**
 * The entry as the store compares and keeps it: a tombstone has no expiry (or a second apply
 * would win again), and a store that does not track causality drops it.
 */
export function storedForm(received: Entry, trackCausality: boolean): Entry {
  const dropExpiry = received.value === null && received.expiresAtMs !== 0;
  const dropCausality = received.causality !== undefined && !trackCausality;
  if (!dropExpiry && !dropCausality) return received;
  const copy = { ...received };
  if (dropExpiry) copy.expiresAtMs = 0;
  if (dropCausality) delete copy.causality;
  return copy;
}

/** Purgeable: a tombstone, or an expired entry, past the grace period at `nowMs`. */
export function isPurgeable(entry: StoredEntry, nowMs: number, graceMs: number): boolean {
  if (entry.value === null) return hlcToMs(entry.hlc) + graceMs <= nowMs;
  return entry.expiresAtMs !== 0 && entry.expiresAtMs + graceMs <= nowMs;
}

/** A copy of `entry` with its counter state and causality from the store's side tables. */
export function withSide(
  entry: Entry,
  counter: CounterState | undefined,
  causality: Causality | undefined,
): Entry {
  const copy: Entry = { ...entry };
  if (counter !== undefined) copy.counter = counter;
  if (causality !== undefined) copy.causality = causality;
  return copy;
}

/**
 * Calls `purge` on each entry of `segmentCount` segments from `firstSegment` that `due` says is
 * purgeable; `purge` removes it from its segment's list (moving the last entry into the hole)
 * or keeps it, and says which. Returns how many were removed.
 */
export function purgeSegments(
  segments: readonly (StoredEntry[] | undefined)[],
  firstSegment: number,
  segmentCount: number,
  due: (entry: StoredEntry) => boolean,
  purge: (entry: StoredEntry) => boolean,
): number {
  let purged = 0;
  const end = Math.min(segments.length, firstSegment + segmentCount);
  for (let segment = firstSegment; segment < end; segment++) {
    const entries = segments[segment];
    if (entries === undefined) continue;
    for (let i = entries.length - 1; i >= 0; i--) {
      // A purge moves the segment's last entry, one already visited, into the hole: every
      // index below the one just visited is still taken.
      const entry = entries[i];
      assert(entry !== undefined, "purge() visits only the taken cells of a segment's list");
      if (due(entry) && purge(entry)) purged++;
    }
  }
  return purged;
}
