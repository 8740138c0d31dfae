import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, validateConfig } from "../../src/config/mod.ts";

/** A minimal valid file with the keys of `extra` added or replaced (sections merged). */
function fileWith(extra: Record<string, unknown>): Record<string, unknown> {
  return { node_id: "node-1", ...extra };
}

Deno.test("validateConfig() returns the defaults for a file that only names the node", () => {
  assert.deepEqual(validateConfig({ node_id: "node-1" }), { ...DEFAULT_CONFIG, nodeId: "node-1" });
});

Deno.test("validateConfig() reads every key of a full valid file", () => {
  const config = validateConfig({
    node_id: "node-1",
    bind_address: "0.0.0.0",
    bind_port: 0,
    mqtt_broker_address: "mqtts://broker.example.com:8883",
    data_dir: "/var/lib/merklekv",
    fsync: "always",
    allow_remote_shutdown: true,
    log_level: "debug",
    anti_entropy: {
      interval_ms: 0,
      jitter_ms: 0,
      peers: ["10.0.0.2:7878", "node-3.local:7879", "[::1]:7880"],
      session_timeout_ms: 20000,
      request_timeout_ms: 1000,
      max_keys_per_session: 5000,
      tombstone_grace_ms: 3_600_000,
      allow_any_sync_target: true,
      max_queued_syncs: 2,
      username: "peer",
      password: "peer-secret",
    },
    auth: {
      users_file: "/etc/merklekv/users.acl",
      password: "default-secret",
      protected_mode: false,
    },
    replication: {
      topic_prefix: "prod/merklekv",
      max_pending_publishes: 10,
      max_clock_skew_ms: 1000,
      username: "merklekv",
      password: "secret",
      ca_file: "/etc/ssl/ca.pem",
      client_id: "merklekv-node-1",
      reconnect_min_ms: 50,
      reconnect_max_ms: 60000,
      connect_timeout_ms: 2000,
      signing_key_file: "/etc/merklekv/signing.keys",
      accept_unsigned: true,
    },
    persistence: { log_rewrite_min_bytes: 1024, snapshot_chunk_entries: 100 },
    limits: {
      max_key_bytes: 256,
      max_value_bytes: 4096,
      max_connections: 10,
      reserved_peer_connections: 2,
      max_connections_per_address: 5,
      idle_timeout_ms: 60000,
      request_timeout_ms: 500,
      shutdown_grace_ms: 0,
      max_line_bytes: 256 + 4096 + 16,
      max_pending_reply_bytes: 65536,
      max_keys_per_command: 100,
      scan_page_keys: 10,
      tls_handshake_timeout_ms: 2000,
    },
    http: { bind_address: "0.0.0.0", port: 9100 },
    tls: {
      cert_file: "/etc/merklekv/node.crt",
      key_file: "/etc/merklekv/node.key",
      ca_file: "/etc/merklekv/ca.crt",
      require_client_cert: true,
      server_name: "merklekv.internal",
    },
    conflicts: { mode: "record", log_max_entries: 500 },
  });
  assert.deepEqual(config, {
    nodeId: "node-1",
    bindAddress: "0.0.0.0",
    bindPort: 0,
    mqttBrokerAddress: "mqtts://broker.example.com:8883",
    dataDir: "/var/lib/merklekv",
    fsync: "always",
    allowRemoteShutdown: true,
    logLevel: "debug",
    antiEntropy: {
      intervalMs: 0,
      jitterMs: 0,
      peers: ["10.0.0.2:7878", "node-3.local:7879", "[::1]:7880"],
      sessionTimeoutMs: 20000,
      requestTimeoutMs: 1000,
      maxKeysPerSession: 5000,
      tombstoneGraceMs: 3_600_000,
      allowAnySyncTarget: true,
      maxQueuedSyncs: 2,
      username: "peer",
      password: "peer-secret",
    },
    auth: {
      usersFile: "/etc/merklekv/users.acl",
      password: "default-secret",
      passwordFile: null,
      protectedMode: false,
    },
    replication: {
      topicPrefix: "prod/merklekv",
      maxPendingPublishes: 10,
      maxClockSkewMs: 1000,
      username: "merklekv",
      password: "secret",
      caFile: "/etc/ssl/ca.pem",
      clientId: "merklekv-node-1",
      reconnectMinMs: 50,
      reconnectMaxMs: 60000,
      connectTimeoutMs: 2000,
      signingKeyFile: "/etc/merklekv/signing.keys",
      acceptUnsigned: true,
    },
    persistence: { logRewriteMinBytes: 1024, snapshotChunkEntries: 100 },
    limits: {
      maxKeyBytes: 256,
      maxValueBytes: 4096,
      maxConnections: 10,
      reservedPeerConnections: 2,
      maxConnectionsPerAddress: 5,
      idleTimeoutMs: 60000,
      requestTimeoutMs: 500,
      shutdownGraceMs: 0,
      maxLineBytes: 4368,
      maxPendingReplyBytes: 65536,
      maxReplyBytes: 64 * 1024 * 1024,
      maxKeysPerCommand: 100,
      scanPageKeys: 10,
      tlsHandshakeTimeoutMs: 2000,
    },
    http: { bindAddress: "0.0.0.0", port: 9100 },
    tls: {
      certFile: "/etc/merklekv/node.crt",
      keyFile: "/etc/merklekv/node.key",
      caFile: "/etc/merklekv/ca.crt",
      requireClientCert: true,
      serverName: "merklekv.internal",
    },
    conflicts: { mode: "record", logMaxEntries: 500 },
  });
});

