/**
 * Sub-buckets of a crowded segment (see docs/anti-entropy.md, Session rounds): which differ between
 * two sides, and the entries of those. Pure.
 */

import { type Entry, type SegmentContents, SUB_BUCKETS } from "../store/mod.ts";
import type { HashList } from "./codec.ts";
import { assert } from "../assert.ts";

/** The sub-buckets whose hashes differ, as a bit mask (bit b for sub-bucket b). */
export function differingSubBuckets(ours: HashList, theirs: HashList): number {
  let differing = 0;
  for (let b = 0; b < SUB_BUCKETS; b++) {
    if (ours.low[b] !== theirs.low[b] || ours.high[b] !== theirs.high[b]) differing |= 1 << b;
  }
  return differing;
}

/** The entries of a segment that fall in the sub-buckets of `listed`. */
export function entriesListed(contents: SegmentContents, listed: number): Entry[] {
  const entries: Entry[] = [];
  for (const [i, subBucket] of contents.subBuckets.entries()) {
    if (!((listed >>> subBucket) & 1)) continue;
    const entry = contents.entries[i];
    assert(entry !== undefined, "a segment's contents give a sub-bucket per entry");
    entries.push(entry);
  }
  return entries;
}
