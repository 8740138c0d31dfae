/**
 * Every config key, once: its TOML path, Config field, type, allowed values and meaning.
 * Validation, environment variables, command-line flags, the help text and the table of
 * docs/configuration.md are all derived from KEY_SCHEMA; add a key here and nowhere else
 * (besides types.ts and defaults.ts).
 */

import type { Config } from "./types.ts";
import { assert } from "../assert.ts";
import { SECURITY_KEYS, SECURITY_RULES, TLS_KEYS, TLS_RULES } from "./security_keys.ts";
import { LIMIT_KEYS } from "./limit_keys.ts";
import {
  BIND_ADDRESS_RULE,
  BROKER_URL_RULE,
  CLIENT_ID_RULE,
  DAY_MS,
  GIB,
  HOST_PORT_RULE,
  HOUR_MS,
  MQTT_STRING_RULE,
  NODE_ID_RULE,
  PATH_RULE,
  SECOND_MS,
  SET_LINE_OVERHEAD_BYTES,
  TOPIC_PREFIX_RULE,
} from "./rules.ts";

export type ValueType = "string" | "integer" | "boolean" | "string-array" | "enum";

/** A config value after type checking; null only for nullable keys ("unset"). */
export type ConfigValue = string | number | boolean | string[] | null;

type SectionField =
  | "antiEntropy"
  | "auth"
  | "replication"
  | "persistence"
  | "limits"
  | "http"
  | "tls"
  | "conflicts";

/** "bindPort" or "antiEntropy.intervalMs": checked against types.ts by the compiler. */
export type ConfigField =
  | Exclude<keyof Config, SectionField>
  | { [S in SectionField]: `${S}.${keyof Config[S] & string}` }[SectionField];

/** A format a string must have; `expected` completes "must be ...". */
export interface StringRule {
  readonly expected: string;
  /** How the value is shown in --help, e.g. "<host:port>". */
  readonly placeholder: string;
  readonly test: (text: string) => boolean;
}

interface BaseKeySpec {
  /** TOML path: "bind_port" or "anti_entropy.interval_ms". */
  readonly path: string;
  readonly field: ConfigField;
  /** May be unset (null); an empty string in the environment or a flag means unset. */
  readonly nullable: boolean;
  /** Long command-line flags (without "--"); the first is the main one. */
  readonly flags?: readonly string[];
  readonly shortFlag?: string;
  /** Never printed: shown as "***" by --check and in error messages. */
  readonly secret?: boolean;
  /** One line, for --help and docs/configuration.md. */
  readonly description: string;
  /**
   * A running node takes a new value from SIGHUP, CONFIG RELOAD or CONFIG SET (see
   * docs/operations.md, Live configuration); otherwise a change waits for a restart.
   */
  readonly reloadable: boolean;
}

export type KeySpec =
  & BaseKeySpec
  & (
    | { readonly type: "integer"; readonly min: number; readonly max: number }
    | { readonly type: "string"; readonly rule: StringRule }
    | { readonly type: "string-array"; readonly rule: StringRule; readonly maxEntries: number }
    | { readonly type: "boolean" }
    | { readonly type: "enum"; readonly choices: readonly string[] }
  );

/** A rule between keys, checked after all sources are merged. */
export interface CrossKeyRule {
  readonly path: string;
  /** The "must be ..., got ..." text when the rule is broken, else null. */
  readonly problem: (config: Config) => string | null;
}

