/**
 * Conflict detection between node processes whose clocks disagree (conflicts mode record; see
 * docs/causality.md): libfaketime (Debian package `faketime`) sets one node's clock 20 s behind
 * and another's 20 s ahead of the third. Version vectors, not clocks, decide what is concurrent:
 * writes that follow one another are never conflicts whichever way the clocks are skewed, and
 * writes on both sides of a partition always are, whichever node's clock is ahead.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { waitUntil } from "../_support/ports.ts";
import { type Cluster, withCluster } from "../_support/replication_cluster.ts";

const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const SKEW_SECONDS: Record<string, string> = { "node-a": "-20", "node-b": "+0", "node-c": "+20" };

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const ignore = !fileExists(LIBFAKETIME);
if (ignore) {
  console.warn(`skipping conflict_skew_test: ${LIBFAKETIME} not found (apt-get install faketime)`);
}

/** The environment that skews a node's clock; FAKETIME_NO_CACHE so the offset holds at once. */
function skewed(nodeId: string): Record<string, string> {
  return {
    LD_PRELOAD: LIBFAKETIME,
    FAKETIME: `${SKEW_SECONDS[nodeId] ?? "+0"}s`,
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
    FAKETIME_NO_CACHE: "1",
  };
}

const OPTIONS = {
  size: 3,
  antiEntropyIntervalMs: 500,
  toml:
    '[conflicts]\nmode = "record"\n[replication]\nreconnect_min_ms = 20\nreconnect_max_ms = 200',
  nodeEnv: skewed,
};

async function read(client: MerkleKVClient, key: string): Promise<string> {
  const [line] = await client.request(`GET ${key}`);
  return line ?? "";
}

async function conflicts(cluster: Cluster): Promise<number[]> {
  return await Promise.all(
    cluster.clients.map(async (client) => Number((await client.info()).get("conflicts_detected"))),
  );
}

/** The wall clock, in ms, of a node's HLC (`wall_ms × 1024 + counter`) after a local write. */
async function wallClockOf(client: MerkleKVClient, key: string): Promise<number> {
  await client.set(key, "probe");
  return Math.floor(Number((await client.info()).get("hlc")) / 1024);
}

/** Each node's clock is the skew it was given (written behind first: no HLC is pulled ahead). */
async function assertSkewed(cluster: Cluster): Promise<void> {
  const clocks: number[] = [];
  for (const [i, client] of cluster.clients.entries()) {
    clocks.push(await wallClockOf(client, `clock-${i}`));
  }
  const [behind, middle, ahead] = clocks as [number, number, number];
  assert.ok(middle - behind > 15_000, `node-b ${middle - behind} ms ahead of node-a`);
  assert.ok(ahead - middle > 15_000, `node-c ${ahead - middle} ms ahead of node-b`);
}

Deno.test({
  name:
    "with clocks 20 s apart, writes that follow one another through every node are never conflicts",
  ignore,
  fn: async () => {
    await withCluster(OPTIONS, async (cluster) => {
      await assertSkewed(cluster);
      // Around the ring both ways: each write made on a node whose clock is behind, then ahead.
      const order = [0, 1, 2, 0, 2, 1, 0, 2, 1, 2, 0, 1];
      for (const [i, index] of order.entries()) {
        const writer = cluster.client(index);
        await writer.set("seq", `v${i}`);
        const next = cluster.client(order[i + 1] ?? order[0]!);
        await waitUntil(
          `write ${i} on the next writer`,
          async () => {
            return (await read(next, "seq")) === `VALUE v${i}`;
          },
          10_000,
          5,
        );
      }
      await cluster.waitConverged(10_000);
      assert.deepEqual(await conflicts(cluster), [0, 0, 0]);
      for (const client of cluster.clients) assert.equal(await read(client, "seq"), "VALUE v11");
    });
  },
});

Deno.test({
  name:
    "with clocks 20 s apart, writes on both sides of a partition are conflicts whichever clock is ahead",
  ignore,
  fn: async () => {
    // Anti-entropy off: nothing crosses the partition until heal() runs SYNC between the nodes.
    await withCluster({ ...OPTIONS, antiEntropyIntervalMs: 0 }, async (cluster) => {
      await cluster.partition();
      // No node has seen another's write: each one's HLC is its own (skewed) wall clock.
      await assertSkewed(cluster);
      const [behind, middle, ahead] = [cluster.client(0), cluster.client(1), cluster.client(2)];
      // The node behind writes last in real time each time: its write still loses by HLC.
      await ahead.set("k1", "from-ahead");
      await behind.set("k1", "from-behind");
      await middle.set("k2", "from-middle");
      await behind.set("k2", "from-behind");
      await ahead.set("k3", "from-ahead");
      await middle.set("k3", "from-middle");
      await cluster.heal();
      await waitUntil("three conflicts on every node", async () => {
        const counts = await conflicts(cluster);
        return counts.every((count) => count === 3);
      }, 15_000);
      await cluster.waitConverged(10_000);
      assert.deepEqual(await conflicts(cluster), [3, 3, 3]);
      for (const client of cluster.clients) {
        assert.equal(await read(client, "k1"), "VALUE from-ahead");
        assert.equal(await read(client, "k2"), "VALUE from-middle");
        assert.equal(await read(client, "k3"), "VALUE from-ahead");
        const [header, ...records] = await client.request("CONFLICTS");
        assert.equal(header, "CONFLICTS 3");
        const byKey = new Map(records.map((line) => [line.split(" ")[0], line]));
        assert.match(byKey.get("k1") ?? "", /^k1 node-c@\d+ node-a@\d+ \d+$/);
        assert.match(byKey.get("k2") ?? "", /^k2 node-b@\d+ node-a@\d+ \d+$/);
        assert.match(byKey.get("k3") ?? "", /^k3 node-c@\d+ node-b@\d+ \d+$/);
      }
    });
  },
});
