/**
 * The replication path without a broker: changes go through the outbox and the codec, and the
 * "broker" delivers the messages to every other store in a random order, some twice. All
 * replicas must end equal to the model: for every key, the entry that wins compareEntries.
 */

import assert from "node:assert/strict";
import { decodeBatch, encodeBatch } from "../../src/replication/codec.ts";
import { Outbox } from "../../src/replication/outbox.ts";
import { compareEntries, type Entry } from "../../src/store/entry.ts";
import { Store } from "../../src/store/store.ts";
import { nth } from "../_support/nth.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const NODES = ["node-a", "node-b", "node-c"];

function runScenario(seed: number): void {
  const random = new SeededRandom(seed);
  let nowMs = 1_700_000_000_000;
  const clock = { nowMs: () => nowMs };
  const stores = NODES.map((nodeId) =>
    new Store({ nodeId, clock, tombstoneGraceMs: 86_400_000, maxClockSkewMs: 60_000 })
  );
  const outboxes = NODES.map(() => new Outbox(1_000_000));
  const messages: { from: number; bytes: Uint8Array }[] = [];
  const model = new Map<string, Entry>();
  for (let step = 0; step < 400; step++) {
    if (random.next() < 0.3) nowMs += Math.floor(random.next() * 3);
    const node = Math.floor(random.next() * NODES.length);
    const key = `k${Math.floor(random.next() * 40)}`;
    const store = nth(stores, node);
    const change = random.next() < 0.15
      ? store.write(key, null, 0)
      : store.write(key, `v${step}`, 0);
    const current = model.get(key);
    if (current === undefined || compareEntries(change, current) > 0) model.set(key, change);
    nth(outboxes, node).push([change]);
    // Now and then a node publishes what waits, in batches of up to 7 changes.
    if (random.next() < 0.2) flush(node);
  }
  NODES.forEach((_, node) => flush(node));

  function flush(node: number): void {
    for (;;) {
      const batch = nth(outboxes, node).take(7, 1 << 20);
      if (batch === null) return;
      const bytes = encodeBatch({ origin: nth(NODES, node), incarnation: 1, ...batch });
      messages.push({ from: node, bytes });
      if (random.next() < 0.2) messages.push({ from: node, bytes }); // QoS 1 redelivery
    }
  }

  // Deliver in a random order (Fisher-Yates).
  for (let index = messages.length - 1; index > 0; index--) {
    const other = Math.floor(random.next() * (index + 1));
    [messages[index], messages[other]] = [nth(messages, other), nth(messages, index)];
  }
  for (const message of messages) {
    const decoded = decodeBatch(message.bytes);
    assert.ok(decoded.ok);
    stores.forEach((store, node) => {
      if (node === message.from) return;
      for (const entry of decoded.batch.entries) store.applyRemote(entry);
    });
  }

  for (const [node, store] of stores.entries()) {
    for (const [key, winner] of model) {
      assert.deepEqual(store.entry(key), winner, `seed ${seed}, ${NODES[node]}, ${key}`);
    }
    assert.equal(store.rootHex(), stores[0]?.rootHex(), `seed ${seed}: roots differ`);
  }
}

Deno.test("replicas fed the same changes in any order, with duplicates, equal the merge model", () => {
  for (let seed = 1; seed <= 30; seed++) runScenario(seed);
});
