/**
 * conflicts.mode must be the same on every node (see docs/consistency.md, Mode agreement):
 * replication and anti-entropy ask here before they merge a peer's changes. A mismatch is
 * counted and logged as `conflicts_mode_mismatch`, at most once per WARNING_INTERVAL_MS for
 * each peer (and at debug level in between); the node goes on serving its clients.
 */

import type { Logger } from "../log.ts";

/** A repeated mismatch with one peer is logged at most this often. */
export const MODE_MISMATCH_WARNING_INTERVAL_MS = 10_000;
/** Peers whose last warning time is remembered; the oldest is forgotten past this. */
const MAX_WARNED_PEERS = 1024;

/** What a peer that states no mode is taken to run: nodes before the field were all lww. */
export const MODE_WHEN_UNSTATED = "lww";

export class ModeAgreement {
  readonly mode: string;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #lastWarningMs = new Map<string, number>();
  /** Announcements, batches and sync sessions refused for another mode. */
  mismatches = 0;

  constructor(mode: string, log: Logger, nowMs: () => number) {
    this.mode = mode;
    this.#log = log;
    this.#nowMs = nowMs;
  }

  /** True when `peerMode` is this node's; else counts and logs, and the caller refuses. */
  agrees(peer: string, peerMode: string, via: "replication" | "sync"): boolean {
    if (peerMode === this.mode) return true;
    this.mismatches++;
    const fields = { peer, via, peer_mode: peerMode, local_mode: this.mode };
    const nowMs = this.#nowMs();
    const last = this.#lastWarningMs.get(peer) ?? -Infinity;
    if (nowMs - last < MODE_MISMATCH_WARNING_INTERVAL_MS) {
      this.#log.debug("conflicts_mode_mismatch", fields);
      return false;
    }
    this.#lastWarningMs.delete(peer);
    if (this.#lastWarningMs.size >= MAX_WARNED_PEERS) {
      const oldest = this.#lastWarningMs.keys().next();
      if (oldest.done !== true) this.#lastWarningMs.delete(oldest.value);
    }
    this.#lastWarningMs.set(peer, nowMs);
    this.#log.warn("conflicts_mode_mismatch", fields);
    return false;
  }
}
