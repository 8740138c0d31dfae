/**
 * The defaults every node starts from, before the config file, environment and flags
 * (see docs/configuration.md). Frozen: take `structuredClone(DEFAULT_CONFIG)` for a mutable copy.
 */

import type { Config } from "./types.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

const MAX_KEY_BYTES = 1 * KIB;
const MAX_VALUE_BYTES = 1 * MIB;
/**
 * The largest SET must fit in one line: "SET <key> <value>\r\n" is key + value + 7 bytes.
 * The default leaves 64 bytes over key + value (the validator insists on at least 16).
 */
const LINE_HEADROOM_BYTES = 64;

/**
 * limits.max_line_bytes when no source sets it: follows max_key_bytes and max_value_bytes,
 * so raising either alone keeps the largest SET within one line.
 */
export function defaultMaxLineBytes(
  limits: { maxKeyBytes: number; maxValueBytes: number },
): number {
  return limits.maxValueBytes + limits.maxKeyBytes + LINE_HEADROOM_BYTES;
}

export const DEFAULT_CONFIG: Config = deepFreeze({
  // "standalone" applies only without a config file; a file must name its node.
  nodeId: "standalone",
  bindAddress: "127.0.0.1",
  bindPort: 7878,
  mqttBrokerAddress: null,
  dataDir: null,
  fsync: "everysec",
  allowRemoteShutdown: false,
  logLevel: "info",
  antiEntropy: {
    intervalMs: 5_000,
    jitterMs: 1_000,
    peers: [],
    sessionTimeoutMs: 10_000,
    requestTimeoutMs: 3_000,
    maxKeysPerSession: 100_000,
    tombstoneGraceMs: 24 * 60 * 60 * 1_000,
    allowAnySyncTarget: false,
    maxQueuedSyncs: 4,
    username: null,
    password: null,
  },
  auth: {
    usersFile: null,
    password: null,
    passwordFile: null,
    protectedMode: true,
  },
  replication: {
    topicPrefix: "merklekv",
    maxPendingPublishes: 100_000,
    maxClockSkewMs: 60_000,
    username: null,
    password: null,
    caFile: null,
    clientId: null,
    reconnectMinMs: 100,
    reconnectMaxMs: 5_000,
    connectTimeoutMs: 5_000,
    signingKeyFile: null,
    acceptUnsigned: false,
  },
  persistence: {
    logRewriteMinBytes: 64 * MIB,
    snapshotChunkEntries: 10_000,
  },
  limits: {
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes: MAX_VALUE_BYTES,
    maxConnections: 10_000,
    reservedPeerConnections: 32,
    maxConnectionsPerAddress: 1_000,
    idleTimeoutMs: 0,
    requestTimeoutMs: 30_000,
    shutdownGraceMs: 5_000,
    maxLineBytes: defaultMaxLineBytes({
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes: MAX_VALUE_BYTES,
    }),
    maxPendingReplyBytes: 8 * MIB,
    maxReplyBytes: 64 * MIB,
    maxKeysPerCommand: 10_000,
    scanPageKeys: 1_000,
    tlsHandshakeTimeoutMs: 10_000,
  },
  http: {
    bindAddress: "127.0.0.1",
    port: null,
  },
  tls: {
    certFile: null,
    keyFile: null,
    caFile: null,
    requireClientCert: false,
    serverName: null,
  },
  conflicts: {
    mode: "lww",
    logMaxEntries: 10_000,
  },
});

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