Deno.test("validateConfig() accepts every conflicts mode and names them all when refusing one", () => {
  for (const mode of ["lww", "record", "siblings"]) {
    assert.equal(validateConfig(fileWith({ conflicts: { mode } })).conflicts.mode, mode);
  }
  assert.throws(
    () => validateConfig(fileWith({ conflicts: { mode: "crdt" } })),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /conflicts\.mode: expected one of lww, record, siblings, got "crdt"/,
      );
      return true;
    },
  );
});

Deno.test("validateConfig() accepts every broker URL scheme", () => {
  for (const scheme of ["tcp", "mqtt", "mqtts", "ssl", "tls"]) {
    const address = `${scheme}://localhost:1883`;
    const config = validateConfig(fileWith({ mqtt_broker_address: address }));
    assert.equal(config.mqttBrokerAddress, address);
  }
});

Deno.test("validateConfig() treats an empty string as unset for nullable keys", () => {
  const config = validateConfig(fileWith({ data_dir: "", replication: { password: "" } }));
  assert.equal(config.dataDir, null);
  assert.equal(config.replication.password, null);
});

Deno.test("validateConfig() does not share the peers array with its input", () => {
  const peers = ["a:1"];
  const config = validateConfig(fileWith({ anti_entropy: { peers } }));
  peers.push("b:2");
  assert.deepEqual(config.antiEntropy.peers, ["a:1"]);
});

