/**
 * Anti-entropy between real node processes with no broker: nodes that know only each other's
 * addresses (anti_entropy.peers) converge on their own; SYNC <host> <port> runs one session;
 * peers that answer garbage or nothing leave a node healthy.
 */

import assert from "node:assert/strict";
import { withFakeServer } from "../_support/fake_server.ts";
import type * as net from "node:net";
import { Buffer } from "node:buffer";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { nth } from "../_support/nth.ts";
import { delay, freePort, waitUntil } from "../_support/ports.ts";
import { FakeClock, keysInOneSegment, makeStore } from "../anti_entropy/harness.ts";

const INTERVAL_MS = 300;
const JITTER_MS = 50;
/** Two loop intervals, plus slack for processes sharing two cores with other tests. */
const CONVERGE_MS = 2 * (INTERVAL_MS + JITTER_MS) + 3000;

function antiEntropyToml(peers: number[], extra = ""): string {
  return [
    "[anti_entropy]",
    `interval_ms = ${INTERVAL_MS}`,
    `jitter_ms = ${JITTER_MS}`,
    `peers = [${peers.map((port) => `"127.0.0.1:${port}"`).join(", ")}]`,
    extra,
  ].join("\n");
}

interface Cluster {
  nodes: NodeProcess[];
  clients: MerkleKVClient[];
}

/** Starts `count` nodes, each listing every node (itself included) as a peer. */
async function withCluster(
  count: number,
  test: (cluster: Cluster) => Promise<void>,
  loop = true,
): Promise<void> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const cluster: Cluster = { nodes: [], clients: [] };
  try {
    const started = await Promise.all(ports.map((port, i) =>
      NodeProcess.start({
        nodeId: `node-${i}`,
        port,
        toml: loop ? antiEntropyToml(ports) : antiEntropyToml(ports).replace(
          `interval_ms = ${INTERVAL_MS}`,
          "interval_ms = 0",
        ),
      })
    ));
    cluster.nodes.push(...started);
    for (const node of cluster.nodes) cluster.clients.push(await node.connect());
    await test(cluster);
  } catch (error) {
    for (const node of cluster.nodes) console.error(`--- ${node.nodeId} stderr:\n${node.stderr()}`);
    throw error;
  } finally {
    for (const client of cluster.clients) await client.close().catch(() => {});
    for (const node of cluster.nodes) await node.cleanup();
  }
}

/** What every node must read for each key: a value, or null for deleted. */
type Expected = Map<string, string | null>;

async function pipelineWrites(client: MerkleKVClient, lines: string[]): Promise<void> {
  const replies = await client.pipeline(lines);
  for (const [reply] of replies) {
    assert.ok(reply !== undefined, "a reply line per write");
    assert.match(reply, /^(OK|DELETED)$/);
  }
}

async function assertReads(client: MerkleKVClient, expected: Expected, who: string) {
  const keys = [...expected.keys()];
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const [header, ...lines] = await client.request(`MGET ${batch.join(" ")}`);
    assert.equal(header, `VALUES ${batch.length}`);
    batch.forEach((key, j) => {
      const want = expected.get(key);
      const line = lines[j];
      if (want === null) assert.equal(line, `${key} NOT_FOUND`, `${who}: ${key} should be deleted`);
      else assert.equal(line, `${key} ${want}`, `${who}: ${key}`);
    });
  }
}

async function waitForEqualHashes(clients: MerkleKVClient[], timeoutMs: number): Promise<number> {
  const started = performance.now();
  await waitUntil(
    "equal HASH on every node",
    async () => {
      const hashes = await Promise.all(clients.map((client) => client.hash()));
      return hashes.every((hash) => hash === hashes[0]);
    },
    timeoutMs,
    25,
  );
  return performance.now() - started;
}

/**
 * Gives each node its own keys, keys written on two nodes (the later write must win
 * everywhere), and keys deleted on one node after all of them held them.
 */
