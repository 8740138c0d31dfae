/**
 * Three nodes on one real Mosquitto broker: changes reach every node through MQTT alone
 * (anti-entropy is off here, so nothing else could carry them). A test client subscribed to
 * the change topics keeps the merge winner of every key: the model every replica must equal.
 */

import assert from "node:assert/strict";
import { ChangeObserver } from "../_support/change_observer.ts";
import { type Cluster, withCluster } from "../_support/replication_cluster.ts";
import { waitUntil } from "../_support/ports.ts";
import { nth } from "../_support/nth.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

/** Waits until the observer has seen every change the nodes say the broker acknowledged. */
async function waitObserved(cluster: Cluster, observer: ChangeObserver): Promise<void> {
  await waitUntil("the observer to see every published change", async () => {
    let published = 0;
    for (let index = 0; index < cluster.clients.length; index++) {
      const info = await cluster.info(index);
      published += Number(info.get("replication_events_published"));
      if (info.get("replication_outbox_changes") !== "0") return false;
      if (info.get("replication_inflight_messages") !== "0") return false;
    }
    return observer.changes === published;
  }, 10_000);
}

async function assertMatchesModel(cluster: Cluster, observer: ChangeObserver): Promise<void> {
  for (const [index, client] of cluster.clients.entries()) {
    const wrong = await observer.mismatches(client);
    assert.deepEqual(wrong.slice(0, 5), [], `node ${index} differs from the merge winners`);
  }
}

Deno.test("a write on each of three nodes is readable on all three", async () => {
  await withCluster({ size: 3 }, async (cluster) => {
    for (const [index, client] of cluster.clients.entries()) {
      await client.set(`key-${index}`, `value-from-${index}`);
    }
    for (const client of cluster.clients) {
      for (let index = 0; index < 3; index++) {
        await waitUntil(
          `key-${index} on every node`,
          async () => (await client.get(`key-${index}`)) === `value-from-${index}`,
          5_000,
          5,
        );
      }
    }
    await cluster.waitConverged(5_000);
    const info = await cluster.info(0);
    assert.equal(info.get("replication_broker"), "connected");
    assert.equal(info.get("replication_events_published"), "1");
    assert.equal(info.get("replication_events_applied"), "2");
    assert.equal(info.get("replication_peer_count"), "2");
  });
});

Deno.test("10,000 pipelined writes spread over three nodes leave equal HASH and the merge winners everywhere", async () => {
  await withCluster({ size: 3 }, async (cluster) => {
    const observer = await ChangeObserver.start(cluster.broker.url);
    try {
      const rng = new SeededRandom(4);
      const random = () => rng.next();
      const WRITES = 10_000;
      const PIPELINE = 250;
      // 2,000 keys for 10,000 writes: most keys are written on several nodes, some deleted.
      const lines: string[][] = [[], [], []];
      for (let index = 0; index < WRITES; index++) {
        const key = `k${Math.floor(random() * 2000)}`;
        const line = random() < 0.1 ? `DEL ${key}` : `SET ${key} v${index}`;
        nth(lines, index % 3).push(line);
      }
      await Promise.all(cluster.clients.map(async (client, node) => {
        const own = nth(lines, node);
        for (let start = 0; start < own.length; start += PIPELINE) {
          await client.pipeline(own.slice(start, start + PIPELINE));
        }
      }));
      const hash = await cluster.waitConverged(15_000);
      assert.notEqual(hash, "");
      await waitObserved(cluster, observer);
      await assertMatchesModel(cluster, observer);
      assert.equal(observer.undecodable, 0);
    } finally {
      await observer.close();
    }
  });
});

Deno.test("concurrent writes to the same keys on different nodes end with the same winner on every node", async () => {
  await withCluster({ size: 3 }, async (cluster) => {
    const observer = await ChangeObserver.start(cluster.broker.url);
    try {
      for (let round = 0; round < 20; round++) {
        // All three nodes write the same 50 keys at the same moment.
        await Promise.all(cluster.clients.map((client, node) =>
          client.pipeline(
            Array.from({ length: 50 }, (_, key) => `SET contested-${key} r${round}-n${node}`),
          )
        ));
      }
      await cluster.waitConverged(10_000);
      await waitObserved(cluster, observer);
      assert.equal(observer.winners.size, 50);
      await assertMatchesModel(cluster, observer);
    } finally {
      await observer.close();
    }
  });
});
