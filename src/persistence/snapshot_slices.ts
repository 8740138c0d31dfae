/**
 * Writing the store into a snapshot file a slice at a time, with the event loop running between
 * slices: used by the compactor (snapshot.<N>) and by SNAPSHOT (backup.<unix-ms>.snapshot).
 */

import { type Entry, SEGMENT_COUNT, type Store } from "../store/mod.ts";
import type { SnapshotWriter } from "./snapshot_file.ts";

/**
 * A slice stops short of maxSliceEntries when encoding and writing it would take longer than
 * this: clients wait at most about this long for one slice.
 */
const SNAPSHOT_SLICE_BUDGET_MS = 5;
const FIRST_SLICE_ENTRIES = 500;
const MIN_SLICE_ENTRIES = 50;

/** Thrown out of writeStoreInSlices when `cancelled()` turns true between slices. */
export class SnapshotCancelled extends Error {}

export interface SliceOptions {
  maxSliceEntries: number;
  cancelled: () => boolean;
  /** Called after each slice with the tree segments done so far (of SEGMENT_COUNT). */
  onSlice?: (treeSegmentsDone: number) => void;
}

/**
 * Writes the store's entries, tree segment by tree segment, in slices: at most maxSliceEntries
 * entries, fewer when a slice would take longer than SNAPSHOT_SLICE_BUDGET_MS to encode and
 * write. A key written between slices appears with the version it has when its slice is taken.
 */
export async function writeStoreInSlices(
  writer: SnapshotWriter,
  store: Store,
  options: SliceOptions,
): Promise<void> {
  const { maxSliceEntries } = options;
  let sliceEntries = Math.min(maxSliceEntries, FIRST_SLICE_ENTRIES);
  /** Estimated ms per entry; a slower slice raises it at once, a faster one halfway. */
  let costMs = 0;
  let treeSegment = 0;
  while (treeSegment < SEGMENT_COUNT) {
    if (options.cancelled()) throw new SnapshotCancelled();
    const startedMs = performance.now();
    const slice: Entry[] = [];
    while (treeSegment < SEGMENT_COUNT && slice.length < sliceEntries) {
      for (const entry of store.segmentEntries(treeSegment)) slice.push(entry);
      treeSegment++;
    }
    writer.writeEntries(slice);
    if (slice.length > 0) {
      const measuredMs = (performance.now() - startedMs) / slice.length;
      costMs = Math.max(measuredMs, (costMs + measuredMs) / 2);
      const fitting = Math.floor(SNAPSHOT_SLICE_BUDGET_MS / Math.max(costMs, 1e-4));
      sliceEntries = Math.max(MIN_SLICE_ENTRIES, Math.min(maxSliceEntries, fitting));
    }
    options.onSlice?.(treeSegment);
    // setTimeout, not setImmediate: Deno runs immediates before polling sockets, so only a
    // timer lets clients' requests in between slices.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}
