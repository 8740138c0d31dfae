/**
 * What INFO and the status page show about anti-entropy: totals and the last session with each
 * peer, with the peer's Merkle root as last seen (see docs/anti-entropy.md, INFO fields, and
 * docs/observability.md, Status page). Pure and bounded (MAX_TRACKED_PEERS peers, the oldest
 * forgotten first).
 */

import type { InfoField } from "../protocol/mod.ts";
import { MAX_TRACKED_PEERS } from "./limits.ts";
import type { SessionSummary } from "./session.ts";

/** One finished session, as the peer link reports it. */
export interface SessionReport {
  /** "host:port" of the peer. */
  address: string;
  /** Wall-clock time the session started (Unix ms). */
  startedAtMs: number;
  durationMs: number;
  summary: SessionSummary;
  /** Why it failed; null when it succeeded. */
  error: string | null;
}

export interface LoopState {
  loopOn: boolean;
  intervalMs: number;
  /** Address of the peer of the running session, or null. */
  runningWith: string | null;
  knownPeers: number;
  /** Operator SYNC commands waiting for their turn. */
  syncsWaiting: number;
}

/** One peer as the status page shows it. */
export interface PeerSyncView {
  /** "host:port" of the peer. */
  address: string;
  /** The node id its last HELLO reply gave; null before any. */
  nodeId: string | null;
  /** Its Merkle root as last seen in a HELLO reply, and when (Unix ms); null before any. */
  rootHex: string | null;
  rootSeenAtMs: number | null;
  /** When the last session with it started (Unix ms), and how it ended. */
  lastSessionAtMs: number;
  lastOutcome: "ok" | "error";
  lastError: string | null;
  /** When the last session that succeeded started (Unix ms); null before any. */
  lastOkAtMs: number | null;
  /**
   * Since when (Unix ms, a session's start) every session that succeeded with this peer had
   * something to repair; null when the last one found nothing (see isInStep()).
   */
  divergedSinceMs: number | null;
}

interface PeerRecord {
  report: SessionReport;
  rootHex: string | null;
  rootSeenAtMs: number | null;
  nodeId: string | null;
  lastOkAtMs: number | null;
  divergedSinceMs: number | null;
}

/**
 * A session that finished and found nothing to move, drop or refuse: the two nodes held the
 * same entries when it ran. Writes replication delivers in the meantime are not repairs, so a
 * steady stream of replicated writes still leaves sessions in step.
 */
export function isInStep(report: SessionReport): boolean {
  const { summary } = report;
  return report.error === null && summary.complete &&
    summary.pulled + summary.pushed + summary.discarded + summary.refused === 0;
}

export class SyncStatus {
  sessionsOk = 0;
  sessionsFailed = 0;
  keysPulled = 0;
  keysPushed = 0;
  readonly #last = new Map<string, PeerRecord>();

  record(report: SessionReport): void {
    if (report.error === null) this.sessionsOk++;
    else this.sessionsFailed++;
    this.keysPulled += report.summary.pulled;
    this.keysPushed += report.summary.pushed;
    const before = this.#last.get(report.address);
    const { peerRootHex, peerNodeId } = report.summary;
    // A session that failed before HELLO came back keeps what the earlier one saw.
    const record: PeerRecord = peerRootHex === null && before !== undefined
      ? { ...before, report }
      : {
        report,
        rootHex: peerRootHex,
        rootSeenAtMs: report.startedAtMs,
        nodeId: peerNodeId,
        lastOkAtMs: before?.lastOkAtMs ?? null,
        divergedSinceMs: before?.divergedSinceMs ?? null,
      };
    if (report.error === null) {
      record.lastOkAtMs = report.startedAtMs;
      // A failed session says nothing of the data: divergence is judged by finished ones.
      if (isInStep(report)) record.divergedSinceMs = null;
      else record.divergedSinceMs ??= report.startedAtMs;
    }
    this.#last.delete(report.address);
    this.#last.set(report.address, record);
    if (this.#last.size > MAX_TRACKED_PEERS) {
      this.#last.delete(this.#last.keys().next().value as string);
    }
  }

  last(address: string): SessionReport | undefined {
    return this.#last.get(address)?.report;
  }

  /** The tracked peers, least recently synced first. */
  peers(): PeerSyncView[] {
    return [...this.#last.values()].map((record) => ({
      address: record.report.address,
      nodeId: record.nodeId,
      rootHex: record.rootHex,
      rootSeenAtMs: record.rootHex === null ? null : record.rootSeenAtMs,
      lastSessionAtMs: record.report.startedAtMs,
      lastOutcome: record.report.error === null ? "ok" : "error",
      lastError: record.report.error,
      lastOkAtMs: record.lastOkAtMs,
      divergedSinceMs: record.divergedSinceMs,
    }));
  }

  infoFields(state: LoopState): InfoField[] {
    const fields: InfoField[] = [
      ["anti_entropy", state.loopOn ? "on" : "off"],
      ["anti_entropy_interval_ms", state.intervalMs],
      ["anti_entropy_peers", state.knownPeers],
      [
        "anti_entropy_session",
        state.runningWith === null ? "idle" : `running ${state.runningWith}`,
      ],
      ["anti_entropy_syncs_waiting", state.syncsWaiting],
      ["anti_entropy_sessions_ok", this.sessionsOk],
      ["anti_entropy_sessions_failed", this.sessionsFailed],
      ["anti_entropy_keys_pulled", this.keysPulled],
      ["anti_entropy_keys_pushed", this.keysPushed],
    ];
    for (const { report } of this.#last.values()) {
      fields.push([peerFieldName(report.address), describeSession(report)]);
    }
    return fields;
  }
}

/** `sync_peer_<host>_<port>`: INFO names hold no colon, so the address's characters are mapped. */
export function peerFieldName(address: string): string {
  return "sync_peer_" + address.replace(/[^A-Za-z0-9.-]/g, "_");
}

/** `at=<ISO time> outcome=ok|error pulled=n pushed=n repaired=n ms=n [peer=id] [error=why]`. */
export function describeSession(report: SessionReport): string {
  const { summary } = report;
  let text = `at=${new Date(report.startedAtMs).toISOString()}` +
    ` outcome=${report.error === null ? "ok" : "error"}` +
    ` pulled=${summary.pulled} pushed=${summary.pushed}` +
    ` repaired=${summary.pulled + summary.pushed} ms=${Math.round(report.durationMs)}`;
  if (summary.peerNodeId !== null) text += ` peer=${summary.peerNodeId}`;
  if (report.error !== null) text += ` error=${report.error}`;
  return text;
}

/** The OK line of `SYNC <host> <port>` for a session that succeeded, without its line end. */
export function describeOutcome(report: SessionReport): string {
  const s = report.summary;
  return `OK pulled=${s.pulled} pushed=${s.pushed} rounds=${s.rounds} tree_bytes=${s.treeBytes}` +
    ` entry_bytes=${s.entryBytes} value_bytes=${s.valueBytes} ms=${Math.round(report.durationMs)}` +
    ` complete=${s.complete ? 1 : 0} refused=${s.refused} discarded=${s.discarded}` +
    ` peer=${s.peerNodeId}`;
}
