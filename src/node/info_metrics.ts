/**
 * How INFO fields become Prometheus metrics (see docs/observability.md, "INFO and metrics"):
 * every INFO field is read by a row here or named in INFO_WITHOUT_METRIC with the reason.
 * Pure data and one pure function.
 */

import type { Labels, MetricFamily, Sample } from "../http/mod.ts";

type InfoValue = string | number;

export interface InfoMetric {
  readonly name: string;
  readonly type: "counter" | "gauge";
  readonly help: string;
  /** The INFO field read. */
  readonly field: string;
  readonly labels?: Labels;
  /** Turns the field (and the others, for derived values) into the sample's value. */
  readonly read?: (value: InfoValue, fields: ReadonlyMap<string, InfoValue>) => number;
}

const MS = (value: InfoValue) => Number(value) / 1_000;
const US = (value: InfoValue) => Number(value) / 1_000_000;

function gauge(field: string, name: string, help: string, read?: InfoMetric["read"]): InfoMetric {
  return read === undefined
    ? { name: `merklekv_${name}`, type: "gauge", help, field }
    : { name: `merklekv_${name}`, type: "gauge", help, field, read };
}

function counter(field: string, name: string, help: string, labels?: Labels): InfoMetric {
  const metric: InfoMetric = { name: `merklekv_${name}`, type: "counter", help, field };
  return labels === undefined ? metric : { ...metric, labels };
}

