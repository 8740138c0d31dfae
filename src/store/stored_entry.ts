/**
 * The forms of an entry on its way in and out of the store (which holds it as a record by slot, see
 * entry_slots.ts): a change (an entry of its own), the form the merge compares, and the purge
 * of a segment's slots. Pure.
 */

import type { Entry } from "./entry.ts";
import type { CounterState } from "./counter.ts";
import type { Causality } from "./causality.ts";
import type { EntrySlots } from "./entry_slots.ts";
import type { SegmentLists } from "./segment_lists.ts";
import { hlcToMs } from "./hlc.ts";

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

/**
 * Purgeable: a tombstone (`tombstone`, written at `hlc`), or an entry that expired at
 * `expiresAtMs`, past the grace period at `nowMs`.
 */
export function isPurgeable(
  tombstone: boolean,
  hlc: number,
  expiresAtMs: number,
  nowMs: number,
  graceMs: number,
): boolean {
  if (tombstone) return hlcToMs(hlc) + graceMs <= nowMs;
  return expiresAtMs !== 0 && expiresAtMs + graceMs <= nowMs;
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
 * Calls `purge` on each slot of `segmentCount` segments from `firstSegment` that `due` says is
 * purgeable; `purge` removes it from its segment's list or keeps it, and says which. Returns how
 * many were removed.
 */
export function purgeSegments(
  lists: SegmentLists,
  slots: EntrySlots,
  firstSegment: number,
  segmentCount: number,
  due: (slot: number) => boolean,
  purge: (slot: number) => boolean,
): number {
  let purged = 0;
  const end = firstSegment + segmentCount;
  for (let segment = firstSegment; segment < end; segment++) {
    for (let slot = lists.first(segment); slot >= 0;) {
      // Removing a slot from its list leaves the link of the slot after it as it was.
      const next = slots.link(slot);
      if (due(slot) && purge(slot)) purged++;
      slot = next;
    }
  }
  return purged;
}
