/**
 * A counter across kill -9 of a node under INC load, three node processes on a real Mosquitto
 * with data directories: what the peers saw of the killed node's contribution never exceeds
 * what its log holds, so after the restart its next increments build on every total a peer saw
 * and the cluster ends at exactly the sum the logs account for (see docs/consistency.md,
 * Crashes).
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import type { FsyncPolicy } from "../../src/config/types.ts";
import { recoverDataDir } from "../../src/persistence/recovery.ts";
import { decodeCounter } from "../../src/store/mod.ts";
import { Buffer } from "node:buffer";
import { Mosquitto } from "../_support/mosquitto.ts";
import type { NodeProcess } from "../_support/node_process.ts";
import { delay, waitUntil } from "../_support/ports.ts";
import { withPeers } from "../_support/peers.ts";
import { captureLog, newStore } from "../persistence/support.ts";

const KEY = "hits";
const PIPELINE = 20;
/** INC on each of the two nodes that stay up. */
const STEADY_INCREMENTS = 300;
/** Connections that keep INC in flight on the node to kill, until it dies. */
const VICTIM_CONNECTIONS = 3;
/** INC on the restarted node before the nodes sync: fewer than a pipeline in flight. */
const AFTER_RESTART = 5;
/** Kills of the same node, each while its increments are in flight. */
const KILL_ROUNDS = 5;

/** INC of KEY in pipelines until `count` are acknowledged (Infinity: until the node dies). */
async function increment(
  client: MerkleKVClient,
  count: number,
  acked: (n: number) => void,
): Promise<void> {
  for (let sent = 0; sent < count; sent += PIPELINE) {
    const n = Math.min(PIPELINE, count - sent);
    const replies = await client.pipeline(Array.from({ length: n }, () => `INC ${KEY}`));
    for (const [line] of replies) assert.match(line ?? "", /^VALUE \d+$/);
    acked(n);
  }
}

/** `node`'s contribution to KEY's counter as `client`'s node holds it (SYNC GET), 0n if none. */
async function contributionOn(client: MerkleKVClient, node: string): Promise<bigint> {
  const [header, line] = await client.request(`SYNC GET 2 ${KEY}`);
  if (header === "ENTRIES 0") return 0n;
  assert.equal(header, "ENTRIES 1");
  const state = (line ?? "").split(" ")[4] ?? "";
  assert.ok(state.startsWith("#"), `a counter entry: ${line}`);
  const bytes = Buffer.from(state.slice(1), "base64");
  const decoded = decodeCounter(bytes, 0, bytes.length);
  assert.ok(decoded.ok, `the counter state decodes: ${line}`);
  const own = decoded.state.contributions.find((contribution) => contribution.node === node);
  return own === undefined ? 0n : own.increments - own.decrements;
}

/** `node`'s contribution to KEY in the data directory `dir` (read as recovery reads it). */
function contributionLogged(dir: string, node: string): bigint {
  const store = newStore("reader");
  recoverDataDir(dir, store, captureLog().log);
  const own = store.entry(KEY)?.counter?.contributions.find((c) => c.node === node);
  return own === undefined ? 0n : own.increments - own.decrements;
}

/** Waits until every client reads the same value of KEY; returns it. */
async function converged(clients: readonly MerkleKVClient[]): Promise<bigint> {
  let last: string[] = [];
  await waitUntil("the same value on every node", async () => {
    last = await Promise.all(
      clients.map(async (client) => (await client.request(`GET ${KEY}`))[0] ?? ""),
    );
    return last.every((line) => line === last[0]);
  }, 15_000).catch((error) => {
    throw new Error(`${(error as Error).message}; read: ${last.join(", ")}`);
  });
  return BigInt((last[0] ?? "").slice("VALUE ".length));
}

/** What the two peers hold of `node`'s contribution once it stays the same for 300 ms. */
async function settledPeerView(peers: readonly MerkleKVClient[], node: string): Promise<bigint> {
  let previous = -1n;
  for (;;) {
    const views = await Promise.all(peers.map((peer) => contributionOn(peer, node)));
    const highest = views.reduce((a, b) => (a > b ? a : b));
    if (highest === previous) return highest;
    previous = highest;
    await delay(300);
  }
}

interface Cluster {
  nodes: NodeProcess[];
  clients: MerkleKVClient[];
  ports: number[];
  dirs: string[];
}

async function withDurableCluster(
  policy: FsyncPolicy,
  body: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const broker = await Mosquitto.start();
  const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir()));
  const topLevel = `mqtt_broker_address = "${broker.url}"\nfsync = "${policy}"`;
  try {
    // No timer sessions (interval 0): the test runs SYNC itself once the restarted node has
    // written.
    await withPeers(
      3,
      0,
      (i) => ({ dataDir: dirs[i], topLevel }),
      async (nodes, clients, ports) => {
        for (const client of clients) {
          await waitUntil(
            "connected to the broker",
            async () => (await client.info()).get("replication_broker") === "connected",
            15_000,
          );
        }
        await body({ nodes, clients, ports, dirs });
      },
    );
  } finally {
    await broker.cleanup();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
}

