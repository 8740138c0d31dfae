import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { COMMAND_LINE_OPTIONS } from "../../src/config/flags.ts";
import {
  environmentName,
  KEY_SCHEMA,
  readField,
  SECTION_NAMES,
  sectionOf,
} from "../../src/config/schema.ts";

Deno.test("DEFAULT_CONFIG holds the documented defaults", () => {
  assert.deepEqual(DEFAULT_CONFIG, {
    nodeId: "standalone",
    bindAddress: "127.0.0.1",
    bindPort: 7878,
    mqttBrokerAddress: null,
    dataDir: null,
    fsync: "everysec",
    allowRemoteShutdown: false,
    logLevel: "info",
    antiEntropy: {
      intervalMs: 5000,
      jitterMs: 1000,
      peers: [],
      sessionTimeoutMs: 10000,
      requestTimeoutMs: 3000,
      maxKeysPerSession: 100000,
      tombstoneGraceMs: 86_400_000,
      allowAnySyncTarget: false,
      maxQueuedSyncs: 4,
      username: null,
      password: null,
    },
    auth: { usersFile: null, password: null, passwordFile: null, protectedMode: true },
    replication: {
      topicPrefix: "merklekv",
      maxPendingPublishes: 100000,
      maxClockSkewMs: 60000,
      username: null,
      password: null,
      caFile: null,
      clientId: null,
      reconnectMinMs: 100,
      reconnectMaxMs: 5000,
      connectTimeoutMs: 5000,
      signingKeyFile: null,
      acceptUnsigned: false,
    },
    persistence: { logRewriteMinBytes: 64 * 1024 * 1024, snapshotChunkEntries: 10000 },
    limits: {
      maxKeyBytes: 1024,
      maxValueBytes: 1_048_576,
      maxConnections: 10000,
      reservedPeerConnections: 32,
      maxConnectionsPerAddress: 1000,
      idleTimeoutMs: 0,
      requestTimeoutMs: 30000,
      shutdownGraceMs: 5000,
      maxLineBytes: 1_048_576 + 1024 + 64,
      maxPendingReplyBytes: 8 * 1024 * 1024,
      maxReplyBytes: 64 * 1024 * 1024,
      maxKeysPerCommand: 10000,
      scanPageKeys: 1000,
      tlsHandshakeTimeoutMs: 10000,
    },
    http: { bindAddress: "127.0.0.1", port: null },
    tls: {
      certFile: null,
      keyFile: null,
      caFile: null,
      requireClientCert: false,
      serverName: null,
    },
    conflicts: { mode: "lww", logMaxEntries: 10000 },
  });
});

Deno.test("DEFAULT_CONFIG is frozen so no caller can change another's defaults", () => {
  assert.throws(() => {
    DEFAULT_CONFIG.limits.maxKeyBytes = 1;
  }, TypeError);
  assert.throws(() => {
    DEFAULT_CONFIG.antiEntropy.peers.push("a:1");
  }, TypeError);
});

Deno.test("the default line limit fits the largest SET line", () => {
  const { maxKeyBytes, maxValueBytes, maxLineBytes } = DEFAULT_CONFIG.limits;
  const largestSetLineBytes = "SET ".length + maxKeyBytes + " ".length + maxValueBytes + 2;
  assert.ok(maxLineBytes >= largestSetLineBytes);
});

Deno.test("the schema describes every Config field exactly once", () => {
  const schemaFields = KEY_SCHEMA.map((spec) => spec.field).sort();
  const configFields = Object.entries(DEFAULT_CONFIG).flatMap(([name, value]) =>
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? Object.keys(value).map((child) => `${name}.${child}`)
      : [name]
  ).sort();
  assert.deepEqual(schemaFields, configFields);
});

Deno.test("every schema path is the snake_case form of its Config field", () => {
  for (const spec of KEY_SCHEMA) {
    const camel = spec.path.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
    assert.equal(camel, spec.field, spec.path);
  }
});

Deno.test("every default passes its own key's validation range", () => {
  for (const spec of KEY_SCHEMA) {
    const value = readField(DEFAULT_CONFIG, spec);
    if (spec.type === "integer" && !(spec.nullable && value === null)) {
      assert.ok(typeof value === "number" && value >= spec.min && value <= spec.max, spec.path);
    }
  }
});

Deno.test("environment variable names are unique and upper-case forms of the paths", () => {
  const names = KEY_SCHEMA.map(environmentName);
  assert.equal(new Set(names).size, names.length);
  assert.ok(names.includes("MERKLEKV_BIND_PORT"));
  assert.ok(names.includes("MERKLEKV_ANTI_ENTROPY_INTERVAL_MS"));
  assert.ok(names.includes("MERKLEKV_LIMITS_MAX_KEY_BYTES"));
});

Deno.test("every top-level key has a kebab-case flag and flag names are unique", () => {
  for (const spec of KEY_SCHEMA.filter((spec) => sectionOf(spec.path) === null)) {
    assert.equal(spec.flags?.[0], spec.path.replaceAll("_", "-"), spec.path);
  }
  const names = COMMAND_LINE_OPTIONS.flatMap((option) => option.names);
  assert.equal(new Set(names).size, names.length);
});

Deno.test("sections are listed in schema order", () => {
  assert.deepEqual(SECTION_NAMES, [
    "anti_entropy",
    "auth",
    "replication",
    "persistence",
    "limits",
    "http",
    "tls",
    "conflicts",
  ]);
});