export const KEY_SCHEMA: readonly KeySpec[] = [
  {
    path: "node_id",
    reloadable: false,
    field: "nodeId",
    type: "string",
    rule: NODE_ID_RULE,
    nullable: false,
    flags: ["node-id"],
    description: "Unique name of this node in the cluster; required in a config file",
  },
  {
    path: "bind_address",
    reloadable: false,
    field: "bindAddress",
    type: "string",
    rule: BIND_ADDRESS_RULE,
    nullable: false,
    flags: ["bind-address"],
    description: "Address the client/peer TCP listener binds to",
  },
  {
    path: "bind_port",
    reloadable: false,
    field: "bindPort",
    type: "integer",
    min: 0,
    max: 65_535,
    nullable: false,
    flags: ["bind-port", "port"],
    shortFlag: "p",
    description: "TCP port for clients and peers; 0 picks any free port",
  },
  {
    path: "mqtt_broker_address",
    reloadable: false,
    field: "mqttBrokerAddress",
    type: "string",
    rule: BROKER_URL_RULE,
    nullable: true,
    flags: ["mqtt-broker-address"],
    description: "MQTT broker for replication (tcp://, mqtt://, mqtts://); unset runs standalone",
  },
  {
    path: "data_dir",
    reloadable: false,
    field: "dataDir",
    type: "string",
    rule: PATH_RULE,
    nullable: true,
    flags: ["data-dir"],
    description: "Directory for the append-only log and snapshots; unset keeps data in memory only",
  },
  {
    path: "fsync",
    reloadable: false,
    field: "fsync",
    type: "enum",
    choices: ["always", "everysec", "no"],
    nullable: false,
    flags: ["fsync"],
    description: "When the log is flushed to disk: after every change, once a second, or never",
  },
  {
    path: "allow_remote_shutdown",
    reloadable: true,
    field: "allowRemoteShutdown",
    type: "boolean",
    nullable: false,
    flags: ["allow-remote-shutdown"],
    description: "Accept SHUTDOWN from non-loopback clients",
  },
  {
    path: "log_level",
    reloadable: true,
    field: "logLevel",
    type: "enum",
    choices: ["debug", "info", "warn", "error"],
    nullable: false,
    flags: ["log-level"],
    description: "Least severe log message printed",
  },
  {
    path: "anti_entropy.interval_ms",
    reloadable: true,
    field: "antiEntropy.intervalMs",
    type: "integer",
    min: 0,
    max: DAY_MS,
    nullable: false,
    description: "Pause between anti-entropy rounds; 0 turns the loop off (SYNC still works)",
  },
  {
    path: "anti_entropy.jitter_ms",
    reloadable: true,
    field: "antiEntropy.jitterMs",
    type: "integer",
    min: 0,
    max: HOUR_MS,
    nullable: false,
    description: "Random 0..jitter_ms added to each pause so nodes do not sync in lockstep",
  },
  {
    path: "anti_entropy.peers",
    reloadable: true,
    field: "antiEntropy.peers",
    type: "string-array",
    rule: HOST_PORT_RULE,
    maxEntries: 1_000,
    nullable: false,
    flags: ["peers"],
    description: 'Client addresses of other nodes to sync with, "host:port"',
  },
  {
    path: "anti_entropy.session_timeout_ms",
    reloadable: true,
    field: "antiEntropy.sessionTimeoutMs",
    type: "integer",
    min: 1,
    max: HOUR_MS,
    nullable: false,
    description: "A sync session not finished after this long is abandoned",
  },
  {
    path: "anti_entropy.request_timeout_ms",
    reloadable: true,
    field: "antiEntropy.requestTimeoutMs",
    type: "integer",
    min: 1,
    max: 10 * 60 * SECOND_MS,
    nullable: false,
    description: "A request to a peer with no reply within this long fails the session",
  },
  {
    path: "anti_entropy.max_keys_per_session",
    reloadable: true,
    field: "antiEntropy.maxKeysPerSession",
    type: "integer",
    min: 1,
    max: 100_000_000,
    nullable: false,
    description: "Keys pulled plus pushed in one session at most; the rest waits for the next",
  },
  {
    path: "anti_entropy.tombstone_grace_ms",
    reloadable: true,
    field: "antiEntropy.tombstoneGraceMs",
    type: "integer",
    min: 1,
    max: 365 * DAY_MS,
    nullable: false,
    description: "Tombstones and expired entries are purged this long after their version",
  },
  {
    path: "anti_entropy.allow_any_sync_target",
    reloadable: true,
    field: "antiEntropy.allowAnySyncTarget",
    type: "boolean",
    nullable: false,
    description: "An operator's SYNC may name any address, not only configured or " +
      "discovered peers",
  },
  {
    path: "anti_entropy.max_queued_syncs",
    reloadable: true,
    field: "antiEntropy.maxQueuedSyncs",
    type: "integer",
    min: 1,
    max: 1_000,
    nullable: false,
    description: "Operator SYNC commands waiting for the running session; more get ERROR",
  },
  ...SECURITY_KEYS,
  {
    path: "replication.topic_prefix",
    reloadable: false,
    field: "replication.topicPrefix",
    type: "string",
    rule: TOPIC_PREFIX_RULE,
    nullable: false,
    description: "MQTT topics used for changes start with this",
  },
  {
    path: "replication.max_pending_publishes",
    reloadable: true,
    field: "replication.maxPendingPublishes",
    type: "integer",
    min: 1,
    max: 10_000_000,
    nullable: false,
    description: "Changes queued while the broker is down; past this the oldest are dropped",
  },
  {
    path: "replication.max_clock_skew_ms",
    reloadable: true,
    field: "replication.maxClockSkewMs",
    type: "integer",
    min: 1,
    max: DAY_MS,
    nullable: false,
    description: "Remote versions further ahead of the local clock than this are rejected",
  },
  {
    path: "replication.username",
    reloadable: false,
    field: "replication.username",
    type: "string",
    rule: MQTT_STRING_RULE,
    nullable: true,
    description: "MQTT user name; unset connects anonymously",
  },
  {
    path: "replication.password",
    reloadable: false,
    field: "replication.password",
    type: "string",
    rule: MQTT_STRING_RULE,
    nullable: true,
    secret: true,
    description: "MQTT password (never printed)",
  },
  {
    path: "replication.ca_file",
    reloadable: false,
    field: "replication.caFile",
    type: "string",
    rule: PATH_RULE,
    nullable: true,
    description: "PEM CA certificate for an mqtts:// broker with a private CA",
  },
  {
    path: "replication.client_id",
    reloadable: false,
    field: "replication.clientId",
    type: "string",
    rule: CLIENT_ID_RULE,
    nullable: true,
    description: 'MQTT client id; unset uses "merklekv-<node_id>"',
  },
  {
    path: "replication.reconnect_min_ms",
    reloadable: false,
    field: "replication.reconnectMinMs",
    type: "integer",
    min: 1,
    max: 10 * 60 * SECOND_MS,
    nullable: false,
    description: "First pause before reconnecting to the broker; doubles up to reconnect_max_ms",
  },
  {
    path: "replication.reconnect_max_ms",
    reloadable: false,
    field: "replication.reconnectMaxMs",
    type: "integer",
    min: 1,
    max: HOUR_MS,
    nullable: false,
    description: "Longest pause between reconnect attempts",
  },
  {
    path: "replication.connect_timeout_ms",
    reloadable: false,
    field: "replication.connectTimeoutMs",
    type: "integer",
    min: 1,
    max: 10 * 60 * SECOND_MS,
    nullable: false,
    description: "A broker connection not established within this long is retried",
  },
  {
    path: "replication.signing_key_file",
    reloadable: false,
    field: "replication.signingKeyFile",
    type: "string",
    rule: PATH_RULE,
    nullable: true,
    description: "Secret keys, one per line (the first signs): batches and announcements signed",
  },
  {
    path: "replication.accept_unsigned",
    reloadable: false,
    field: "replication.acceptUnsigned",
    type: "boolean",
    nullable: false,
    description: "With signing_key_file, also accept unsigned messages (rolling introduction)",
  },
  {
    path: "persistence.log_rewrite_min_bytes",
    reloadable: false,
    field: "persistence.logRewriteMinBytes",
    type: "integer",
    min: 1,
    max: 1024 * GIB,
    nullable: false,
    description: "The log is compacted once past this size and past twice the last snapshot",
  },
  {
    path: "persistence.snapshot_chunk_entries",
    reloadable: false,
    field: "persistence.snapshotChunkEntries",
    type: "integer",
    min: 1,
    max: 10_000_000,
    nullable: false,
    description: "Entries written per slice while a snapshot is made in the background",
  },
  ...LIMIT_KEYS,
  {
    path: "http.bind_address",
    reloadable: false,
    field: "http.bindAddress",
    type: "string",
    rule: BIND_ADDRESS_RULE,
    nullable: false,
    flags: ["http-bind-address"],
    description: "Address the operators' HTTP listener (/metrics, /livez, /readyz) binds to",
  },
  {
    path: "http.port",
    reloadable: false,
    field: "http.port",
    type: "integer",
    min: 0,
    max: 65_535,
    nullable: true,
    flags: ["http-port"],
    description: "Port of the operators' HTTP listener; unset runs none, 0 picks any free port",
  },
  ...TLS_KEYS,
  {
    path: "conflicts.mode",
    reloadable: false,
    field: "conflicts.mode",
    type: "enum",
    choices: ["lww", "record", "siblings"],
    nullable: false,
    description:
      "Concurrent writes: last writer wins (lww), plus a log of losers (record), or all kept (siblings)",
  },
  {
    path: "conflicts.log_max_entries",
    reloadable: true,
    field: "conflicts.logMaxEntries",
    type: "integer",
    min: 1,
    max: 1_000_000,
    nullable: false,
    description: "Records the conflict log keeps (mode = record); the oldest go first",
  },
];

