/** The types of the store's options and answers (see store.ts). */

import type { Entry } from "./entry.ts";
import type { Clock } from "./hlc.ts";

export interface StoreOptions {
  nodeId: string;
  clock: Clock;
  /** Tombstones and expired entries are kept this long so that peers learn of them. */
  tombstoneGraceMs: number;
  /**
   * Remote versions further ahead of our wall clock are refused (see docs/consistency.md,
   * Versions).
   */
  maxClockSkewMs: number;
  /**
   * Give every version a version vector and keep the dots of the concurrent versions that lost
   * (conflicts mode record; see causality.ts). Off: entries carry no causality, and any that
   * arrive with one are merged without it, as before causality existed.
   */
  trackCausality?: boolean;
  /**
   * Conflicts mode siblings: track causality, and a concurrent version that loses by LWW keeps
   * its value (a sibling) until a local write supersedes it (see causality.ts).
   */
  keepSiblings?: boolean;
}

/** What Store.segmentContents gives. */
export interface SegmentContents {
  /** In no particular order. */
  entries: Entry[];
  /** The sub-bucket of entries[i], at i. */
  subBuckets: Uint8Array;
  /** The hash of each sub-bucket, in two lanes. */
  hashes: { low: Int32Array; high: Int32Array };
}

/** What applyRemote did with an entry. */
export type ApplyOutcome =
  /** It won the merge and is now the key's entry (or was purged at once as already expired). */
  | "applied"
  /** The local entry is as new or newer; nothing changed. */
  | "stale"
  /** Its version is further in the future than maxClockSkewMs; refused. */
  | "future";

/**
 * One entry as Store.loadBytes reads it from a record's bytes (recovery's fast path): offsets
 * into the bytes, and the fields decoded. The loader fills one such object again per entry.
 */
export interface EntryInBytes {
  keyStart: number;
  keyEnd: number;
  /** -1 for a tombstone. */
  valueStart: number;
  valueEnd: number;
  hlc: number;
  node: string;
  /** 0: none. */
  expiresAtMs: number;
}
