/**
 * Replicator.flush(): what publish() queued leaves for the broker at once, not at the tick's
 * end (the log calls it after handing on a turn's changes). In-process node, real Mosquitto.
 */

import assert from "node:assert/strict";
import { type Config, DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { startNode } from "../../src/node/start_node.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { waitUntil } from "../_support/ports.ts";

Deno.test("Replicator.flush() takes what publish() queued out of the outbox at once, and the broker acknowledges it", async () => {
  const broker = await Mosquitto.start();
  const config = structuredClone(DEFAULT_CONFIG) as Config;
  config.nodeId = "flush-a";
  config.bindPort = 0;
  config.mqttBrokerAddress = broker.url;
  config.antiEntropy.intervalMs = 0;
  const node = await startNode(config, silentLogger);
  const field = (name: string) => String(node.core.infoFields().find(([key]) => key === name)?.[1]);
  try {
    await waitUntil("connected", () => field("replication_broker") === "connected", 5_000, 10);
    const replicator = node.core.parts.replicator;
    assert.ok(replicator !== null);
    const store = node.core.store;
    replicator.publish([store.write("a", "1", 0), store.write("b", "2", 0)]);
    assert.equal(field("replication_outbox_changes"), "2", "queued for the tick's end");
    replicator.flush();
    assert.equal(field("replication_outbox_changes"), "0", "taken at once");
    assert.equal(field("replication_inflight_messages"), "1");
    await waitUntil("acknowledged", () => field("replication_events_published") === "2", 5_000);
    replicator.flush();
    assert.equal(field("replication_inflight_messages"), "0", "nothing queued: nothing sent");
  } finally {
    await node.close();
    await broker.cleanup();
  }
});
