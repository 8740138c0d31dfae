/**
 * The replication part inside this process (startNode), against a real Mosquitto: what the
 * node does while the broker is away, and that close() leaves nothing running.
 */

import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { Logger } from "../../src/log.ts";
import { type NodeHandle, startNode } from "../../src/node/start_node.ts";
import { startReplication } from "../../src/replication/mod.ts";
import { Store } from "../../src/store/store.ts";
import { systemClock } from "../../src/clock.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { freePort, waitUntil } from "../_support/ports.ts";

interface TestNode {
  handle: NodeHandle;
  client: MerkleKVClient;
  logs: string[];
  close(): Promise<void>;
}

function nodeConfig(nodeId: string, broker: string | null, replication = {}): Config {
  const config = structuredClone(DEFAULT_CONFIG) as Config;
  config.nodeId = nodeId;
  config.bindPort = 0;
  config.mqttBrokerAddress = broker;
  config.antiEntropy.intervalMs = 0;
  config.replication = {
    ...config.replication,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...replication,
  };
  return config;
}

async function startTestNode(config: Config): Promise<TestNode> {
  const logs: string[] = [];
  const handle = await startNode(config, new Logger("debug", (line) => logs.push(line)));
  const client = await MerkleKVClient.connect({ port: handle.port });
  return {
    handle,
    client,
    logs,
    async close() {
      await handle.close();
      await client.close();
    },
  };
}

async function info(node: TestNode, field: string): Promise<string | undefined> {
  return (await node.client.info()).get(field);
}

function waitForInfo(node: TestNode, field: string, expected: string, timeoutMs = 5_000) {
  return waitUntil(
    `${field} = ${expected}`,
    async () => (await info(node, field)) === expected,
    timeoutMs,
    10,
  );
}

Deno.test("startReplication() returns null without mqtt_broker_address (standalone)", () => {
  const config = nodeConfig("solo", null);
  const store = new Store({
    nodeId: "solo",
    clock: systemClock,
    tombstoneGraceMs: 1,
    maxClockSkewMs: 1,
  });
  const context = {
    config,
    store,
    remote: { applyRemote: () => ({ applied: 0, stale: 0, future: 0, invalid: 0 }) },
    log: new Logger("error", () => {}),
    clientPort: config.bindPort,
  };
  assert.equal(startReplication(context, { onReconnect: () => {} }), null);
});

Deno.test("startReplication() names the file when replication.ca_file cannot be read", () => {
  const config = nodeConfig("tls", "mqtts://127.0.0.1:1", { caFile: "/nonexistent/ca.pem" });
  const store = new Store({
    nodeId: "tls",
    clock: systemClock,
    tombstoneGraceMs: 1,
    maxClockSkewMs: 1,
  });
  const context = {
    config,
    store,
    remote: { applyRemote: () => ({ applied: 0, stale: 0, future: 0, invalid: 0 }) },
    log: new Logger("error", () => {}),
    clientPort: config.bindPort,
  };
  assert.throws(
    () => startReplication(context, { onReconnect: () => {} }),
    /Cannot read replication.ca_file "\/nonexistent\/ca.pem"/,
  );
});

Deno.test("a node whose broker is not up yet serves clients and connects once the broker starts", async () => {
  const port = await freePort();
  const node = await startTestNode(nodeConfig("early", `mqtt://127.0.0.1:${port}`));
  let broker: Mosquitto | null = null;
  try {
    await node.client.set("before", "broker");
    assert.equal(await node.client.get("before"), "broker");
    await waitForInfo(node, "replication_broker", "disconnected");
    assert.equal(await info(node, "replication_outbox_changes"), "1");
    broker = await Mosquitto.start({ port });
    await waitForInfo(node, "replication_broker", "connected");
    // The change that waited is published once connected.
    await waitForInfo(node, "replication_events_published", "1");
    assert.equal(await info(node, "replication_outbox_changes"), "0");
    assert.ok(node.logs.some((line) => line.includes('"replication_connect_failed"')));
    assert.ok(node.logs.some((line) => line.includes('"replication_connected"')));
  } finally {
    await node.close();
    await broker?.cleanup();
  }
});

Deno.test("while the broker is down the outbox keeps the newest max_pending_publishes changes and counts the dropped", async () => {
  const broker = await Mosquitto.start();
  const writer = await startTestNode(nodeConfig("writer", broker.url, { maxPendingPublishes: 10 }));
  try {
    await waitForInfo(writer, "replication_broker", "connected");
    await broker.stop("SIGKILL");
    await waitForInfo(writer, "replication_broker", "disconnected");
    await writer.client.pipeline(
      Array.from({ length: 25 }, (_, index) => `SET k${index} v${index}`),
    );
    assert.equal(await writer.client.get("k24"), "v24");
    assert.equal(await info(writer, "replication_outbox_changes"), "10");
    assert.equal(await info(writer, "replication_outbox_dropped"), "15");
    assert.ok(writer.logs.some((line) => line.includes('"replication_outbox_overflow"')));
    await broker.restart();
    await waitForInfo(writer, "replication_broker", "connected");
    await waitForInfo(writer, "replication_events_published", "10");
    assert.equal(await info(writer, "replication_outbox_changes"), "0");
    assert.equal(await info(writer, "replication_connections"), "2");
  } finally {
    await writer.close();
    await broker.cleanup();
  }
});

Deno.test("two in-process nodes replicate through the broker and a clean close() clears the announcement", async () => {
  const broker = await Mosquitto.start();
  const a = await startTestNode(nodeConfig("in-a", broker.url));
  const b = await startTestNode(nodeConfig("in-b", broker.url));
  try {
    await waitForInfo(a, "replication_broker", "connected");
    await waitForInfo(b, "replication_broker", "connected");
    await a.client.set("hello", "world");
    await waitUntil("hello on b", async () => (await b.client.get("hello")) === "world", 5_000, 5);
    await waitForInfo(b, "replication_peers", `127.0.0.1:${a.handle.port}`);
    assert.equal(await info(b, "replication_events_applied"), "1");
    await a.close();
    await waitUntil(
      "b to see a leave",
      () => b.logs.some((line) => line.includes('"replication_peer_gone"')),
      5_000,
      10,
    );
    assert.equal(await info(b, "replication_peer_count"), "1", "kept for the grace period");
  } finally {
    await a.close();
    await b.close();
    await broker.cleanup();
  }
});