export const INFO_METRICS: readonly InfoMetric[] = [
  gauge("keys", "keys", "Live keys (not deleted, not expired)"),
  gauge("entries", "entries", "Entries held: live keys, tombstones and expired keys not purged"),
  gauge("tombstones", "tombstones", "Deleted keys kept as tombstones until purged"),
  // Not "counter_keys": a metric name must not contain a metric type (promtool).
  gauge("counter_keys", "counted_keys", "Keys held as counters (INC/DEC), with their sums"),
  counter(
    "conflicts_detected",
    "conflicts_detected_total",
    "Pairs of concurrent versions (winner, loser) merges found (conflicts mode record)",
  ),
  gauge("siblings_held", "siblings_held_keys", "Keys holding siblings (conflicts mode siblings)"),
  gauge("connections", "connected_clients", "Open client and peer connections on the client port"),
  gauge("memory_rss_bytes", "memory_rss_bytes", "Resident set size of the process"),
  gauge("memory_heap_used_bytes", "memory_heap_used_bytes", "V8 heap in use"),
  // The value heap: stored values outside the V8 heap (see docs/performance.md).
  gauge("value_heap_slab_bytes", "value_heap_slab_bytes", "Bytes of the value heap's slabs"),
  gauge("value_heap_used_bytes", "value_heap_used_bytes", "Bytes of value heap cells in use"),
  gauge(
    "value_heap_fragmentation_ratio",
    "value_heap_fragmentation_ratio",
    "Share of the value heap's slab bytes not holding values",
  ),
  gauge(
    "value_heap_evacuating_slabs",
    "value_heap_evacuating_slabs",
    "Value heap slabs that compaction is emptying",
  ),
  counter(
    "auth_failures",
    "auth_failures_total",
    "AUTH attempts and HTTP Basic credentials refused",
  ),
  counter(
    "tls_handshake_failures",
    "tls_handshake_failures_total",
    "TLS handshakes on the client port that failed or timed out",
  ),
  // Live configuration (see docs/operations.md).
  counter(
    "config_reloads",
    "config_reloads_total",
    "Config reloads applied (SIGHUP, CONFIG RELOAD)",
  ),
  counter("config_reload_failures", "config_reload_failures_total", "Config reloads refused"),
  gauge(
    "config_last_reload",
    "config_last_reload_timestamp_seconds",
    "When the config was last reloaded (Unix time; 0: never)",
    MS,
  ),
  // Conflicts (see docs/consistency.md, Record mode and Mode agreement).
  gauge(
    "conflict_log_entries",
    "conflict_log_entries",
    "Records in the conflict log (record mode)",
  ),
  counter(
    "conflicts_mode_mismatches",
    "conflicts_mode_mismatches_total",
    "Announcements, change batches and sync sessions refused: the peer runs another conflicts.mode",
  ),
  // Persistence (present when data_dir is set).
  counter("persistence_write_failures", "persistence_write_errors_total", "Log writes that failed"),
  gauge("persistence_unlogged_entries", "persistence_unlogged_entries", "Changes not in the log"),
  counter("persistence_fsyncs", "persistence_fsyncs_total", "fsync calls on the log"),
  gauge(
    "persistence_last_fsync_unix_ms",
    "persistence_last_fsync_timestamp_seconds",
    "When the log was last fsynced (Unix time)",
    MS,
  ),
  gauge("persistence_fsync_on_loop", "persistence_fsync_on_loop", "1 when fsync may run on loop"),
  counter("persistence_fsyncs_on_loop", "persistence_fsyncs_on_loop_total", "fsyncs on the loop"),
  gauge(
    "persistence_last_on_loop_fsync_us",
    "persistence_last_on_loop_fsync_seconds",
    "How long the last fsync run on the event loop took",
    US,
  ),
  gauge("persistence_pending_bytes", "persistence_pending_bytes", "Log bytes not yet written"),
  gauge("persistence_log_bytes", "persistence_log_bytes", "Size of the log files"),
  gauge("persistence_log_segment", "persistence_log_segment", "Sequence number of the log file"),
  gauge(
    "persistence_snapshot_in_progress",
    "persistence_snapshot_in_progress",
    "1 while a snapshot is written",
  ),
  counter("persistence_snapshots", "persistence_snapshots_total", "Snapshots written"),
  gauge(
    "persistence_last_snapshot_unix_ms",
    "persistence_last_snapshot_timestamp_seconds",
    "When the last snapshot was written (Unix time; 0: never)",
    MS,
  ),
  gauge(
    "persistence_last_snapshot_entries",
    "persistence_last_snapshot_entries",
    "Entries in the last snapshot",
  ),
  gauge(
    "persistence_last_snapshot_bytes",
    "persistence_last_snapshot_bytes",
    "Size of the last snapshot",
  ),
  gauge(
    "persistence_last_snapshot_duration_ms",
    "persistence_last_snapshot_duration_seconds",
    "How long the last snapshot took",
    MS,
  ),
  gauge(
    "persistence_recovery_ms",
    "persistence_recovery_duration_seconds",
    "How long loading the data directory took at start",
    MS,
  ),
  gauge(
    "persistence_recovered_entries",
    "persistence_recovered_entries",
    "Entries read from the data directory at start",
  ),
  gauge("persistence_tail_cuts", "persistence_tail_cuts", "Log files cut at a torn tail at start"),
  // Replication (present when mqtt_broker_address is set).
  gauge(
    "replication_broker",
    "replication_connected",
    "1 when connected to the MQTT broker",
    (value) => value === "connected" ? 1 : 0,
  ),
  counter("replication_connections", "replication_connections_total", "Broker connections made"),
  gauge("replication_outbox_changes", "replication_outbox_changes", "Changes waiting to publish"),
  counter(
    "replication_outbox_dropped",
    "replication_outbox_dropped_total",
    "Changes dropped from a full outbox",
  ),
  gauge(
    "replication_inflight_messages",
    "replication_inflight_messages",
    "Messages sent, not acknowledged",
  ),
  counter("replication_events_published", "replication_published_total", "Changes published"),
  counter("replication_events_applied", "replication_applied_total", "Remote changes applied"),
  counter(
    "replication_events_ignored",
    "replication_ignored_total",
    "Remote changes older than the local version, or this node's own",
  ),
  {
    name: "merklekv_replication_rejected_total",
    type: "counter",
    help: "Remote changes refused, by reason",
    field: "replication_events_rejected",
    labels: { reason: "clock_skew" },
    // A malformed message counts as one rejected event (see replicator.ts #malformed).
    read: (value, fields) => Number(value) - Number(fields.get("replication_messages_malformed")),
  },
  counter(
    "replication_messages_malformed",
    "replication_rejected_total",
    "Remote changes refused, by reason",
    { reason: "malformed" },
  ),
  counter(
    "replication_messages_published",
    "replication_messages_published_total",
    "MQTT messages published",
  ),
  counter(
    "replication_messages_received",
    "replication_messages_received_total",
    "MQTT messages received",
  ),
  counter(
    "replication_messages_duplicate",
    "replication_duplicate_messages_total",
    "MQTT messages received twice",
  ),
  counter(
    "replication_publish_failures",
    "replication_publish_failures_total",
    "Publishes that failed",
  ),
  counter(
    "replication_sequence_gaps",
    "replication_missed_changes_total",
    "Changes missed (sequence gaps)",
  ),
  gauge(
    "replication_lag_ms",
    "replication_lag_last_seconds",
    "Lag of the last applied change",
    MS,
  ),
  gauge(
    "replication_lag_avg_ms",
    "replication_lag_average_seconds",
    "Moving average of the lag",
    MS,
  ),
  gauge("replication_lag_max_ms", "replication_lag_max_seconds", "Largest lag seen", MS),
  gauge("replication_peer_count", "replication_peers", "Nodes announced on the broker"),
  // Signed replication (docs/replication-security.md).
  gauge(
    "replication_signing",
    "replication_signing",
    "1 when batches and announcements are signed",
    (value) => value === "on" ? 1 : 0,
  ),
  gauge("replication_signing_keys", "replication_signing_keys", "Keys in the signing key file"),
  gauge(
    "replication_accept_unsigned",
    "replication_accept_unsigned",
    "1 when unsigned messages are taken",
    (value) => value === "yes" ? 1 : 0,
  ),
  counter(
    "replication_messages_unauthenticated",
    "replication_unauthenticated_messages_total",
    "Messages dropped for a missing or wrong tag",
  ),
  counter(
    "replication_messages_unverified",
    "replication_unverified_messages_total",
    "Signed messages taken unchecked by a node without a key",
  ),
  counter(
    "replication_announcements_stale",
    "replication_stale_announcements_total",
    "Signed announcements older than one seen before",
  ),
  counter(
    "replication_messages_dropped_checking",
    "replication_check_overflow_messages_total",
    "Signed messages dropped while 10,000 were being checked",
  ),
  // Anti-entropy.
  gauge(
    "anti_entropy",
    "anti_entropy_loop_on",
    "1 when the periodic loop runs",
    (value) => value === "on" ? 1 : 0,
  ),
  gauge("anti_entropy_peers", "anti_entropy_peers", "Peers anti-entropy may sync with"),
  // Configuration, but the alert on convergence counts in intervals (deploy/alerts.yml).
  gauge(
    "anti_entropy_interval_ms",
    "anti_entropy_interval_seconds",
    "Time between two sessions of the loop (anti_entropy.interval_ms)",
    MS,
  ),
  gauge(
    "anti_entropy_session",
    "anti_entropy_session_running",
    "1 while a session runs",
    (value) => value === "idle" ? 0 : 1,
  ),
  gauge("anti_entropy_syncs_waiting", "anti_entropy_syncs_waiting", "SYNC commands waiting"),
  counter(
    "anti_entropy_sessions_ok",
    "anti_entropy_sessions_total",
    "Anti-entropy sessions, by result",
    { result: "ok" },
  ),
  counter(
    "anti_entropy_sessions_failed",
    "anti_entropy_sessions_total",
    "Anti-entropy sessions, by result",
    { result: "failed" },
  ),
  counter(
    "anti_entropy_keys_pulled",
    "anti_entropy_keys_repaired_total",
    "Keys repaired by anti-entropy, by direction",
    { direction: "pulled" },
  ),
  counter(
    "anti_entropy_keys_pushed",
    "anti_entropy_keys_repaired_total",
    "Keys repaired by anti-entropy, by direction",
    { direction: "pushed" },
  ),
];

