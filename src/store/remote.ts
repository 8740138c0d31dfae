/**
 * How entries learned from peers (replication and anti-entropy) reach the store: the node
 * merges each one (store.applyRemote, LWW) and logs the ones that won, and says how many of
 * each outcome there were.
 */

import type { Entry } from "./entry.ts";

export interface ApplyCounts {
  applied: number;
  stale: number;
  /** Refused: version too far ahead of this node's clock (replication.max_clock_skew_ms). */
  future: number;
  /** Refused: a key or value a client could not have written here (see valueProblem). */
  invalid: number;
}

/** Merges entries from peers into the store and logs the ones that won. */
export interface RemoteApplier {
  applyRemote(entries: readonly Entry[]): ApplyCounts;
}