const BAD_FILES: ReadonlyArray<{ name: string; file: Record<string, unknown>; message: string }> = [
  {
    name: "a string where an integer belongs",
    file: fileWith({ bind_port: "abc" }),
    message: 'Invalid config bind_port: expected an integer, got "abc"',
  },
  {
    name: "a fraction where an integer belongs",
    file: fileWith({ limits: { max_connections: 1.5 } }),
    message: "Invalid config limits.max_connections: must be an integer, got 1.5",
  },
  {
    name: "an integer beyond 2^53",
    file: fileWith({ limits: { max_connections: 9007199254740993n } }),
    message: "Invalid config limits.max_connections: must be <= 1000000, got 9007199254740993",
  },
  {
    name: "a string where a boolean belongs",
    file: fileWith({ allow_remote_shutdown: "yes" }),
    message: 'Invalid config allow_remote_shutdown: expected true or false, got "yes"',
  },
  {
    name: "a string where a list belongs",
    file: fileWith({ anti_entropy: { peers: "a:1" } }),
    message: 'Invalid config anti_entropy.peers: expected an array of strings, got "a:1"',
  },
  {
    name: "a negative interval",
    file: fileWith({ anti_entropy: { interval_ms: -5 } }),
    message: "Invalid config anti_entropy.interval_ms: must be >= 0, got -5",
  },
  {
    name: "a zero timeout",
    file: fileWith({ anti_entropy: { request_timeout_ms: 0 } }),
    message: "Invalid config anti_entropy.request_timeout_ms: must be >= 1, got 0",
  },
  {
    name: "a port above 65535",
    file: fileWith({ bind_port: 70000 }),
    message: "Invalid config bind_port: must be <= 65535, got 70000",
  },
  {
    name: "a value limit above 512 MiB",
    file: fileWith({ limits: { max_value_bytes: 512 * 1024 * 1024 + 1 } }),
    message: "Invalid config limits.max_value_bytes: must be <= 536870912, got 536870913",
  },
  {
    name: "a misspelled top-level key",
    file: fileWith({ bind_prot: 7000 }),
    message: 'Unknown config key "bind_prot" (did you mean "bind_port"?)',
  },
  {
    name: "a misspelled key in a section",
    file: fileWith({ limits: { max_key_byte: 10 } }),
    message: 'Unknown config key "limits.max_key_byte" (did you mean "limits.max_key_bytes"?)',
  },
  {
    name: "a section key at the top level",
    file: fileWith({ interval_ms: 10 }),
    message: 'Unknown config key "interval_ms" (did you mean "anti_entropy.interval_ms"?)',
  },
  {
    name: "a key unlike any other",
    file: fileWith({ colour: "blue" }),
    message: 'Unknown config key "colour"',
  },
  {
    name: "a misspelled section",
    file: fileWith({ limit: { max_key_bytes: 10 } }),
    message: "Unknown config section [limit] (did you mean [limits]?)",
  },
  {
    name: "an unknown section",
    file: fileWith({ cluster: {} }),
    message: "Unknown config section [cluster] " +
      "(sections: anti_entropy, auth, replication, persistence, limits, http, tls, conflicts)",
  },
  {
    name: "a section that is not a table",
    file: fileWith({ limits: 5 }),
    message: "Invalid config limits: expected a table [limits], got 5",
  },
  {
    name: "a node_id with a space",
    file: { node_id: "node 1" },
    message:
      'Invalid config node_id: must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got "node 1"',
  },
  {
    name: "a node_id longer than 64 characters",
    file: { node_id: "n".repeat(65) },
    message: `Invalid config node_id: must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got "${
      "n".repeat(65)
    }"`,
  },
  {
    name: "an empty node_id",
    file: { node_id: "" },
    message: 'Invalid config node_id: must be 1 to 64 characters of A-Z a-z 0-9 . _ -, got ""',
  },
  {
    name: "a peer without a port",
    file: fileWith({ anti_entropy: { peers: ["a:1", "nohost"] } }),
    message: 'Invalid config anti_entropy.peers: entry 2 must be "host:port" with a port in ' +
      '1..65535 (IPv6 as [::1]:7878), got "nohost"',
  },
  {
    name: "a peer with port 0",
    file: fileWith({ anti_entropy: { peers: ["a:0"] } }),
    message: 'Invalid config anti_entropy.peers: entry 1 must be "host:port" with a port in ' +
      '1..65535 (IPv6 as [::1]:7878), got "a:0"',
  },
  {
    name: "a broker URL with an unsupported scheme",
    file: fileWith({ mqtt_broker_address: "http://localhost:1883" }),
    message: "Invalid config mqtt_broker_address: must be a URL tcp://, mqtt://, mqtts://, " +
      'ssl://, tls:// with host and port, e.g. tcp://localhost:1883, got "http://localhost:1883"',
  },
  {
    name: "a broker URL without a port",
    file: fileWith({ mqtt_broker_address: "tcp://localhost" }),
    message: "Invalid config mqtt_broker_address: must be a URL tcp://, mqtt://, mqtts://, " +
      'ssl://, tls:// with host and port, e.g. tcp://localhost:1883, got "tcp://localhost"',
  },
  {
    name: "a topic prefix with a wildcard",
    file: fileWith({ replication: { topic_prefix: "a/+/b" } }),
    message: "Invalid config replication.topic_prefix: must be a topic of 1 to 256 characters " +
      'without "+", "#" or NUL, not starting with "$", got "a/+/b"',
  },
  {
    name: "a topic prefix starting with $",
    file: fileWith({ replication: { topic_prefix: "$SYS" } }),
    message: "Invalid config replication.topic_prefix: must be a topic of 1 to 256 characters " +
      'without "+", "#" or NUL, not starting with "$", got "$SYS"',
  },
  {
    name: "an fsync policy that does not exist",
    file: fileWith({ fsync: "sometimes" }),
    message: 'Invalid config fsync: expected one of always, everysec, no, got "sometimes"',
  },
  {
    name: "a log level that does not exist",
    file: fileWith({ log_level: "verbose" }),
    message: 'Invalid config log_level: expected one of debug, info, warn, error, got "verbose"',
  },
  {
    name: "a file without node_id",
    file: { bind_port: 7000 },
    message: "Missing config node_id: required in a config file",
  },
  {
    name: "a line limit too small for a raised value limit",
    file: fileWith({ limits: { max_value_bytes: 2048, max_line_bytes: 2048 } }),
    message: "Invalid config limits.max_line_bytes: must be >= limits.max_value_bytes + " +
      "limits.max_key_bytes + 16 = 3088, got 2048",
  },
  {
    name: "a line limit too small for the largest SET",
    file: fileWith({ limits: { max_line_bytes: 1000 } }),
    message: "Invalid config limits.max_line_bytes: must be >= limits.max_value_bytes + " +
      "limits.max_key_bytes + 16 = 1049616, got 1000",
  },
  {
    name: "a reconnect minimum above the maximum",
    file: fileWith({ replication: { reconnect_min_ms: 6000 } }),
    message:
      "Invalid config replication.reconnect_min_ms: must be <= replication.reconnect_max_ms = " +
      "5000, got 6000",
  },
  {
    name: "both auth.password and auth.password_file",
    file: fileWith({ auth: { password: "pw", password_file: "/etc/merklekv/password" } }),
    message: "Invalid config auth.password_file: must be unset when auth.password is set " +
      "(one source for the password), got a path",
  },
  {
    name: "an anti-entropy user without a password",
    file: fileWith({ anti_entropy: { username: "peer" } }),
    message:
      "Invalid config anti_entropy.password: must be set when anti_entropy.username is set, " +
      "got nothing",
  },
  {
    name: "an auth password with a space, never shown",
    file: fileWith({ auth: { password: "two words" } }),
    message: "Invalid config auth.password: must be 1 to 128 printable ASCII characters " +
      "without spaces, got ***",
  },
  {
    name: "a password of the wrong type",
    file: fileWith({ replication: { password: 12345 } }),
    message: "Invalid config replication.password: expected a string, got ***",
  },
  {
    name: "a document that is not a table",
    file: ["node_id"] as unknown as Record<string, unknown>,
    message: 'Invalid config: expected a table of keys, got ["node_id"]',
  },
];

for (const { name, file, message } of BAD_FILES) {
  Deno.test(`validateConfig() rejects ${name} with a one-line message naming the key`, () => {
    assert.throws(() => validateConfig(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message, message);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  });
}

Deno.test("validateConfig() accepts the smallest line limit that fits the largest SET", () => {
  const limits = { max_key_bytes: 10, max_value_bytes: 100, max_line_bytes: 126 };
  assert.equal(validateConfig(fileWith({ limits })).limits.maxLineBytes, 126);
});

Deno.test("validateConfig() raises the line limit with the key and value limits unless set", () => {
  const raised = validateConfig(fileWith({ limits: { max_value_bytes: 4 * 1024 * 1024 } }));
  assert.equal(raised.limits.maxLineBytes, 4 * 1024 * 1024 + 1024 + 64);
  const pinned = validateConfig(fileWith({ limits: { max_line_bytes: 2 * 1024 * 1024 } }));
  assert.equal(pinned.limits.maxLineBytes, 2 * 1024 * 1024);
});