/** INFO fields with no metric of their own, and why (docs/observability.md repeats them). */
export const INFO_WITHOUT_METRIC: Readonly<Record<string, string>> = {
  version: "a label of merklekv_build_info",
  node_id: "a label of merklekv_build_info",
  uptime_seconds: "merklekv_uptime_seconds, measured from process start with sub-second precision",
  commands_processed: "the sum of merklekv_commands_total",
  replication_signing_key_id: "an identifier, not a number: INFO shows which key signs",
  merkle_root: "a hash, not a quantity; as a label it would take unbounded values",
  hlc: "a clock reading, not a quantity",
  persistence: "on/off: whether the merklekv_persistence_* metrics appear",
  tls: "on/off: configuration (tls.cert_file), not state",
  persistence_fsync: "configuration (fsync), not state",
  persistence_status: "the log check of /readyz and /health",
  persistence_error: "free text: the reason of the log check of /readyz and /health",
  persistence_last_snapshot_error: "free text; failures count in the node's log",
  replication: "on/off: whether the merklekv_replication_* metrics appear",
  replication_broker_address: "configuration, not state",
  replication_client_id: "configuration, not state",
  replication_peers: "a list of addresses; merklekv_replication_peers counts them",
  config_file: "configuration, not state",
  conflicts_mode: "configuration (conflicts.mode), not state",
};

/** INFO fields named by a pattern: per-peer lines (their labels would be addresses). */
export const INFO_WITHOUT_METRIC_PREFIXES: Readonly<Record<string, string>> = {
  sync_peer_:
    "one line per peer address: as labels they grow with the peers ever seen; the status page shows them",
};

/** The families the INFO fields give, in table order; a field absent (a part off) is skipped. */
export function infoMetricFamilies(
  fields: readonly (readonly [string, InfoValue])[],
): MetricFamily[] {
  const byField = new Map(fields);
  const families = new Map<
    string,
    { name: string; help: string; type: "counter" | "gauge"; samples: Sample[] }
  >();
  for (const metric of INFO_METRICS) {
    const value = byField.get(metric.field);
    if (value === undefined) continue;
    let family = families.get(metric.name);
    if (family === undefined) {
      family = { name: metric.name, help: metric.help, type: metric.type, samples: [] };
      families.set(metric.name, family);
    }
    const number = metric.read === undefined ? Number(value) : metric.read(value, byField);
    family.samples.push(
      metric.labels === undefined ? { value: number } : { labels: metric.labels, value: number },
    );
  }
  return [...families.values()];
}
