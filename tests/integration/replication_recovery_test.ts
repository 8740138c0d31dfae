/**
 * When MQTT loses changes (the broker dies, a node restarts without its data), anti-entropy
 * is the net under replication: the cluster converges within two anti-entropy intervals.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { type Cluster, withCluster } from "../_support/replication_cluster.ts";
import { delay, waitUntil } from "../_support/ports.ts";

const INTERVAL_MS = 1000;
const FAST_RECONNECT = "[replication]\nreconnect_min_ms = 20\nreconnect_max_ms = 200";

/** key -> the value (null = deleted) that must win on every node. */
type Model = Map<string, string | null>;

/** Writes until stopped: each node its own keys (so the last write wins), pipelined by 20. */
function startWriteLoad(clients: MerkleKVClient[], model: Model) {
  let running = true;
  let rounds = 0;
  const writers = clients.map(async (client, node) => {
    for (let round = 0; running; round++) {
      const lines: string[] = [];
      const batch = new Map<string, string | null>();
      for (let index = 0; index < 20; index++) {
        const key = `load-${node}-${(round * 20 + index) % 500}`;
        const value = index % 7 === 6 ? null : `r${round}i${index}`;
        lines.push(value === null ? `DEL ${key}` : `SET ${key} ${value}`);
        batch.set(key, value);
      }
      const replies = await client.pipeline(lines);
      for (const [line] of replies) {
        assert.ok(line !== undefined, "a reply line per write");
        assert.match(line, /^(OK|DELETED|NOT_FOUND)$/);
      }
      for (const [key, value] of batch) model.set(key, value);
      rounds++;
      await delay(2);
    }
  });
  return {
    rounds: () => rounds,
    stop: async () => {
      running = false;
      await Promise.all(writers);
    },
  };
}

async function assertModel(cluster: Cluster, model: Model): Promise<void> {
  const keys = [...model.keys()];
  for (const [node, client] of cluster.clients.entries()) {
    const replies = await client.pipeline(keys.map((key) => `GET ${key}`));
    const wrong = keys.filter((key, index) => {
      const line = replies[index]?.[0];
      if (line === undefined) return true;
      return (line === "NOT_FOUND" ? null : line.slice("VALUE ".length)) !== model.get(key);
    });
    assert.deepEqual(wrong.slice(0, 5), [], `node ${node} differs from the model`);
  }
}

Deno.test("with the broker killed under write load every node keeps answering, and after its restart all converge within two anti-entropy intervals", async () => {
  await withCluster({
    size: 3,
    antiEntropyIntervalMs: INTERVAL_MS,
    toml: FAST_RECONNECT,
  }, async (cluster) => {
    const model: Model = new Map();
    const load = startWriteLoad(cluster.clients, model);
    await delay(300);
    await cluster.broker.stop("SIGKILL");
    const roundsAtKill = load.rounds();
    await delay(700);
    // Contested keys, written while the broker is down, one node after the other: the last
    // write is the newest version, so it must win everywhere.
    for (let round = 0; round < 6; round++) {
      const node = round % 3;
      await cluster.client(node).pipeline(
        Array.from({ length: 20 }, (_, key) => `SET contested-${key} round${round}-node${node}`),
      );
      for (let key = 0; key < 20; key++) model.set(`contested-${key}`, `round${round}-node${node}`);
      await delay(5);
    }
    await load.stop();
    assert.ok(load.rounds() > roundsAtKill, "the nodes stopped answering writes");
    for (const client of cluster.clients) assert.deepEqual(await client.request("PING"), ["PONG"]);
    const outboxes = await Promise.all(
      cluster.clients.map(async (client) =>
        (await client.info()).get("replication_outbox_changes")
      ),
    );
    assert.ok(outboxes.some((size) => size !== "0"), "changes should wait in the outbox");

    const restartedAt = Date.now();
    await cluster.broker.restart();
    await cluster.waitConverged(2 * INTERVAL_MS + 1000);
    await assertModel(cluster, model);
    const elapsedMs = Date.now() - restartedAt;
    assert.ok(elapsedMs <= 2 * INTERVAL_MS + 1000, `converged after ${elapsedMs} ms`);
    await cluster.waitConnected();
  });
});

Deno.test("a node killed and restarted without data is repopulated from its peers", async () => {
  await withCluster({
    size: 3,
    antiEntropyIntervalMs: INTERVAL_MS,
    toml: FAST_RECONNECT,
  }, async (cluster) => {
    await Promise.all(
      cluster.clients.map((client, node) =>
        client.pipeline(
          Array.from({ length: 700 }, (_, index) => `SET before-${node}-${index} v${index}`),
        )
      ),
    );
    await cluster.waitConverged(5_000);
    const restarted = cluster.node(2);
    await restarted.kill();
    await cluster.client(2).close();
    // Its last will cleared its announcement.
    await waitUntil(
      "node a to see node c's will",
      () => /"event":"replication_peer_gone"[^\n]*"peer":"node-c"/.test(cluster.node(0).stderr()),
      5_000,
      10,
    );
    // Written while it is down: the broker keeps these in its session for the node.
    await cluster.client(0).pipeline(
      Array.from({ length: 100 }, (_, index) => `SET during-${index} x`),
    );
    await restarted.restart();
    cluster.clients[2] = await restarted.connect();
    await cluster.waitConverged(2 * INTERVAL_MS + 2000);
    assert.equal(await cluster.client(2).get("before-0-699"), "v699");
    assert.equal(await cluster.client(2).get("during-99"), "x");
    assert.equal((await cluster.client(2).info()).get("keys"), "2200");
  });
});

Deno.test("with the broker stopped, nodes known only from their announcements still sync through anti-entropy", async () => {
  await withCluster({
    size: 2,
    antiEntropyIntervalMs: 300,
    configurePeers: false,
    toml: FAST_RECONNECT,
  }, async (cluster) => {
    for (const index of [0, 1]) {
      await waitUntil(
        `node ${index} to discover the other`,
        async () => {
          return (await cluster.info(index)).get("replication_peer_count") === "1";
        },
        5_000,
        10,
      );
    }
    // A clean broker stop publishes every client's will: the announcements are cleared.
    await cluster.broker.stop("SIGTERM");
    await cluster.client(0).set("written", "while-the-broker-is-down");
    await waitUntil(
      "the write to reach node b by anti-entropy",
      async () => (await cluster.client(1).get("written")) === "while-the-broker-is-down",
      5_000,
      20,
    );
    assert.match(cluster.node(1).stderr(), /"event":"replication_peer_gone"/);
    await cluster.broker.restart();
    await cluster.waitConnected();
  });
});
