/**
 * Record mode end to end: three node processes on a real Mosquitto. A write of one key on two
 * nodes while the broker is down (a partition; anti-entropy runs only by hand, once the broker
 * is back) is a conflict every node records once, with the LWW winner; writes that follow each
 * other through different nodes are never recorded; CONFLICTS CLEAR empties the log; the log
 * comes back after a kill -9 and restart with data_dir.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { withCluster } from "../_support/replication_cluster.ts";
import { delay, waitUntil } from "../_support/ports.ts";

const FAST_RECONNECT = "[replication]\nreconnect_min_ms = 20\nreconnect_max_ms = 200";

async function conflicts(client: MerkleKVClient): Promise<string[]> {
  const [header, ...lines] = await client.request("CONFLICTS");
  assert.equal(header, `CONFLICTS ${lines.length}`);
  return lines;
}

/** `<key> <winner> <loser>` of each record (the time of detection differs by node). */
function pairs(lines: readonly string[]): string[] {
  return lines.map((line) => line.split(" ").slice(0, 3).join(" "));
}

function dot(text: string): { node: string; hlc: number } {
  const [node = "", hlc = ""] = text.split("@");
  return { node, hlc: Number(hlc) };
}

async function waitValue(clients: MerkleKVClient[], key: string, value: string): Promise<void> {
  await waitUntil(`${key} = ${value} on every node`, async () => {
    const values = await Promise.all(clients.map((client) => client.get(key)));
    return values.every((read) => read === value);
  }, 10_000);
}

Deno.test("record mode: a write on both sides of a partition is recorded once on every node, sequential writes never", async () => {
  const dataDirs = await Promise.all(
    [0, 1, 2].map(() => Deno.makeTempDir({ prefix: "merklekv-record-" })),
  );
  try {
    await withCluster({
      size: 3,
      toml: FAST_RECONNECT,
      nodeEnv: (nodeId) => ({
        MERKLEKV_CONFLICTS_MODE: "record",
        MERKLEKV_DATA_DIR: dataDirs[nodeId.charCodeAt(5) - 97]!,
      }),
    }, async (cluster) => {
      const clients = cluster.clients;
      const [a, b, c] = [cluster.client(0), cluster.client(1), cluster.client(2)];
      // Sequential writes through different nodes: each saw the one before.
      await a.set("seq", "1");
      await waitValue(clients, "seq", "1");
      await b.set("seq", "2");
      await waitValue(clients, "seq", "2");
      await c.set("seq", "3");
      await waitValue(clients, "seq", "3");
      for (const client of clients) assert.deepEqual(await conflicts(client), []);

      // The partition: nothing crosses while the broker is down (anti-entropy is off).
      await cluster.partition();
      await a.set("k", "from-a");
      await delay(5);
      await b.set("k", "from-b");
      await cluster.heal();
      await waitUntil("the pair on every node", async () => {
        const lists = await Promise.all(clients.map(conflicts));
        return lists.every((lines) => lines.length === 1);
      }, 15_000);
      const lists = await Promise.all(clients.map(conflicts));
      const [record] = pairs(lists[0]!);
      for (const lines of lists) assert.deepEqual(pairs(lines), [record]);
      const [key, winnerText, loserText] = record!.split(" ");
      const [winner, loser] = [dot(winnerText!), dot(loserText!)];
      assert.equal(key, "k");
      assert.deepEqual([winner.node, loser.node].sort(), ["node-a", "node-b"]);
      // The winner is the LWW maximum (HLC, then node id), and every node reads its value.
      assert.ok(
        winner.hlc > loser.hlc || (winner.hlc === loser.hlc && winner.node > loser.node),
        `${record}`,
      );
      await waitValue(clients, "k", winner.node === "node-a" ? "from-a" : "from-b");
      for (const lines of lists) {
        const detectedAt = Number(lines[0]!.split(" ")[3]);
        assert.ok(Math.abs(Date.now() - detectedAt) < 60_000, `${lines[0]}`);
      }

      // A write after the heal saw both versions: no new record anywhere.
      await c.set("k", "after");
      await waitValue(clients, "k", "after");
      await delay(200);
      for (const client of clients) assert.deepEqual(pairs(await conflicts(client)), [record]);
      assert.equal((await cluster.info(2)).get("conflict_log_entries"), "1");

      // kill -9 and restart with data_dir: the record is read back from the conflict file.
      await delay(1200);
      const nodeA = cluster.node(0);
      await nodeA.kill();
      await nodeA.restart();
      const restarted = await nodeA.connect();
      try {
        assert.deepEqual(pairs(await conflicts(restarted)), [record]);
        assert.deepEqual(await restarted.request("CONFLICTS CLEAR"), ["OK"]);
        assert.deepEqual(await conflicts(restarted), []);
      } finally {
        await restarted.close();
      }
      // CLEAR is this node's: the others keep their records.
      assert.deepEqual(pairs(await conflicts(b)), [record]);
    });
  } finally {
    for (const dir of dataDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
