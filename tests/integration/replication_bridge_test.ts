/**
 * Scale-out: nodes attached to two different Mosquitto brokers, bridged to each other,
 * converge, and learn of each other through the bridged (retained) announcements.
 */

import assert from "node:assert/strict";
import { startBridgedBrokers } from "../_support/bridge.ts";
import { ChangeObserver } from "../_support/change_observer.ts";
import { Cluster } from "../_support/replication_cluster.ts";
import { waitUntil } from "../_support/ports.ts";

Deno.test("nodes on two bridged brokers converge to the same data and the merge winners", async () => {
  const brokers = await startBridgedBrokers();
  let cluster: Cluster | null = null;
  let observer: ChangeObserver | null = null;
  try {
    // Nodes a and c on the first broker, b and d on the second.
    cluster = await Cluster.start({ size: 4, brokers });
    observer = await ChangeObserver.start(brokers[0].url);
    await Promise.all(
      cluster.clients.map((client, node) =>
        client.pipeline(
          Array.from({ length: 500 }, (_, index) => `SET k${index % 300} n${node}-${index}`),
        )
      ),
    );
    await cluster.client(1).set("from-b", "via-bridge");
    await waitUntil(
      "node c (other broker) to read b's write",
      async () => (await cluster!.client(2).get("from-b")) === "via-bridge",
      5_000,
      5,
    );
    await cluster.waitConverged(10_000);
    await waitUntil(
      "the observer to see all 2,001 changes",
      () => observer!.changes === 2001,
      10_000,
    );
    for (const client of cluster.clients) {
      assert.deepEqual((await observer.mismatches(client)).slice(0, 5), []);
    }
    for (let index = 0; index < 4; index++) {
      await waitUntil(
        `node ${index} to discover the three others`,
        async () => {
          return (await cluster!.info(index)).get("replication_peer_count") === "3";
        },
        5_000,
        20,
      );
    }
  } finally {
    await observer?.close();
    await cluster?.close();
    await Promise.all(brokers.map((broker) => broker.cleanup()));
  }
});
