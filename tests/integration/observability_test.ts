/**
 * The operators' HTTP listener on a real node process (see docs/observability.md): /metrics
 * passes `promtool check metrics` and moves with the commands sent, /livez, /readyz during and
 * after recovery, a broker that is down as a warning, /health, and no listener without
 * http.port.
 */

import assert from "node:assert/strict";
import { NodeProcess } from "../_support/node_process.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { freePort } from "../_support/ports.ts";
import { fillFilesystem, mountSmallFilesystem } from "../persistence/support.ts";
import {
  INFO_METRICS,
  INFO_WITHOUT_METRIC,
  INFO_WITHOUT_METRIC_PREFIXES,
} from "../../src/node/info_metrics.ts";

const PROMTOOL = findPromtool();
const PROMTOOL_MISSING = "promtool not installed (apt-get install -y prometheus)";

function findPromtool(): string | null {
  for (const path of ["/usr/bin/promtool", "/usr/local/bin/promtool"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

/** `name{labels}` -> value, from an exposition (comments skipped). */
function samples(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

function value(metrics: Map<string, number>, name: string): number {
  const found = metrics.get(name);
  assert.ok(found !== undefined, `${name} is in /metrics`);
  return found;
}

async function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(PROMTOOL ?? "promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

const LISTED_METRICS = [
  'merklekv_build_info{version="0.1.0",node_id="metrics-node"}',
  "merklekv_uptime_seconds",
  'merklekv_commands_total{command="set"}',
  'merklekv_command_errors_total{command="set"}',
  'merklekv_command_duration_seconds_count{command="set"}',
  "merklekv_connected_clients",
  "merklekv_connections_total",
  "merklekv_rejected_connections_total",
  "merklekv_net_input_bytes_total",
  "merklekv_net_output_bytes_total",
  "merklekv_keys",
  "merklekv_tombstones",
  "merklekv_memory_rss_bytes",
  "merklekv_memory_heap_used_bytes",
  "merklekv_replication_connected",
  "merklekv_replication_published_total",
  "merklekv_replication_applied_total",
  "merklekv_replication_outbox_changes",
  'merklekv_replication_rejected_total{reason="clock_skew"}',
  'merklekv_replication_rejected_total{reason="malformed"}',
  'merklekv_anti_entropy_sessions_total{result="ok"}',
  'merklekv_anti_entropy_sessions_total{result="failed"}',
  'merklekv_anti_entropy_keys_repaired_total{direction="pulled"}',
  'merklekv_anti_entropy_keys_repaired_total{direction="pushed"}',
  "merklekv_persistence_log_bytes",
  "merklekv_persistence_last_snapshot_timestamp_seconds",
  "merklekv_persistence_write_errors_total",
];

const HISTOGRAMS = [
  "merklekv_persistence_fsync_duration_seconds",
  "merklekv_replication_lag_seconds",
  "merklekv_anti_entropy_session_duration_seconds",
];

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("/metrics passes promtool, lists every metric, and counts exactly the commands sent", async () => {
  const broker = await Mosquitto.start();
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-metrics-" });
  const node = await NodeProcess.start({
    nodeId: "metrics-node",
    dataDir,
    httpPort: true,
    topLevel: `mqtt_broker_address = "${broker.url}"\nfsync = "always"\nlog_level = "debug"`,
    toml: "[anti_entropy]\nallow_any_sync_target = true",
  });
  const peer = await NodeProcess.start({
    nodeId: "metrics-peer",
    topLevel: `mqtt_broker_address = "${broker.url}"`,
  });
  try {
    const before = await node.http("/metrics");
    assert.equal(before.status, 200);
    assert.equal(before.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const client = await node.connect();
    for (let i = 0; i < 5; i++) await client.set(`key-${i}`, `value-${i}`);
    for (let i = 0; i < 3; i++) await client.get(`key-${i}`);
    await client.request("get missing");
    await client.request("NOSUCHCOMMAND");
    await client.request("INCR key-0");
    await client.del("key-4");
    const peerClient = await peer.connect();
    await peerClient.set("from-peer", "1");
    await peerClient.close();
    await waitFor(async () => await client.get("from-peer") === "1");
    assert.match(await client.sync("127.0.0.1", peer.port), /complete=1/);
    const info = await client.info();
    // The session's log line carries its id (docs/observability.md, Logs). Replication may
    // have brought both nodes in step before the session: then it logs sync_in_step (debug).
    // The periodic loop may have run a round with the peer (discovered on the broker) first,
    // so the SYNC's session is not always the node's first.
    const sessionLine = new RegExp(
      `"event":"sync_(repaired|in_step)".*"session":"metrics-node-\\d+","peer":"127\\.0\\.0\\.1:${peer.port}"`,
    );
    await waitFor(() => Promise.resolve(sessionLine.test(node.stderr())));
    const after = await node.http("/metrics");
    await client.close();
    const was = samples(before.body);
    const now = samples(after.body);
    for (const name of LISTED_METRICS) value(now, name);
    const moved = (name: string) => value(now, name) - (was.get(name) ?? 0);
    assert.equal(moved('merklekv_commands_total{command="set"}'), 5);
    assert.ok(moved('merklekv_commands_total{command="get"}') >= 4);
    assert.equal(moved('merklekv_commands_total{command="del"}'), 1);
    assert.equal(moved('merklekv_commands_total{command="incr"}'), 1);
    assert.equal(moved('merklekv_command_errors_total{command="incr"}'), 1);
    assert.equal(moved('merklekv_commands_total{command="invalid"}'), 1);
    assert.equal(moved('merklekv_command_errors_total{command="set"}'), 0);
    assert.equal(value(now, "merklekv_keys"), 5);
    assert.equal(moved('merklekv_commands_total{command="sync_run"}'), 1);
    assert.ok(value(now, 'merklekv_anti_entropy_sessions_total{result="ok"}') >= 1);
    assert.ok(value(now, "merklekv_replication_applied_total") >= 1);
    for (const name of HISTOGRAMS) {
      const count = value(now, `${name}_count`);
      assert.ok(count >= 1, `${name} observed something`);
      assert.equal(value(now, `${name}_bucket{le="+Inf"}`), count, `${name} +Inf is its count`);
    }
    // Every command whose reply was queued is in its duration histogram, exactly once.
    const commandCounts = [...now].filter(([name]) => name.startsWith("merklekv_commands_total{"));
    for (const [name, total] of commandCounts) {
      const labels = name.slice(name.indexOf("{") + 1, -1);
      const count = now.get(`merklekv_command_duration_seconds_count{${labels}}`) ?? 0;
      assert.equal(count, total, `duration count of ${labels} equals its commands_total`);
      if (total === 0) continue;
      const infinity = value(now, `merklekv_command_duration_seconds_bucket{${labels},le="+Inf"}`);
      assert.equal(infinity, count, `+Inf bucket of ${labels} is its count`);
    }
    // SYNC's reply is timed when it is queued: after the session it ran.
    assert.ok(
      value(now, 'merklekv_command_duration_seconds_sum{command="sync_run"}') >=
        value(now, "merklekv_anti_entropy_session_duration_seconds_sum"),
    );
    const setSeconds = value(now, 'merklekv_command_duration_seconds_sum{command="set"}');
    assert.ok(setSeconds > 0 && setSeconds < 5, `5 SETs took ${setSeconds} s in all`);
    assert.equal(value(now, "merklekv_tombstones"), 1);
    assert.equal(moved("merklekv_connections_total"), 1);
    assert.ok(value(now, "merklekv_net_input_bytes_total") > 100);
    assert.ok(value(now, "merklekv_replication_published_total") >= 6);
    if (PROMTOOL !== null) {
      const checked = await promtoolCheck(after.body);
      assert.equal(checked.code, 0, checked.output);
    }
    // Every INFO field is a metric or has its reason not to be (docs/observability.md).
    const mapped = new Set(INFO_METRICS.map((metric) => metric.field));
    for (const field of info.keys()) {
      const excused = field in INFO_WITHOUT_METRIC ||
        Object.keys(INFO_WITHOUT_METRIC_PREFIXES).some((prefix) => field.startsWith(prefix));
      assert.ok(mapped.has(field) || excused, `INFO field ${field} has a metric or a reason`);
    }
  } finally {
    await node.cleanup();
    await peer.cleanup();
    await broker.cleanup();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test({
  name: `promtool check metrics accepts /metrics of a node without broker or data directory${
    PROMTOOL === null ? ` (skipped: ${PROMTOOL_MISSING})` : ""
  }`,
  ignore: PROMTOOL === null,
  fn: async () => {
    const node = await NodeProcess.start({ httpPort: true });
    try {
      const client = await node.connect();
      await client.set("a", "1");
      await client.close();
      const { body } = await node.http("/metrics");
      const checked = await promtoolCheck(body);
      assert.equal(checked.code, 0, checked.output);
    } finally {
      await node.cleanup();
    }
  },
});

Deno.test("/livez says ok, unknown paths are 404 and other methods 405", async () => {
  const node = await NodeProcess.start({ httpPort: true });
  try {
    assert.deepEqual(
      { ...await node.http("/livez"), headers: undefined },
      { status: 200, body: "ok\n", headers: undefined },
    );
    assert.equal((await node.http("/nothing-here")).status, 404);
    const posted = await node.http("/metrics", "POST");
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get("allow"), "GET, HEAD");
    const client = await node.connect();
    assert.equal(await client.ping(), "PONG");
    await client.close();
  } finally {
    await node.cleanup();
  }
});

Deno.test("/readyz answers 503 naming recovery while the data directory loads, then 200", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-readyz-" });
  const value = "v".repeat(100);
  const writer = await NodeProcess.start({ dataDir, toml: 'fsync = "no"' });
  try {
    const client = await writer.connect(30_000);
    const keysPerCommand = 5_000;
    for (let batch = 0; batch < 80; batch++) {
      const entries: [string, string][] = [];
      for (let i = 0; i < keysPerCommand; i++) entries.push([`key-${batch}-${i}`, value]);
      await client.mset(entries);
    }
    await client.close();
    assert.equal((await writer.stop()).code, 0);
  } finally {
    await writer.cleanup();
  }
  const node = await NodeProcess.start({ dataDir, httpPort: true, waitReady: false });
  try {
    const answers: { status: number; body: string }[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const answer = await node.http("/readyz?verbose").catch(() => null);
      if (answer !== null) {
        answers.push(answer);
        if (answer.status === 200) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const first = answers[0];
    const last = answers.at(-1);
    assert.ok(first !== undefined && last !== undefined, "/readyz answered");
    assert.equal(
      first.status,
      503,
      `the listener answers before recovery ends: ${answers.length} answers\n${node.stderr()}`,
    );
    assert.match(first.body, /^\[-\]recovery failed: loading the data directory$/m);
    assert.match(first.body, /^readyz check failed$/m);
    assert.equal(last.status, 200);
    assert.equal(last.body, "[+]recovery ok\n[+]clients ok\n[+]log ok\nreadyz check passed\n");
    assert.equal((await node.http("/readyz")).body, "ok\n");
    const client = await node.connect();
    assert.equal(await client.dbsize(), 400_000);
    await client.close();
  } finally {
    await node.cleanup();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a broker that is down is a warning: /readyz stays 200 and /health says degraded", async () => {
  const closedPort = await freePort();
  const node = await NodeProcess.start({
    httpPort: true,
    topLevel: `mqtt_broker_address = "tcp://127.0.0.1:${closedPort}"`,
  });
  try {
    const readyz = await node.http("/readyz?verbose");
    assert.equal(readyz.status, 200);
    assert.match(
      readyz.body,
      new RegExp(`^\\[!\\]replication warning: broker .*${closedPort}`, "m"),
    );
    assert.equal((await node.http("/readyz")).status, 200);
    const health = await node.http("/health");
    assert.equal(health.status, 200);
    assert.equal(health.headers.get("content-type"), "application/json; charset=utf-8");
    const parsed = JSON.parse(health.body);
    assert.equal(parsed.status, "degraded");
    assert.deepEqual(parsed.checks.recovery, { status: "ok" });
    assert.equal(parsed.checks.replication.status, "warning");
    const metrics = samples((await node.http("/metrics")).body);
    assert.equal(value(metrics, "merklekv_replication_connected"), 0);
  } finally {
    await node.cleanup();
  }
});

Deno.test("/health is ok with every check passing", async () => {
  const node = await NodeProcess.start({ httpPort: true });
  try {
    const health = await node.http("/health");
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), {
      status: "ok",
      checks: { recovery: { status: "ok" }, clients: { status: "ok" } },
    });
  } finally {
    await node.cleanup();
  }
});

Deno.test("a node without http.port opens no HTTP listener", async () => {
  const node = await NodeProcess.start();
  try {
    const client = await node.connect();
    await client.ping();
    await client.close();
    assert.match(node.stderr(), /"event":"node_started".*"http":null/);
    assert.doesNotMatch(node.stderr(), /http_listening/);
  } finally {
    await node.cleanup();
  }
});

Deno.test("docs/observability.md has a row for every INFO field the mapping knows", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/observability.md", import.meta.url));
  const fields = [
    ...INFO_METRICS.map((metric) => metric.field),
    ...Object.keys(INFO_WITHOUT_METRIC),
  ];
  const rows = new Set(doc.split("\n").map((line) => line.split("|")[1]?.trim()));
  for (const field of fields) assert.ok(rows.has(`\`${field}\``), `a row for ${field}`);
  for (const metric of INFO_METRICS) assert.ok(doc.includes(metric.name), metric.name);
});

Deno.test("a log that refuses writes (disk full) fails /readyz and makes /health down", async () => {
  const filesystem = await mountSmallFilesystem(1024 * 1024);
  if (filesystem === null) {
    console.warn("SKIPPED: mounting a small tmpfs is not permitted here (needs root)");
    return;
  }
  const node = await NodeProcess.start({
    dataDir: `${filesystem.dir}/data`,
    httpPort: true,
    topLevel: 'fsync = "always"',
  });
  try {
    assert.equal((await node.http("/readyz")).status, 200);
    fillFilesystem(filesystem.dir);
    const client = await node.connect();
    let reply = "";
    for (let i = 0; i < 400 && !reply.startsWith("ERROR"); i++) {
      [reply = ""] = await client.request(`SET key-${i} ${"x".repeat(4000)}`);
    }
    await client.close();
    assert.match(reply, /^ERROR .*disk full/);
    const readyz = await node.http("/readyz");
    assert.equal(readyz.status, 503);
    assert.match(readyz.body, /^\[-\]log failed: log refuses writes: disk full \(ENOSPC\)/m);
    const health = await node.http("/health");
    assert.equal(health.status, 503);
    assert.equal(JSON.parse(health.body).status, "down");
    assert.equal((await node.http("/livez")).status, 200);
  } finally {
    await node.cleanup();
    await filesystem.unmount();
  }
});

Deno.test("a broker killed under a node: replication_connected drops to 0 and /health degrades", async () => {
  const broker = await Mosquitto.start();
  const node = await NodeProcess.start({
    httpPort: true,
    topLevel: `mqtt_broker_address = "${broker.url}"`,
  });
  try {
    const connected = async () =>
      value(samples((await node.http("/metrics")).body), "merklekv_replication_connected");
    await waitFor(async () => await connected() === 1);
    assert.equal(JSON.parse((await node.http("/health")).body).status, "ok");
    await broker.stop("SIGKILL");
    await waitFor(async () => await connected() === 0);
    const health = await node.http("/health");
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, "degraded");
    assert.equal((await node.http("/readyz")).status, 200);
  } finally {
    await node.cleanup();
    await broker.cleanup();
  }
});

Deno.test("huge headers and 200 slow, unfinished HTTP requests leave the client port answering", async () => {
  const node = await NodeProcess.start({ httpPort: true });
  const slowConnections: Deno.TcpConn[] = [];
  try {
    const encoder = new TextEncoder();
    // Slowloris: a request line and one header, never finished, on 200 connections.
    for (let i = 0; i < 200; i++) {
      const slow = await Deno.connect({ hostname: "127.0.0.1", port: node.httpPort ?? 0 });
      slowConnections.push(slow);
      await slow.write(encoder.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    }
    const huge = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`, {
      headers: { "x-huge": "h".repeat(256 * 1024) },
    }).then(async (response) => {
      await response.body?.cancel();
      return response.status;
    }, () => "connection closed");
    assert.notEqual(huge, 200, "a 256 KiB header is refused");
    const client = await node.connect();
    const startedAt = performance.now();
    for (let i = 0; i < 100; i++) assert.equal(await client.ping(), "PONG");
    assert.ok(performance.now() - startedAt < 2_000);
    await client.close();
    assert.equal((await node.http("/livez")).status, 200);
  } finally {
    for (const slow of slowConnections) slow.close();
    await node.cleanup();
  }
});

Deno.test("/status.json shows keys, commands, the peer's root as last seen, and convergence", async () => {
  const peer = await NodeProcess.start({ nodeId: "status-peer" });
  const node = await NodeProcess.start({
    nodeId: "status-node",
    httpPort: true,
    toml: `[anti_entropy]\ninterval_ms = 600000\npeers = ["127.0.0.1:${peer.port}"]`,
  });
  try {
    const client = await node.connect();
    for (let i = 0; i < 3; i++) await client.set(`key-${i}`, "v");
    const before = JSON.parse((await node.http("/status.json")).body);
    assert.equal(before.node_id, "status-node");
    assert.equal(before.phase, "serving");
    assert.equal(before.keys, 3);
    assert.ok(before.commands_processed >= 3);
    assert.equal(before.replication, null);
    assert.deepEqual(before.anti_entropy.peers, []);
    assert.deepEqual(before.convergence, { converged: true, roots_known: 0, roots_differing: 0 });
    // The peer's root as HELLO gave it: before the session pushed the three keys.
    assert.match(await client.sync("127.0.0.1", peer.port), /pushed=3/);
    const pushed = JSON.parse((await node.http("/status.json")).body);
    const [seen] = pushed.anti_entropy.peers;
    assert.equal(seen.address, `127.0.0.1:${peer.port}`);
    assert.equal(seen.node_id, "status-peer");
    assert.equal(seen.last_outcome, "ok");
    assert.notEqual(seen.merkle_root, pushed.merkle_root);
    assert.equal(pushed.convergence.converged, false);
    const diverged = samples((await node.http("/metrics")).body);
    assert.equal(value(diverged, "merklekv_anti_entropy_converged"), 0);
    assert.equal(value(diverged, "merklekv_anti_entropy_peer_roots_differing"), 1);
    assert.equal(value(diverged, "merklekv_anti_entropy_peers_diverged"), 1);
    assert.ok(value(diverged, "merklekv_anti_entropy_diverged_seconds") >= 0);
    assert.equal(value(diverged, "merklekv_anti_entropy_interval_seconds"), 600);
    // The next session sees the peer's root equal to ours.
    assert.match(await client.sync("127.0.0.1", peer.port), /pushed=0/);
    const after = JSON.parse((await node.http("/status.json")).body);
    assert.equal(after.anti_entropy.peers[0].merkle_root, after.merkle_root);
    assert.equal(after.anti_entropy.peers[0].in_step, true);
    assert.deepEqual(after.convergence, { converged: true, roots_known: 1, roots_differing: 0 });
    const inStep = samples((await node.http("/metrics")).body);
    assert.equal(value(inStep, "merklekv_anti_entropy_converged"), 1);
    assert.equal(value(inStep, "merklekv_anti_entropy_peer_roots_differing"), 0);
    assert.equal(value(inStep, "merklekv_anti_entropy_peers_diverged"), 0);
    assert.equal(value(inStep, "merklekv_anti_entropy_diverged_seconds"), 0);
    await client.close();
  } finally {
    await node.cleanup();
    await peer.cleanup();
  }
});