async function writeDivergentData(clients: MerkleKVClient[]): Promise<Expected> {
  const expected: Expected = new Map();
  for (const [i, client] of clients.entries()) {
    const lines: string[] = [];
    for (let k = 0; k < 150; k++) {
      lines.push(`SET own:${i}:${k} value ${i}/${k}`);
      expected.set(`own:${i}:${k}`, `value ${i}/${k}`);
    }
    await pipelineWrites(client, lines);
  }
  for (const [i, client] of clients.entries()) {
    const first = nth(clients, (i + 1) % clients.length);
    await pipelineWrites(
      first,
      Array.from({ length: 40 }, (_, k) => `SET conflict:${i}:${k} first`),
    );
    await delay(5); // a later write has a newer version (same wall clock, HLC per ms)
    await pipelineWrites(
      client,
      Array.from({ length: 40 }, (_, k) => `SET conflict:${i}:${k} later ${i}`),
    );
    for (let k = 0; k < 40; k++) expected.set(`conflict:${i}:${k}`, `later ${i}`);
  }
  for (const client of clients) {
    await pipelineWrites(client, Array.from({ length: 30 }, (_, k) => `SET doomed:${k} alive`));
  }
  await delay(5);
  await pipelineWrites(nth(clients, 0), Array.from({ length: 30 }, (_, k) => `DEL doomed:${k}`));
  for (let k = 0; k < 30; k++) expected.set(`doomed:${k}`, null);
  return expected;
}

Deno.test("two nodes with only anti_entropy.peers converge within two intervals", async () => {
  await withCluster(2, async ({ clients }) => {
    const expected = await writeDivergentData(clients);
    await waitForEqualHashes(clients, CONVERGE_MS);
    for (const [i, client] of clients.entries()) await assertReads(client, expected, `node-${i}`);
    for (const client of clients) {
      const info = await client.info();
      assert.equal(info.get("anti_entropy"), "on");
      assert.equal(info.get("anti_entropy_peers"), "1", "its own address is not a peer");
    }
    // A session is counted once it has finished, which can be just after its last repair
    // made the hashes equal.
    await waitUntil("a finished anti-entropy session on some node", async () => {
      let sessions = 0;
      for (const client of clients) {
        sessions += Number((await client.info()).get("anti_entropy_sessions_ok"));
      }
      return sessions >= 1;
    }, CONVERGE_MS);
  });
});

Deno.test("three nodes with only anti_entropy.peers converge within two intervals", async () => {
  await withCluster(3, async ({ clients }) => {
    const expected = await writeDivergentData(clients);
    await waitForEqualHashes(clients, CONVERGE_MS);
    for (const [i, client] of clients.entries()) await assertReads(client, expected, `node-${i}`);
  });
});

Deno.test("a node stopped while the others were written to converges after its restart", async () => {
  await withCluster(3, async ({ nodes, clients }) => {
    const expected = await writeDivergentData(clients);
    await waitForEqualHashes(clients, CONVERGE_MS);
    const away = nth(nodes, 2);
    await nth(clients, 2).close();
    await away.stop();
    const lines: string[] = [];
    for (let k = 0; k < 100; k++) {
      lines.push(`SET while-away:${k} written ${k}`);
      expected.set(`while-away:${k}`, `written ${k}`);
    }
    for (let k = 0; k < 10; k++) {
      lines.push(`DEL own:0:${k}`);
      expected.set(`own:0:${k}`, null);
    }
    await pipelineWrites(nth(clients, 0), lines);
    await pipelineWrites(nth(clients, 1), ["SET conflict:0:0 rewritten while away"]);
    expected.set("conflict:0:0", "rewritten while away");
    await away.restart(); // memory only: it comes back empty
    clients[2] = await away.connect();
    await pipelineWrites(clients[2], ["SET after-restart yes"]);
    expected.set("after-restart", "yes");
    await waitForEqualHashes(clients, CONVERGE_MS);
    for (const [i, client] of clients.entries()) await assertReads(client, expected, `node-${i}`);
  });
});