export const CROSS_KEY_RULES: readonly CrossKeyRule[] = [
  ...SECURITY_RULES,
  ...TLS_RULES,
  {
    // The largest SET must fit in one request line.
    path: "limits.max_line_bytes",
    problem: ({ limits }) => {
      const neededBytes = limits.maxValueBytes + limits.maxKeyBytes + SET_LINE_OVERHEAD_BYTES;
      if (limits.maxLineBytes >= neededBytes) return null;
      return `must be >= limits.max_value_bytes + limits.max_key_bytes + ` +
        `${SET_LINE_OVERHEAD_BYTES} = ${neededBytes}, got ${limits.maxLineBytes}`;
    },
  },
  {
    path: "replication.reconnect_min_ms",
    problem: ({ replication }) => {
      if (replication.reconnectMinMs <= replication.reconnectMaxMs) return null;
      return `must be <= replication.reconnect_max_ms = ${replication.reconnectMaxMs}, ` +
        `got ${replication.reconnectMinMs}`;
    },
  },
];

export const KEY_BY_PATH: ReadonlyMap<string, KeySpec> = new Map(
  KEY_SCHEMA.map((spec) => [spec.path, spec]),
);

/** Section names in table order: "anti_entropy", "replication", ... */
export const SECTION_NAMES: readonly string[] = [
  ...new Set(KEY_SCHEMA.flatMap((spec) => sectionOf(spec.path) ?? [])),
];
const ENVIRONMENT_PREFIX = "MERKLEKV_";

