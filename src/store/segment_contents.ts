/** One segment's entries and sub-bucket hashes, as Store.segmentContents gives them. Pure. */

import type { Entry } from "./entry.ts";
import type { Lanes } from "./hash.ts";
import { SUB_BUCKETS, subBucketOfKeyHash } from "./merkle.ts";
import type { SegmentContents } from "./store_types.ts";

/**
 * The public form of the entry in each slot, the sub-bucket of each, and the hash of every
 * sub-bucket (the XOR of its entries' hashes, as the tree hashes a segment).
 */
export function segmentContents(
  stored: readonly number[],
  publicOf: (slot: number) => Entry,
  keyHashOf: (slot: number) => Lanes,
  entryHashOf: (slot: number, keyLow: number, keyHigh: number) => Lanes,
): SegmentContents {
  const entries: Entry[] = stored.map(publicOf);
  const subBuckets = new Uint8Array(entries.length);
  const low = new Int32Array(SUB_BUCKETS);
  const high = new Int32Array(SUB_BUCKETS);
  for (const [i, slot] of stored.entries()) {
    const keyHash = keyHashOf(slot);
    const keyLow = keyHash[0];
    const keyHigh = keyHash[1];
    const subBucket = subBucketOfKeyHash(keyHigh);
    subBuckets[i] = subBucket;
    const hash = entryHashOf(slot, keyLow, keyHigh);
    // subBucketOfKeyHash masks to 0..SUB_BUCKETS-1, the length of both arrays.
    low[subBucket]! ^= hash[0];
    high[subBucket]! ^= hash[1];
  }
  return { entries, subBuckets, hashes: { low, high } };
}