Deno.test("SYNC <host> <port> between two processes replies OK with counts and equalizes them", async () => {
  await withCluster(2, async ({ nodes, clients }) => {
    const [a, b] = clients;
    assert.ok(a !== undefined && b !== undefined, "two clients");
    await pipelineWrites(a, ["SET only-a 1", "SET both first", "SET gone x"]);
    await pipelineWrites(b, ["SET only-b 2"]);
    await delay(5);
    await pipelineWrites(b, ["SET both second"]);
    await pipelineWrites(a, ["DEL gone"]);
    const [reply] = await a.request(`SYNC 127.0.0.1 ${nth(nodes, 1).port}`);
    assert.ok(reply !== undefined, "a reply to SYNC");
    assert.match(
      reply,
      /^OK pulled=2 pushed=2 rounds=4 tree_bytes=\d+ entry_bytes=\d+ value_bytes=\d+ ms=\d+ complete=1 refused=0 discarded=0 peer=node-1$/,
    );
    assert.equal(await a.hash(), await b.hash());
    assert.equal(await b.get("both"), "second");
    assert.equal(await b.get("gone"), null);
    const [again] = await b.request(`SYNC 127.0.0.1 ${nth(nodes, 0).port}`);
    assert.ok(again !== undefined, "a reply to the second SYNC");
    assert.match(again, /^OK pulled=0 pushed=0 rounds=1 /);
    const info = await b.info();
    assert.match(
      info.get(`sync_peer_127.0.0.1_${nth(nodes, 0).port}`) ?? "",
      /outcome=ok .*peer=node-0/,
    );
  }, false);
});

Deno.test("SYNC between two processes repairs keys of one crowded segment by sub-bucket", async () => {
  const keys = keysInOneSegment(makeStore("keys", new FakeClock()), 43, "crowded:");
  await withCluster(2, async ({ nodes, clients }) => {
    const [a, b] = clients;
    assert.ok(a !== undefined && b !== undefined, "two clients");
    await pipelineWrites(a, keys.slice(0, 40).map((key) => `SET ${key} same`));
    const [copied] = await a.request(`SYNC 127.0.0.1 ${nth(nodes, 1).port}`);
    assert.ok(copied !== undefined, "a reply to the first SYNC");
    assert.match(copied, /^OK pulled=0 pushed=40 /);
    await delay(5);
    await pipelineWrites(a, [`SET ${nth(keys, 1)} newer-on-a`, `SET ${nth(keys, 40)} only-a`]);
    await pipelineWrites(b, [
      `SET ${nth(keys, 2)} newer-on-b`,
      `DEL ${nth(keys, 3)}`,
      `SET ${nth(keys, 41)} b`,
    ]);
    const [reply] = await a.request(`SYNC 127.0.0.1 ${nth(nodes, 1).port}`);
    assert.ok(reply !== undefined, "a reply to the second SYNC");
    assert.match(reply, /^OK pulled=3 pushed=2 rounds=4 .* complete=1 /);
    assert.equal(await a.hash(), await b.hash());
    for (const client of clients) {
      assert.equal(await client.get(nth(keys, 1)), "newer-on-a");
      assert.equal(await client.get(nth(keys, 2)), "newer-on-b");
      assert.equal(await client.get(nth(keys, 3)), null);
      assert.equal(await client.get(nth(keys, 40)), "only-a");
      assert.equal(await client.get(nth(keys, 41)), "b");
    }
  }, false);
});

/** How a fake peer behaves on each connection. */
type Behaviour = (socket: net.Socket, line: string) => void;

const VALID_LOOKING_BRANCHES = Buffer.alloc(2048, 7).toString("base64");

const GARBAGE: [string, Behaviour][] = [
  [
    "random bytes",
    (socket) => socket.write(Buffer.from([0xff, 0x00, 0x41, 0x0a, 0x42, 0x0d, 0x0a])),
  ],
  ["an ERROR", (socket) => socket.write("ERROR go away\r\n")],
  ["a HELLO whose branches do not match its root", (socket) => {
    socket.write(`HELLO 2 fake 100000 00000000000000ff ${VALID_LOOKING_BRANCHES}\r\n`);
  }],
  [
    "a HELLO in another version",
    (socket) => socket.write("HELLO 9 fake 100000 0000000000000000 -\r\n"),
  ],
  ["a counted block that never ends", (socket, line) => {
    if (line.startsWith("SYNC HELLO")) {
      socket.write(`HELLO 2 fake 100000 0707070707070707 ${VALID_LOOKING_BRANCHES}\r\n`);
    }
  }],
  ["a long line without an end, then close", (socket) => socket.end("x".repeat(200_000))],
  ["a closed connection", (socket) => socket.destroy()],
];