/** Starts VICTIM_CONNECTIONS clients on `node` that INC until it dies; resolves when they end. */
async function incrementUntilKilled(
  node: NodeProcess,
  acked: (n: number) => void,
): Promise<() => Promise<void>> {
  const clients = await Promise.all(
    Array.from({ length: VICTIM_CONNECTIONS }, () => node.connect()),
  );
  const running = clients.map((client) =>
    increment(client, Infinity, acked).then(
      () => assert.fail("INC stopped before the node was killed"),
      () => client.close().catch(() => {}),
    )
  );
  return async () => {
    await Promise.all(running);
  };
}

/**
 * STEADY_INCREMENTS on each peer while `victim` takes INC on VICTIM_CONNECTIONS connections,
 * then kill -9 of `victim` once 200 more of its increments are acknowledged; returns how many
 * INC the peers and the victim acknowledged (the victim's added to `victimAcked`).
 */
async function loadAndKill(
  victim: NodeProcess,
  peers: readonly MerkleKVClient[],
  victimAcked: bigint,
): Promise<{ steady: number; victim: bigint }> {
  let steady = 0;
  let acked = victimAcked;
  const ended = await incrementUntilKilled(victim, (n) => acked += BigInt(n));
  const floor = acked + 200n;
  await Promise.all(peers.map((peer) => increment(peer, STEADY_INCREMENTS, (n) => steady += n)));
  await waitUntil("increments acknowledged on the node to kill", () => acked >= floor, 30_000, 5);
  await victim.kill();
  await ended();
  return { steady, victim: acked };
}

/** SYNC of `client`'s node with the nodes on `ports`, each answered OK. */
async function syncWith(client: MerkleKVClient, ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const [reply] = await client.request(`SYNC 127.0.0.1 ${port}`);
    assert.match(reply ?? "", /^OK/);
  }
}

async function killUnderLoadAndRestart(policy: FsyncPolicy): Promise<void> {
  await withDurableCluster(policy, async ({ nodes, clients, dirs }) => {
    const victim = nodes[2]!;
    const victimDir = dirs[2]!;
    const peers = clients.slice(0, 2);
    let steadyAcked = 0;
    let victimAcked = 0n;
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const acked = await loadAndKill(victim, peers, victimAcked);
      steadyAcked += acked.steady;
      victimAcked = acked.victim;

      const seen = await settledPeerView(peers, "node-2");
      const logged = contributionLogged(victimDir, "node-2");
      assert.ok(logged >= victimAcked, `logged ${logged}, acknowledged ${victimAcked}`);
      // The property that keeps increments from being absorbed after the restart.
      assert.ok(
        seen <= logged,
        `round ${round}: peers saw ${seen} of node-2, its log holds ${logged}`,
      );

      await victim.restart();
      const restarted = await victim.connect();
      clients[2] = restarted;
      await increment(restarted, AFTER_RESTART, () => {});
      victimAcked = logged + BigInt(AFTER_RESTART);
      await syncWith(restarted, [nodes[0]!.port, nodes[1]!.port]);
      const total = await converged(clients);
      assert.equal(total, BigInt(steadyAcked) + victimAcked, `round ${round}`);
    }
  });
}

Deno.test("fsync always: a node killed with kill -9 under INC load, restarted, ends with every node at exactly the increments its log and its peers' logs hold", async () => {
  await killUnderLoadAndRestart("always");
});

Deno.test("fsync everysec: a node killed with kill -9 under INC load, restarted, ends with every node at exactly the increments its log and its peers' logs hold", async () => {
  await killUnderLoadAndRestart("everysec");
});

/** The newest log segment of `dir` cut short by `bytes`, as a crash of the machine leaves it. */
async function cutLogTail(dir: string, bytes: number): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (/^log\.\d+$/.test(entry.name)) names.push(entry.name);
  }
  const newest = names.sort().at(-1);
  assert.ok(newest !== undefined, `a log segment in ${dir}`);
  const file = `${dir}/${newest}`;
  const size = (await Deno.stat(file)).size;
  await Deno.truncate(file, Math.max(0, size - bytes));
}

Deno.test("fsync everysec: after a crash of the machine took the tail of a node's log, one sync before its next INC brings back the total its peers saw, and no new increment is absorbed", async () => {
  await withDurableCluster("everysec", async ({ nodes, clients, dirs }) => {
    const victim = nodes[2]!;
    const peers = clients.slice(0, 2);
    const acked = await loadAndKill(victim, peers, 0n);
    const seen = await settledPeerView(peers, "node-2");
    // The page cache the crash lost: the last records the node wrote, cut until the log holds
    // less of its own total than the peers saw.
    let logged = contributionLogged(dirs[2]!, "node-2");
    for (let cuts = 0; logged >= seen && cuts < 50; cuts++) {
      await cutLogTail(dirs[2]!, 4_000);
      logged = contributionLogged(dirs[2]!, "node-2");
    }
    assert.ok(logged < seen, `the log holds ${logged} of node-2, the peers saw ${seen}`);

    await victim.restart();
    const restarted = await victim.connect();
    clients[2] = restarted;
    await syncWith(restarted, [nodes[0]!.port, nodes[1]!.port]);
    assert.equal(await contributionOn(restarted, "node-2"), seen, "its own total came back");
    await increment(restarted, AFTER_RESTART, () => {});
    await syncWith(restarted, [nodes[0]!.port, nodes[1]!.port]);
    const total = await converged(clients);
    assert.equal(total, BigInt(acked.steady) + seen + BigInt(AFTER_RESTART));
  });
});
