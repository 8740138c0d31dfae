/**
 * The shape of `GET /status.json` (see docs/observability.md, Status page), and the one rule
 * the page shows on top: the cluster has converged when every peer root this node knows equals
 * its own. Pure: the node fills the report, the listener serialises it.
 */

/** Where a node is in its life: loading its data, serving clients, or closing. */
export type NodePhase = "recovering" | "serving" | "closing";

export interface StatusReport {
  node_id: string;
  version: string;
  phase: NodePhase;
  /** The node's wall clock when the report was made (Unix ms); the page's rates divide by it. */
  time_ms: number;
  uptime_seconds: number;
  memory: { rss_bytes: number; heap_used_bytes: number; heap_total_bytes: number };
  /** The fields below are null while the node recovers (its store is not serving yet). */
  keys: number | null;
  tombstones: number | null;
  /** Requests run since start (every kind; a counter: the page turns it into commands/s). */
  commands_processed: number | null;
  /** Open connections on the client port (clients and peers). */
  connections: number | null;
  /** This node's Merkle root, in hex (as INFO merkle_root). */
  merkle_root: string | null;
  /** null when replication is off (no mqtt_broker_address). */
  replication: ReplicationStatus | null;
  /** null when anti-entropy is off or the node is not serving yet. */
  anti_entropy: AntiEntropyStatus | null;
  convergence: Convergence | null;
}

export interface ReplicationStatus {
  broker_address: string;
  /** The MQTT transport's state: connected, connecting, disconnected, ... */
  state: string;
  connected: boolean;
  /** Local clock at apply minus the change's HLC time: the last batch, average, largest. */
  lag_ms: number;
  lag_avg_ms: number;
  lag_max_ms: number;
  /** Changes waiting to be published (bounded by replication.max_outbox_changes). */
  outbox_changes: number;
  published: number;
  applied: number;
}

export interface AntiEntropyStatus {
  interval_ms: number;
  /** "idle" or "running <host:port>". */
  session: string;
  sessions_ok: number;
  sessions_failed: number;
  /** At most MAX_TRACKED_PEERS (64), the least recently synced first. */
  peers: PeerStatus[];
}

export interface PeerStatus {
  address: string;
  node_id: string | null;
  /** The peer's root as its last HELLO reply gave it; null before any came. */
  merkle_root: string | null;
  /** When that root was seen (Unix ms). */
  root_seen_at_ms: number | null;
  /** Whether that root equals this node's root now. */
  in_step: boolean;
  last_sync_at_ms: number;
  last_outcome: "ok" | "error";
  last_error: string | null;
  last_ok_at_ms: number | null;
}

export interface Convergence {
  /** Every known peer root equals this node's root (true when none is known yet). */
  converged: boolean;
  roots_known: number;
  roots_differing: number;
}

/** Whether the peer roots this node knows equal its own. */
export function convergence(ownRoot: string, peers: readonly PeerStatus[]): Convergence {
  let known = 0;
  let differing = 0;
  for (const peer of peers) {
    if (peer.merkle_root === null) continue;
    known++;
    if (peer.merkle_root !== ownRoot) differing++;
  }
  return { converged: differing === 0, roots_known: known, roots_differing: differing };
}
