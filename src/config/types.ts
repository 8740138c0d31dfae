/**
 * The effective configuration of one node, after defaults, file, environment and flags.
 * TOML keys are the snake_case forms of these names (see docs/configuration.md).
 */

export type FsyncPolicy = "always" | "everysec" | "no";
export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Config {
  /** Unique per cluster; 1..64 bytes of [A-Za-z0-9._-]. Part of every version. */
  nodeId: string;
  bindAddress: string;
  bindPort: number;
  /** `tcp://host:port`, `mqtt://…` or `mqtts://…`; null runs standalone (no replication). */
  mqttBrokerAddress: string | null;
  /** Directory for the append-only log and snapshots; null keeps data in memory only. */
  dataDir: string | null;
  fsync: FsyncPolicy;
  /** SHUTDOWN is accepted from loopback clients only unless this is true. */
  allowRemoteShutdown: boolean;
  logLevel: LogLevel;
  antiEntropy: AntiEntropyConfig;
  auth: AuthConfig;
  replication: ReplicationConfig;
  persistence: PersistenceConfig;
  limits: LimitsConfig;
  http: HttpConfig;
  tls: TlsConfig;
  conflicts: ConflictsConfig;
}

export interface AntiEntropyConfig {
  /** 0 disables the periodic loop (SYNC <host> <port> still works). */
  intervalMs: number;
  /** Each round waits intervalMs plus a random 0..jitterMs. */
  jitterMs: number;
  /** Other nodes' client addresses, "host:port". */
  peers: string[];
  /** A session that has not finished after this long is abandoned. */
  sessionTimeoutMs: number;
  /** One request to a peer that gets no reply within this is a failure. */
  requestTimeoutMs: number;
  /** Keys moved (pulled plus pushed) in one session at most; the rest waits for the next. */
  maxKeysPerSession: number;
  /** Tombstones and expired entries are purged this long after their version/expiry time. */
  tombstoneGraceMs: number;
  /**
   * SYNC <host> <port> connects only to configured or discovered peers unless this is true
   * (see docs/anti-entropy.md, Who SYNC may reach).
   */
  allowAnySyncTarget: boolean;
  /** Operator SYNC commands waiting behind the running session; more get ERROR. */
  maxQueuedSyncs: number;
  /** The user this node AUTHs as to peers that require it (a user with +@sync); null: none. */
  username: string | null;
  /** That user's password (never printed); with a null username, the peer's `default` user. */
  password: string | null;
}

/** Users and permissions (see docs/security.md). */
export interface AuthConfig {
  /** Users in Redis ACL syntax; null: only `default`. */
  usersFile: string | null;
  /** The `default` user's password, like Redis's requirepass (never printed). */
  password: string | null;
  /** A file whose first line is that password. */
  passwordFile: string | null;
  /** While `default` needs no password, clients from non-loopback addresses are refused. */
  protectedMode: boolean;
}

export interface ReplicationConfig {
  topicPrefix: string;
  /** Changes kept while the broker is unreachable; past this the oldest are dropped (counted). */
  maxPendingPublishes: number;
  /** Remote versions further than this ahead of the local clock are rejected. */
  maxClockSkewMs: number;
  username: string | null;
  password: string | null;
  /** CA certificate (PEM file) for mqtts:// brokers with a private CA. */
  caFile: string | null;
  /** MQTT client id; default "merklekv-<node_id>" (stable, so the session persists). */
  clientId: string | null;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  /** Keys that sign and verify batches and announcements; null sends them unsigned. */
  signingKeyFile: string | null;
  /** With signingKeyFile, unsigned messages are still accepted (a rolling introduction). */
  acceptUnsigned: boolean;
}

export interface PersistenceConfig {
  /** The log is compacted into a snapshot when it grows past this and past 2x the last snapshot. */
  logRewriteMinBytes: number;
  /** Entries written per slice while a snapshot is made in the background. */
  snapshotChunkEntries: number;
}

export interface LimitsConfig {
  maxKeyBytes: number;
  maxValueBytes: number;
  /**
   * Client and peer connections; peers have reservedPeerConnections more (see docs/operations.md,
   * Limits).
   */
  maxConnections: number;
  /** Slots beyond maxConnections that only anti-entropy peers (first line SYNC HELLO) may take. */
  reservedPeerConnections: number;
  /** Connections from one non-loopback address; loopback clients are exempt. */
  maxConnectionsPerAddress: number;
  /** A connection with no complete request for this long is closed; 0 never. */
  idleTimeoutMs: number;
  /** A request line started and not finished within this long closes the connection. */
  requestTimeoutMs: number;
  /** SIGTERM, SIGINT or SHUTDOWN: connections still busy after this long are cut. */
  shutdownGraceMs: number;
  /** A request line longer than this gets `ERROR line too long` and the connection closes. */
  maxLineBytes: number;
  /** Replies queued for a client that reads slowly; past this the server stops reading from it. */
  maxPendingReplyBytes: number;
  /** Largest single reply (MGET of many large values); a larger one is refused with ERROR. */
  maxReplyBytes: number;
  /** Keys in one MGET, EXISTS or MSET. */
  maxKeysPerCommand: number;
  /** Keys in one SCAN page. */
  scanPageKeys: number;
  /** A TLS handshake on the client port not finished within this long closes the connection. */
  tlsHandshakeTimeoutMs: number;
}

/** The operators' HTTP listener: /metrics, /livez, /readyz, /health (see docs/observability.md). */
export interface HttpConfig {
  bindAddress: string;
  /** null runs no listener; 0 picks any free port. */
  port: number | null;
}

/** TLS on the client port, the HTTP listener and anti-entropy (see docs/security.md, TLS). */
export interface TlsConfig {
  /** This node's certificate chain (PEM); with keyFile, the client port speaks TLS only. */
  certFile: string | null;
  /** The private key of certFile (PEM); its contents are never printed. */
  keyFile: string | null;
  /** CA certificates (PEM) trusted for peers this node connects to, and for client certificates. */
  caFile: string | null;
  /** Clients must present a certificate signed by caFile (mutual TLS). */
  requireClientCert: boolean;
  /** Name checked in peers' certificates instead of each peer's host; null: the host. */
  serverName: string | null;
}

export type ConflictsMode = "lww" | "record" | "siblings";

/** How concurrent writes are treated (see docs/consistency.md); the same on every node. */
export interface ConflictsConfig {
  /**
   * "lww": last writer wins, nothing kept; "record": also keeps the losers in a conflict log;
   * "siblings": keeps the values of concurrent versions until a write resolves them.
   */
  mode: ConflictsMode;
  /** Records the conflict log keeps, oldest dropped first. */
  logMaxEntries: number;
}
