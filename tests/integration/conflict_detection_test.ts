/**
 * Conflict detection between real node processes in conflicts mode record (see
 * docs/causality.md): writes that follow one another through different nodes are never
 * conflicts; writes on both sides of a partition are, once per pair on every node, the winner's
 * included, whether the partition heals through the broker or through anti-entropy alone.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { delay, freePort, waitUntil } from "../_support/ports.ts";
import { withPeers } from "../_support/peers.ts";
import { type Cluster, withCluster } from "../_support/replication_cluster.ts";

const RECORD = '[conflicts]\nmode = "record"';
const FAST_RECONNECT = "[replication]\nreconnect_min_ms = 20\nreconnect_max_ms = 200";

async function conflictsDetected(client: MerkleKVClient): Promise<number> {
  return Number((await client.info()).get("conflicts_detected"));
}

async function read(client: MerkleKVClient, key: string): Promise<string> {
  const [line] = await client.request(`GET ${key}`);
  return line ?? "";
}

async function allConflicts(clients: readonly MerkleKVClient[]): Promise<number[]> {
  return await Promise.all(clients.map(conflictsDetected));
}

Deno.test("writes made one after another through different nodes are never conflicts (record mode, three nodes)", async () => {
  await withCluster({ size: 3, toml: RECORD }, async (cluster) => {
    let expected = "";
    for (let i = 0; i < 18; i++) {
      const writer = cluster.client(i % 3);
      const next = cluster.client((i + 1) % 3);
      // Every fifth write a DEL: tombstones take part like values.
      if (i % 5 === 4) {
        assert.deepEqual(await writer.request("DEL seq"), ["DELETED"]);
        expected = "NOT_FOUND";
      } else {
        await writer.set("seq", `v${i}`);
        expected = `VALUE v${i}`;
      }
      // The next write is made only once its node has this one: it follows it causally.
      await waitUntil(
        `write ${i} on the next node`,
        async () => {
          return (await read(next, "seq")) === expected;
        },
        10_000,
        5,
      );
    }
    await cluster.waitConverged(10_000);
    assert.deepEqual(await allConflicts(cluster.clients), [0, 0, 0]);
  });
});

/** Waits until every node has the same HASH, then a little for late batches; its conflicts. */
async function settledConflicts(cluster: Cluster): Promise<number[]> {
  await cluster.waitConverged(15_000);
  await delay(300);
  await cluster.waitConverged(5_000);
  return await allConflicts(cluster.clients);
}

Deno.test("writes on both sides of a broker outage are one conflict per pair on every node, the winner's included", async () => {
  const options = {
    size: 3,
    // A batch replayed before a peer has subscribed again is lost to it (clean sessions):
    // anti-entropy repairs that, as it does in production.
    antiEntropyIntervalMs: 500,
    toml: `${RECORD}\n${FAST_RECONNECT}`,
    nodeEnv: () => ({ MERKLEKV_LOG_LEVEL: "debug" }),
  };
  await withCluster(options, async (cluster) => {
    const [a, b, c] = [cluster.client(0), cluster.client(1), cluster.client(2)];
    // A version every node has before the outage: both writes of k3 below follow it.
    await c.set("k3", "before");
    await waitUntil(
      "k3 on every node",
      async () => {
        const reads = await Promise.all([a, b].map((client) => read(client, "k3")));
        return reads.every((line) => line === "VALUE before");
      },
      10_000,
      5,
    );
    await cluster.broker.stop("SIGKILL");
    // Three keys, each written on two of the three nodes, none of which sees the other write.
    await a.set("k1", "from-a");
    await b.set("k1", "from-b");
    await b.set("k2", "from-b");
    await c.set("k2", "from-c");
    await a.set("k3", "from-a");
    assert.deepEqual(await c.request("DEL k3"), ["DELETED"]);
    // Concurrent increments of one counter merge: never a conflict.
    await a.request("INC hits");
    await b.request("INC hits");
    await cluster.broker.restart();
    await cluster.waitConnected();
    assert.deepEqual(await settledConflicts(cluster), [3, 3, 3]);
    // Each pair is logged once at debug level, naming the key, the winner and the loser.
    for (const node of cluster.nodes) {
      const lines = node.stderr().split("\n").filter((line) =>
        line.includes('"conflict_detected"')
      );
      assert.equal(lines.length, 3, `${node.nodeId}: ${lines.join("\n")}`);
      const keys = lines.map((line) => JSON.parse(line).key).sort();
      assert.deepEqual(keys, ["k1", "k2", "k3"]);
      for (const line of lines) {
        assert.match(line, /"winner":"node-[abc]@\d+","loser":"node-[abc]@\d+"/);
      }
    }
    for (const client of [a, b, c]) assert.equal(await read(client, "hits"), "VALUE 2");
    // A write that saw the conflict resolves it: nothing more is detected anywhere.
    await c.set("k1", "resolved");
    await waitUntil(
      "the resolving write everywhere",
      async () => {
        const reads = await Promise.all([a, b].map((client) => read(client, "k1")));
        return reads.every((line) => line === "VALUE resolved");
      },
      10_000,
      5,
    );
    assert.deepEqual(await settledConflicts(cluster), [3, 3, 3]);
  });
});