/** A raw TCP server standing in for a peer; `behaviour` sees each request line. */
function withFakePeer(behaviour: Behaviour, test: (port: number) => Promise<void>) {
  const buffers = new WeakMap<net.Socket, string>();
  return withFakeServer((socket, received) => {
    let buffer = (buffers.get(socket) ?? "") + received;
    let newline;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (!socket.destroyed) behaviour(socket, line);
    }
    buffers.set(socket, buffer);
  }, test);
}

Deno.test("a node stays healthy next to peers that answer garbage or nothing", async () => {
  const REQUEST_TIMEOUT_MS = 500;
  const SESSION_TIMEOUT_MS = 1500;
  const node = await NodeProcess.start({
    nodeId: "healthy",
    toml: [
      "[anti_entropy]",
      "interval_ms = 0",
      // The fake peers listen on ports picked by the test, after the node started.
      "allow_any_sync_target = true",
      `request_timeout_ms = ${REQUEST_TIMEOUT_MS}`,
      `session_timeout_ms = ${SESSION_TIMEOUT_MS}`,
    ].join("\n"),
  });
  const client = await node.connect();
  const probe = await node.connect();
  try {
    await client.set("k", "v");
    const rootBefore = await client.hash();
    for (const [what, behaviour] of GARBAGE) {
      await withFakePeer(behaviour, async (port) => {
        const started = performance.now();
        const [reply] = await client.request(`SYNC 127.0.0.1 ${port}`);
        assert.ok(reply !== undefined, `${what}: a reply to SYNC`);
        assert.match(reply, /^ERROR sync with 127\.0\.0\.1:\d+ failed: /, what);
        assert.ok(performance.now() - started < SESSION_TIMEOUT_MS + 1000, `${what}: too slow`);
      });
    }
    // A peer that accepts and never answers: the node answers others meanwhile.
    await withFakePeer(() => {}, async (port) => {
      const started = performance.now();
      const pending = client.request(`SYNC 127.0.0.1 ${port}`);
      await delay(100);
      assert.deepEqual(await probe.request("PING"), ["PONG"]);
      const [reply] = await pending;
      assert.ok(reply !== undefined, "a reply to SYNC");
      const elapsed = performance.now() - started;
      assert.match(reply, /^ERROR sync with .* failed: no reply within 500 ms$/);
      assert.ok(elapsed >= REQUEST_TIMEOUT_MS - 50 && elapsed < SESSION_TIMEOUT_MS + 1000);
    });
    assert.equal(await client.hash(), rootBefore, "nothing adopted from the fakes");
    assert.equal(await client.get("k"), "v");
    const info = await probe.info();
    assert.equal(info.get("anti_entropy_sessions_failed"), String(GARBAGE.length + 1));
  } catch (error) {
    console.error(node.stderr());
    throw error;
  } finally {
    await client.close();
    await probe.close();
    await node.cleanup();
  }
});

Deno.test("a node whose loop keeps picking a hanging peer still syncs with its good peer", async () => {
  await withFakePeer(() => {}, async (hangingPort) => {
    const goodPort = await freePort();
    const good = await NodeProcess.start({
      nodeId: "good",
      port: goodPort,
      toml: "[anti_entropy]\ninterval_ms = 0",
    });
    const node = await NodeProcess.start({
      nodeId: "looping",
      toml: antiEntropyToml(
        [hangingPort, goodPort],
        "request_timeout_ms = 200\nsession_timeout_ms = 400",
      ),
    });
    const goodClient = await good.connect();
    const client = await node.connect();
    try {
      await goodClient.set("from-good", "arrived");
      await waitUntil("the loop to pull from the good peer", async () => {
        return (await client.get("from-good")) === "arrived";
      }, 10_000);
      assert.deepEqual(await client.request("PING"), ["PONG"]);
    } finally {
      await client.close();
      await goodClient.close();
      await node.cleanup();
      await good.cleanup();
    }
  });
});
