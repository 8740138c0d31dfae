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

/** How a refusal for another mode starts (a sync session's error, an ERROR reply). */
export const MODE_MISMATCH = "conflicts mode mismatch";

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

  /**
   * The mode to state in a sync session's HELLO: none in lww mode, so that nodes older than
   * the field still answer; a stated mode is refused by them (they run lww).
   */
  get statedMode(): string | undefined {
    return this.mode === MODE_WHEN_UNSTATED ? undefined : this.mode;
  }

  /**
   * True when `stated` (null: the peer stated no mode) is this node's mode; else counts and
   * logs, and the caller refuses what the peer sent.
   */
  agrees(peer: string, stated: string | null | undefined, via: "replication" | "sync"): boolean {
    const peerMode = stated ?? MODE_WHEN_UNSTATED;
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

  /** agrees(), as the reason to refuse a peer (null: it agrees). */
  refusal(peer: string, stated: string | null | undefined, via: "replication" | "sync") {
    if (this.agrees(peer, stated, via)) return null;
    return `${MODE_MISMATCH}: ${peer} runs ${stated ?? MODE_WHEN_UNSTATED}, this node runs ` +
      this.mode;
  }
}