Deno.test("anti-entropy alone (no broker) detects writes made on two nodes before they synced", async () => {
  const ports = [await freePort(), await freePort()];
  const toml = `${RECORD}\n[anti_entropy]\ninterval_ms = 200\njitter_ms = 20`;
  const nodes: NodeProcess[] = [];
  const clients: MerkleKVClient[] = [];
  try {
    for (const [i, port] of ports.entries()) {
      nodes.push(await NodeProcess.start({ nodeId: `node-${i}`, port, toml }));
    }
    for (const node of nodes) clients.push(await node.connect());
    const [zero, one] = clients as [MerkleKVClient, MerkleKVClient];
    for (let k = 0; k < 4; k++) {
      await zero.set(`key-${k}`, "from-0");
      await one.set(`key-${k}`, "from-1");
    }
    // Only now do the nodes learn of each other.
    for (const [i, client] of clients.entries()) {
      const other = ports[1 - i];
      assert.deepEqual(await client.request(`CONFIG SET anti_entropy.peers 127.0.0.1:${other}`), [
        "OK",
      ]);
    }
    await waitUntil("equal HASH and four conflicts on both nodes", async () => {
      const hashes = await Promise.all(clients.map((client) => client.hash()));
      const counts = await allConflicts(clients);
      return hashes[0] === hashes[1] && counts.every((count) => count === 4);
    }, 15_000);
    await delay(600); // three more rounds: nothing is counted twice
    assert.deepEqual(await allConflicts(clients), [4, 4]);
    const values = await Promise.all(clients.map((client) => read(client, "key-0")));
    assert.equal(values[0], values[1]);
  } catch (error) {
    for (const node of nodes) console.error(`--- ${node.nodeId}:\n${node.stderr()}`);
    throw error;
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    for (const node of nodes) await node.cleanup();
  }
});

Deno.test("in the default mode lww nothing is detected and INFO conflicts_detected stays 0", async () => {
  await withCluster(
    { size: 2, antiEntropyIntervalMs: 500, toml: FAST_RECONNECT },
    async (cluster) => {
      await cluster.broker.stop("SIGKILL");
      await cluster.client(0).set("k", "from-a");
      await cluster.client(1).set("k", "from-b");
      await cluster.broker.restart();
      await cluster.waitConnected();
      assert.deepEqual(await settledConflicts(cluster), [0, 0]);
    },
  );
});

Deno.test("a node restarted from its data directory (kill -9, then SIGTERM) keeps what it detected and counts nothing again", async () => {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  const options = (i: number) => ({
    dataDir: dirs[i],
    env: { MERKLEKV_CONFLICTS_MODE: "record" },
  });
  try {
    await withPeers(2, 0, options, async (nodes, clients, ports) => {
      const sync = async () => {
        const [reply] = await clients[0]!.request(`SYNC 127.0.0.1 ${ports[1]}`);
        assert.match(reply ?? "", /^OK/);
      };
      await clients[0]!.set("k", "from-0");
      await clients[1]!.set("k", "from-1");
      await sync();
      await sync(); // the second session carries the loser to the winner's node
      const hashes = await Promise.all(clients.map((client) => client.hash()));
      assert.equal(hashes[0], hashes[1]);
      assert.deepEqual(await allConflicts(clients), [1, 1]);
      for (const signal of ["SIGKILL", "SIGTERM"] as const) {
        const victim = nodes[1]!;
        await clients[1]!.close().catch(() => {});
        if (signal === "SIGKILL") await victim.kill();
        else await victim.stop(signal);
        await victim.restart();
        clients[1] = await victim.connect();
        // The losers came back from the disk (the same tree), and recovery detected nothing.
        assert.equal(await clients[1].hash(), hashes[0], `after ${signal}`);
        assert.equal(await conflictsDetected(clients[1]), 0, `after ${signal}`);
        await sync();
        assert.equal(await conflictsDetected(clients[1]), 0, `after ${signal} and a sync`);
      }
    });
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});
