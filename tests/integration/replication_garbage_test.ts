/**
 * Anything can be published on the replication topics. Garbage, truncated and foreign
 * messages are ignored and counted; the nodes keep serving and replicating.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encodeBatch } from "../../src/replication/codec.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import type { Entry } from "../../src/store/entry.ts";
import { ChangeObserver } from "../_support/change_observer.ts";
import { withCluster } from "../_support/replication_cluster.ts";
import { waitUntil } from "../_support/ports.ts";

function entry(key: string, value: string, node: string, atMs = Date.now()): Entry {
  return { key, value, hlc: hlcFromMs(atMs), node, expiresAtMs: 0 };
}

Deno.test("garbage, truncated and foreign messages on the topics are ignored, counted, and crash nothing", async () => {
  await withCluster({ size: 2 }, async (cluster) => {
    const publisher = await ChangeObserver.start(cluster.broker.url);
    try {
      const valid = encodeBatch({
        origin: "stranger",
        incarnation: 1,
        firstSequence: 1,
        entries: [entry("from-stranger", "hello", "stranger")],
      });
      const malformed: [string, Uint8Array | string][] = [
        ["merklekv/changes/evil", "this is not a batch"],
        ["merklekv/changes/evil", '{"key":"a","value":"b"}'],
        ["merklekv/changes/evil", new Uint8Array(0)],
        [
          "merklekv/changes/evil",
          Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) & 255)),
        ],
        ["merklekv/changes/stranger", valid.subarray(0, valid.length - 3)],
        ["merklekv/changes/stranger", Buffer.concat([Buffer.from([9]), valid.subarray(1)])],
        ["merklekv/changes/impostor", valid], // origin "stranger" on another node's topic
        ["merklekv/changes/bad id", valid],
        ["merklekv/nodes/evil", "not json"],
        ["merklekv/nodes/evil", '{"format":1,"node_id":"evil","address":"no port"}'],
        ["merklekv/nodes/evil", '{"format":1,"node_id":"other","address":"127.0.0.1:1"}'],
      ];
      for (const [topic, payload] of malformed) await publisher.publish(topic, payload);
      // A version ten minutes ahead of every clock here: rejected, not clamped.
      const future = encodeBatch({
        origin: "stranger",
        incarnation: 1,
        firstSequence: 2,
        entries: [entry("from-the-future", "x", "stranger", Date.now() + 600_000)],
      });
      await publisher.publish("merklekv/changes/stranger", future);
      // A well-formed batch from an unknown node is replication like any other.
      await publisher.publish("merklekv/changes/stranger", valid);

      for (const [index, client] of cluster.clients.entries()) {
        await waitUntil(
          `node ${index} to count every message`,
          async () => {
            const info = await cluster.info(index);
            return Number(info.get("replication_messages_received")) >= malformed.length + 2 + 1;
          },
          5_000,
          10,
        );
        const info = await cluster.info(index);
        assert.equal(info.get("replication_messages_malformed"), String(malformed.length));
        // Each malformed message counts as one rejected event, plus the one from the future.
        assert.equal(info.get("replication_events_rejected"), String(malformed.length + 1));
        assert.equal(info.get("replication_events_applied"), "1");
        assert.equal(await client.get("from-stranger"), "hello");
        assert.equal(await client.get("from-the-future"), null);
        assert.deepEqual(await client.request("PING"), ["PONG"]);
      }
      // Still replicating between the real nodes.
      await cluster.client(0).set("after", "garbage");
      await waitUntil(
        "the write after the garbage on node b",
        async () => (await cluster.client(1).get("after")) === "garbage",
        5_000,
        5,
      );
      assert.match(cluster.node(0).stderr(), /"event":"replication_message_rejected"/);
      assert.match(cluster.node(0).stderr(), /"event":"replication_clock_skew"/);
    } finally {
      await publisher.close();
    }
  });
});

Deno.test("a batch carrying a node's own origin is ignored by that node and applied by the others", async () => {
  await withCluster({ size: 2 }, async (cluster) => {
    const publisher = await ChangeObserver.start(cluster.broker.url);
    try {
      const own = encodeBatch({
        origin: "node-a",
        incarnation: 99,
        firstSequence: 1,
        entries: [entry("echo", "back", "node-a")],
      });
      await publisher.publish("merklekv/changes/node-a", own);
      await waitUntil(
        "node b to apply it",
        async () => (await cluster.client(1).get("echo")) === "back",
        5_000,
        5,
      );
      await waitUntil(
        "node a to ignore it",
        async () => {
          return (await cluster.info(0)).get("replication_events_ignored") === "1";
        },
        5_000,
        10,
      );
      assert.equal(await cluster.client(0).get("echo"), null);
    } finally {
      await publisher.close();
    }
  });
});
