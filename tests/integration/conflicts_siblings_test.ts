/**
 * Siblings mode end to end: three node processes on a real Mosquitto. A write of one key on two
 * nodes while the broker is down (a partition; anti-entropy runs only by hand, once the broker is
 * back) leaves both values on every node, GET lists them; a restart with data_dir keeps them;
 * RESOLVE on one node replaces them with one value on every node. A sibling keeps its expiry
 * (SET then EXPIRE): once past it, every node lists it as deleted, the restarted one included.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { withCluster } from "../_support/replication_cluster.ts";
import { delay, waitUntil } from "../_support/ports.ts";

const FAST_RECONNECT = "[replication]\nreconnect_min_ms = 20\nreconnect_max_ms = 200";

async function waitReply(clients: MerkleKVClient[], line: string, expected: string[]) {
  await waitUntil(`${line} answers ${expected.join(" | ")} on every node`, async () => {
    const replies = await Promise.all(clients.map((client) => client.request(line)));
    return replies.every((reply) => JSON.stringify(reply) === JSON.stringify(expected));
  }, 15_000);
}

async function siblingsHeld(client: MerkleKVClient): Promise<string | undefined> {
  return (await client.info()).get("siblings_held");
}

Deno.test("siblings mode: a write on both sides of a partition is kept on every node until RESOLVE, across a restart", async () => {
  const dataDirs = await Promise.all(
    [0, 1, 2].map(() => Deno.makeTempDir({ prefix: "merklekv-siblings-" })),
  );
  try {
    await withCluster({
      size: 3,
      toml: FAST_RECONNECT,
      nodeEnv: (nodeId) => ({
        MERKLEKV_CONFLICTS_MODE: "siblings",
        MERKLEKV_DATA_DIR: dataDirs[nodeId.charCodeAt(5) - 97]!,
      }),
    }, async (cluster) => {
      const clients = cluster.clients;
      const [a, b, c] = [cluster.client(0), cluster.client(1), cluster.client(2)];
      // Sequential writes through different nodes make no siblings.
      await a.set("seq", "1");
      await waitReply(clients, "GET seq", ["VALUE 1"]);
      await b.set("seq", "2");
      await waitReply(clients, "GET seq", ["VALUE 2"]);

      await cluster.partition();
      await a.set("k", "from a");
      await delay(5);
      await b.set("k", "from b");
      // t: a's value expires in 10 s and loses to b's later write; it stays a sibling.
      await a.set("t", "from a");
      assert.deepEqual(await a.request("EXPIRE t 10"), ["OK"]);
      await delay(5);
      await b.set("t", "from b");
      await b.set("seq", "3"); // b's own write over a version it saw: still no siblings
      await cluster.heal();
      await waitUntil("two siblings on every node", async () => {
        const lists = await Promise.all(clients.map((client) => client.siblings("k")));
        return lists.every((list) => list?.length === 2);
      }, 15_000);
      // Before its expiry the sibling lists its value (10 s is well past the merge).
      for (const client of clients) {
        const [header, winner, sibling] = await client.request("GET t");
        assert.equal(header, "SIBLINGS 2");
        assert.match(winner ?? "", /^node-b@[0-9]+ from b$/);
        assert.match(sibling ?? "", /^node-a@[0-9]+ from a$/);
      }
      const [reply] = await Promise.all([a.request("GET k")]);
      const [header, first, second] = reply;
      assert.equal(header, "SIBLINGS 2");
      // The LWW winner first (b wrote later), then the sibling; each `<node>@<hlc> <value>`.
      assert.match(first ?? "", /^node-b@[0-9]+ from b$/);
      assert.match(second ?? "", /^node-a@[0-9]+ from a$/);
      for (const client of clients) {
        assert.deepEqual(await client.request("GET k"), reply);
        assert.equal(await siblingsHeld(client), "2");
        // Other reads see the LWW winner; a key without siblings reads as ever.
        assert.deepEqual(await client.request("MGET k"), ["VALUES 1", "k from b"]);
        assert.deepEqual(await client.request("GET seq"), ["VALUE 3"]);
      }
      await assert.rejects(() => c.get("k"), /unexpected reply: .*SIBLINGS 2/);

      // kill -9 and restart with data_dir (after the log's fsync, everysec): siblings stay.
      await delay(1200);
      const nodeC = cluster.node(2);
      await nodeC.kill();
      await nodeC.restart();
      const restarted = await nodeC.connect();
      try {
        assert.deepEqual(await restarted.request("GET k"), reply);
        assert.equal(await siblingsHeld(restarted), "2");
        await waitUntil("the restarted node connected to the broker", async () => {
          return (await restarted.info()).get("replication_broker") === "connected";
        }, 15_000);
        // RESOLVE on one node: one value again on every node, the restarted one included.
        assert.deepEqual(await b.request("RESOLVE k merged value"), ["OK"]);
        const everyNode = [a, b, restarted];
        await waitReply(everyNode, "GET k", ["VALUE merged value"]);
        for (const client of everyNode) assert.equal(await siblingsHeld(client), "1");
        // Past its expiry, a's version of t is listed as deleted on every node: still a sibling.
        await waitUntil("t's expired sibling listed as deleted on every node", async () => {
          const replies = await Promise.all(everyNode.map((client) => client.request("GET t")));
          return replies.every(([header, winner, sibling]) =>
            header === "SIBLINGS 2" && /^node-b@[0-9]+ from b$/.test(winner ?? "") &&
            /^node-a@[0-9]+$/.test(sibling ?? "")
          );
        }, 15_000);
        assert.deepEqual(await a.request("RESOLVE t from b"), ["OK"]);
        await waitReply(everyNode, "GET t", ["VALUE from b"]);
        for (const client of everyNode) assert.equal(await siblingsHeld(client), "0");
      } finally {
        await restarted.close();
      }
    });
  } finally {
    for (const dir of dataDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