/** MERKLEKV_BIND_PORT, MERKLEKV_ANTI_ENTROPY_INTERVAL_MS. */
export function environmentName(spec: KeySpec): string {
  return ENVIRONMENT_PREFIX + spec.path.replace(".", "_").toUpperCase();
}

export function isEnvironmentName(name: string): boolean {
  return name.startsWith(ENVIRONMENT_PREFIX);
}

export const KEY_BY_ENVIRONMENT_NAME: ReadonlyMap<string, KeySpec> = new Map(
  KEY_SCHEMA.map((spec) => [environmentName(spec), spec]),
);

/** "anti_entropy" for "anti_entropy.interval_ms"; null for a top-level key. */
export function sectionOf(path: string): string | null {
  const dot = path.indexOf(".");
  return dot === -1 ? null : path.slice(0, dot);
}

/** A field path split at its dot: ["antiEntropy", "intervalMs"], or ["nodeId", null]. */
function fieldParts(field: string): [string, string | null] {
  const dot = field.indexOf(".");
  return dot === -1 ? [field, null] : [field.slice(0, dot), field.slice(dot + 1)];
}

export function readField(config: Config, spec: KeySpec): ConfigValue {
  const [first, second] = fieldParts(spec.field);
  const record = config as unknown as Record<string, Record<string, ConfigValue>>;
  const value = second === null
    ? record[first] as unknown as ConfigValue | undefined
    : record[first]?.[second];
  assert(value !== undefined, `the config has a field ${spec.field}`);
  return value;
}

/** Sets the field in place; `value` must have passed the spec's checks. */
export function writeField(config: Config, spec: KeySpec, value: ConfigValue): void {
  const [first, second] = fieldParts(spec.field);
  const record = config as unknown as Record<string, Record<string, ConfigValue> | ConfigValue>;
  if (second === null) record[first] = value;
  else (record[first] as Record<string, ConfigValue>)[second] = value;
}
