/**
 * The Merkle tree: a fixed-shape, hash-bucketed tree (as Riak's TicTac AAE; see
 * docs/anti-entropy.md, Merkle tree). A key's segment is chosen by the hash of the key, so a
 * difference in one key changes exactly one segment, one branch and the root, wherever the key
 * sorts.
 *
 *   root  = XOR of the BRANCH_COUNT branch hashes
 *   branch b = XOR of its SEGMENTS_PER_BRANCH segment hashes
 *   segment s = XOR of the entry hashes of the keys in s
 *
 * XOR makes every update O(1): toggling an entry's hash in and out of its segment, branch and
 * root costs three XORs per lane, and the result does not depend on the order of writes.
 */

export const BRANCH_COUNT = 256;
export const SEGMENTS_PER_BRANCH = 256;
export const SEGMENT_COUNT = BRANCH_COUNT * SEGMENTS_PER_BRANCH;
/** A key hash's top 16 bits pick its segment; the top 8 of those pick its branch. */
export const SEGMENT_SHIFT = 32 - 16;

export function segmentOfKeyHash(keyHashHigh: number): number {
  return keyHashHigh >>> SEGMENT_SHIFT;
}

/**
 * A segment's keys fall into SUB_BUCKETS sub-buckets by the next 4 bits of the key hash. The
 * tree keeps no hashes for them: anti-entropy computes them for a crowded segment that differs,
 * so that only the keys of the sub-buckets that differ are compared (see docs/anti-entropy.md,
 * Session rounds).
 */
export const SUB_BUCKETS = 16;
const SUB_BUCKET_SHIFT = SEGMENT_SHIFT - 4;

/** The sub-bucket (0..15) of a key hash within its segment. */
export function subBucketOfKeyHash(keyHashHigh: number): number {
  return (keyHashHigh >>> SUB_BUCKET_SHIFT) & (SUB_BUCKETS - 1);
}

export function branchOfSegment(segment: number): number {
  return segment >>> 8;
}

export class MerkleTree {
  readonly segmentLow = new Int32Array(SEGMENT_COUNT);
  readonly segmentHigh = new Int32Array(SEGMENT_COUNT);
  readonly branchLow = new Int32Array(BRANCH_COUNT);
  readonly branchHigh = new Int32Array(BRANCH_COUNT);
  rootLow = 0;
  rootHigh = 0;

  /**
   * Adds an entry hash to a segment, or removes it (XOR is its own inverse). `segment` comes
   * from segmentOfKeyHash (16 bits: below SEGMENT_COUNT), so both indexes are in the arrays;
   * this runs on every write, unchecked.
   */
  toggle(segment: number, low: number, high: number): void {
    const branch = branchOfSegment(segment);
    this.segmentLow[segment]! ^= low;
    this.segmentHigh[segment]! ^= high;
    this.branchLow[branch]! ^= low;
    this.branchHigh[branch]! ^= high;
    this.rootLow ^= low;
    this.rootHigh ^= high;
  }

  clear(): void {
    this.segmentLow.fill(0);
    this.segmentHigh.fill(0);
    this.branchLow.fill(0);
    this.branchHigh.fill(0);
    this.rootLow = 0;
    this.rootHigh = 0;
  }
}
