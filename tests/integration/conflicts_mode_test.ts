/**
 * conflicts.mode must agree between peers (see docs/consistency.md, Mode agreement): two node
 * processes on one real Mosquitto, one in lww mode and one in record mode. Writes do not cross
 * in either direction, each node logs conflicts_mode_mismatch naming the peer and both modes and
 * counts it, both keep serving their clients, and an anti-entropy SYNC between them is refused.
 */

import assert from "node:assert/strict";
import { withCluster } from "../_support/replication_cluster.ts";
import { delay, waitUntil } from "../_support/ports.ts";

const MODES: Record<string, string> = { "node-a": "lww", "node-b": "record" };

function mismatchLines(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((line) => line.includes('"conflicts_mode_mismatch"'))
    .map((line) => JSON.parse(line));
}

Deno.test("a node does not merge the changes of a peer in another conflicts mode, logs it, and keeps serving", async () => {
  await withCluster({
    size: 2,
    nodeEnv: (nodeId) => ({ MERKLEKV_CONFLICTS_MODE: MODES[nodeId] ?? "lww" }),
  }, async (cluster) => {
    const [a, b] = [cluster.client(0), cluster.client(1)];
    await waitUntil("both nodes announced", async () => {
      const infos = await Promise.all([cluster.info(0), cluster.info(1)]);
      return infos.every((info) => info.get("replication_peer_count") === "1");
    }, 10_000);
    await a.set("from-a", "1");
    await b.set("from-b", "2");
    // Each write was published and would have arrived by now; neither crossed.
    await waitUntil("both writes published", async () => {
      const infos = await Promise.all([cluster.info(0), cluster.info(1)]);
      return infos.every((info) => info.get("replication_events_published") === "1");
    }, 5_000);
    await delay(300);
    assert.equal(await b.get("from-a"), null);
    assert.equal(await a.get("from-b"), null);
    for (const [index, peer] of [[0, "node-b"], [1, "node-a"]] as const) {
      const info = await cluster.info(index);
      assert.ok(
        Number(info.get("conflicts_mode_mismatches")) >= 2,
        `${info.get("conflicts_mode")}`,
      );
      const [line] = mismatchLines(cluster.node(index).stderr());
      assert.equal(line?.level, "warn");
      assert.equal(line?.peer, peer);
      assert.equal(line?.peer_mode, MODES[peer]);
      assert.equal(line?.local_mode, MODES[cluster.node(index).nodeId]);
    }
    assert.equal((await cluster.info(1)).get("conflicts_mode"), "record");
    // Clients are still served on both.
    assert.equal(await a.get("from-a"), "1");
    assert.equal(await b.get("from-b"), "2");
  });
});

Deno.test("an anti-entropy SYNC between nodes in different conflicts modes is refused with the reason", async () => {
  await withCluster({
    size: 2,
    nodeEnv: (nodeId) => ({ MERKLEKV_CONFLICTS_MODE: MODES[nodeId] ?? "lww" }),
  }, async (cluster) => {
    const [a, b] = [cluster.client(0), cluster.client(1)];
    await a.set("only-on-a", "1");
    const portOf = (index: number) => cluster.node(index).port;
    await waitUntil("both nodes announced", async () => {
      const infos = await Promise.all([cluster.info(0), cluster.info(1)]);
      return infos.every((info) => info.get("replication_peer_count") === "1");
    }, 10_000);
    // From the record node: the lww peer states no mode and refuses the stated one.
    const [fromB] = await b.request(`SYNC 127.0.0.1 ${portOf(0)}`);
    assert.match(
      fromB ?? "",
      /^ERROR sync with 127\.0\.0\.1:\d+ failed: .*conflicts mode mismatch: node-b runs record, this node runs lww/,
    );
    // From the lww node: the record peer refuses the HELLO that states no mode.
    const [fromA] = await a.request(`SYNC 127.0.0.1 ${portOf(1)}`);
    assert.match(fromA ?? "", /conflicts mode mismatch: node-a runs lww, this node runs record/);
    assert.equal(await b.get("only-on-a"), null);
    assert.ok(Number((await cluster.info(0)).get("conflicts_mode_mismatches")) >= 1);
  });
});
