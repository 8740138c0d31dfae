/**
 * `GET /status.json` (see docs/observability.md, Status page): what the status page shows,
 * read from the parts' INFO fields and the anti-entropy peers when asked. Nothing here runs on
 * the request path.
 */

import type { Config } from "../config/mod.ts";
import type { PeerSyncView } from "../anti_entropy/mod.ts";
import {
  type AntiEntropyStatus,
  convergence,
  type NodePhase,
  type PeerStatus,
  type ReplicationStatus,
  type StatusReport,
} from "../http/mod.ts";
import type { InfoField } from "../protocol/mod.ts";
import { type NodeCore, VERSION } from "./core.ts";

type Fields = ReadonlyMap<string, InfoField[1]>;

export interface StatusInput {
  config: Config;
  phase: NodePhase;
  nowMs: number;
  startedAtMs: number;
  /** null while the node recovers. */
  core: NodeCore | null;
}

export function statusReport(input: StatusInput): StatusReport {
  const { config, phase, nowMs, startedAtMs, core } = input;
  const memory = Deno.memoryUsage();
  const report: StatusReport = {
    node_id: config.nodeId,
    version: VERSION,
    phase,
    time_ms: nowMs,
    uptime_seconds: Math.max(0, (nowMs - startedAtMs) / 1000),
    memory: {
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
    },
    keys: null,
    tombstones: null,
    commands_processed: null,
    connections: null,
    merkle_root: null,
    replication: null,
    anti_entropy: null,
    convergence: null,
  };
  if (core === null) return report;
  const fields: Fields = new Map(core.infoFields());
  const root = core.store.rootHex();
  report.keys = number(fields, "keys");
  report.tombstones = number(fields, "tombstones");
  report.commands_processed = number(fields, "commands_processed");
  report.connections = number(fields, "connections");
  report.merkle_root = root;
  if (core.parts.replicator !== null) report.replication = replicationStatus(fields);
  const antiEntropy = core.parts.antiEntropy;
  if (antiEntropy !== null) {
    report.anti_entropy = antiEntropyStatus(fields, antiEntropy.peers(), root);
    report.convergence = convergence(root, report.anti_entropy.peers);
  } else report.convergence = convergence(root, []);
  return report;
}

function number(fields: Fields, name: string): number {
  return Number(fields.get(name) ?? 0);
}

function replicationStatus(fields: Fields): ReplicationStatus {
  const state = String(fields.get("replication_broker") ?? "connecting");
  return {
    broker_address: String(fields.get("replication_broker_address") ?? ""),
    state,
    connected: state === "connected",
    lag_ms: number(fields, "replication_lag_ms"),
    lag_avg_ms: number(fields, "replication_lag_avg_ms"),
    lag_max_ms: number(fields, "replication_lag_max_ms"),
    outbox_changes: number(fields, "replication_outbox_changes"),
    published: number(fields, "replication_events_published"),
    applied: number(fields, "replication_events_applied"),
  };
}

function antiEntropyStatus(
  fields: Fields,
  peers: readonly PeerSyncView[],
  ownRoot: string,
): AntiEntropyStatus {
  return {
    interval_ms: number(fields, "anti_entropy_interval_ms"),
    session: String(fields.get("anti_entropy_session") ?? "idle"),
    sessions_ok: number(fields, "anti_entropy_sessions_ok"),
    sessions_failed: number(fields, "anti_entropy_sessions_failed"),
    peers: peers.map((peer): PeerStatus => ({
      address: peer.address,
      node_id: peer.nodeId,
      merkle_root: peer.rootHex,
      root_seen_at_ms: peer.rootSeenAtMs,
      in_step: peer.rootHex === ownRoot,
      last_sync_at_ms: peer.lastSessionAtMs,
      last_outcome: peer.lastOutcome,
      last_error: peer.lastError,
      last_ok_at_ms: peer.lastOkAtMs,
    })),
  };
}
