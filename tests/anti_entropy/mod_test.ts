/**
 * The anti-entropy part inside this process, over real TCP: nodes started with startNode, and
 * startAntiEntropy on a hand-built context where a test needs hooks or a seeded random.
 */

import assert from "node:assert/strict";
import { withFakeServer } from "../_support/fake_server.ts";
import * as net from "node:net";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/types.ts";
import { startAntiEntropy } from "../../src/anti_entropy/mod.ts";
import type { AntiEntropy, AntiEntropyContext } from "../../src/anti_entropy/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { type NodeHandle, startNode } from "../../src/node/start_node.ts";
import { systemClock } from "../../src/clock.ts";
import { Store } from "../../src/store/store.ts";
import { delay, waitUntil } from "../_support/ports.ts";
import { withRecordingListeners } from "../_support/recording_listener.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import { mergeInto } from "./harness.ts";

/**
 * Nodes listen on ports picked at start, so no peer list can name them beforehand: SYNC may
 * reach any address here unless a test says otherwise.
 */
function config(nodeId: string, antiEntropy: Partial<Config["antiEntropy"]> = {}): Config {
  const base = structuredClone(DEFAULT_CONFIG) as Config;
  return {
    ...base,
    nodeId,
    bindPort: 0,
    antiEntropy: { ...base.antiEntropy, intervalMs: 0, allowAnySyncTarget: true, ...antiEntropy },
  };
}

/** An anti-entropy part on a bare store (no server): it only starts sessions. */
function bareAntiEntropy(
  nodeId: string,
  antiEntropy: Partial<Config["antiEntropy"]>,
  discoveredPeers: () => string[],
): { store: Store; part: AntiEntropy } {
  const nodeConfig = config(nodeId, antiEntropy);
  const store = new Store({
    nodeId,
    clock: systemClock,
    tombstoneGraceMs: nodeConfig.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: nodeConfig.replication.maxClockSkewMs,
  });
  const context: AntiEntropyContext = {
    config: nodeConfig,
    store,
    remote: { applyRemote: (entries) => mergeInto(store, entries) },
    log: silentLogger,
    clientPort: 1,
  };
  const random = new SeededRandom(11);
  return {
    store,
    part: startAntiEntropy(context, { discoveredPeers }, { random: () => random.next() }),
  };
}

async function withNodes(
  count: number,
  test: (nodes: NodeHandle[], clients: MerkleKVClient[]) => Promise<void>,
): Promise<void> {
  const nodes: NodeHandle[] = [];
  const clients: MerkleKVClient[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const node = await startNode(config(`node-${i}`), silentLogger);
      nodes.push(node);
      clients.push(await MerkleKVClient.connect({ port: node.port, timeoutMs: 10_000 }));
    }
    await test(nodes, clients);
  } finally {
    for (const client of clients) await client.close();
    for (const node of nodes) await node.close();
  }
}

Deno.test("SYNC <host> <port> repairs both sides and replies OK with what it did", async () => {
  await withNodes(2, async ([, b], [clientA, clientB]) => {
    assert.ok(b !== undefined && clientA !== undefined && clientB !== undefined, "two nodes");
    await clientA.set("from-a", "value a");
    await clientB.set("from-b", "value b");
    await clientB.set("shared", "b first");
    await delay(3);
    await clientA.set("shared", "a later");
    const [reply] = await clientA.request(`SYNC 127.0.0.1 ${b.port}`);
    assert.ok(reply !== undefined, "a reply to SYNC");
    assert.match(
      reply,
      /^OK pulled=1 pushed=2 rounds=4 tree_bytes=\d+ entry_bytes=\d+ value_bytes=\d+ ms=\d+ complete=1 refused=0 discarded=0 peer=node-1$/,
    );
    assert.equal(await clientA.hash(), await clientB.hash());
    assert.equal(await clientB.get("shared"), "a later");
    assert.equal(await clientA.get("from-b"), "value b");
    const [again] = await clientA.request(`SYNC 127.0.0.1 ${b.port}`);
    assert.ok(again !== undefined, "a reply to the second SYNC");
    assert.match(again, /^OK pulled=0 pushed=0 rounds=1 /);
    const info = await clientA.info();
    assert.match(info.get(`sync_peer_127.0.0.1_${b.port}`) ?? "", /outcome=ok pulled=0 pushed=0/);
    assert.equal(info.get("anti_entropy"), "off");
    assert.equal(info.get("anti_entropy_sessions_ok"), "2");
  });
});

Deno.test("SYNC with this node itself, or with a closed port, replies ERROR", async () => {
  await withNodes(1, async ([a], [client]) => {
    assert.ok(a !== undefined && client !== undefined, "one node");
    const [self] = await client.request(`SYNC 127.0.0.1 ${a.port}`);
    assert.ok(self !== undefined, "a reply to SYNC with itself");
    assert.match(self, /^ERROR sync with 127\.0\.0\.1:\d+ failed: .*the peer is this node/);
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer();
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(port));
      });
    });
    const [closed] = await client.request(`SYNC 127.0.0.1 ${closedPort}`);
    assert.ok(closed !== undefined, "a reply to SYNC with a closed port");
    assert.match(closed, /^ERROR sync with 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/);
    assert.deepEqual(await client.request("PING"), ["PONG"]);
  });
});

Deno.test("the loop syncs with discovered peers, not only configured ones", async () => {
  await withNodes(1, async ([b], [clientB]) => {
    assert.ok(b !== undefined && clientB !== undefined, "one node");
    await clientB.set("discovered", "yes");
    const { store, part } = bareAntiEntropy(
      "node-a",
      { intervalMs: 20, jitterMs: 5 },
      () => [`127.0.0.1:${b.port}`],
    );
    try {
      await waitUntil(
        "node-a pulled from the discovered peer",
        () => store.read("discovered")?.value === "yes",
        5000,
      );
      const fields = new Map(part.infoFields());
      assert.equal(fields.get("anti_entropy"), "on");
      assert.equal(fields.get("anti_entropy_peers"), 1);
    } finally {
      await part.close();
    }
  });
});

Deno.test("the loop never picks this node's own address from its peer list", async () => {
  const { part } = bareAntiEntropy(
    "node-a",
    { intervalMs: 10, jitterMs: 0, peers: ["127.0.0.1:1"] },
    () => ["127.0.0.1:1"],
  );
  try {
    await delay(80);
    const fields = new Map(part.infoFields());
    assert.equal(fields.get("anti_entropy_peers"), 0);
    assert.equal(fields.get("anti_entropy_sessions_ok"), 0);
    assert.equal(fields.get("anti_entropy_sessions_failed"), 0);
  } finally {
    await part.close();
  }
});

Deno.test("close() ends a session waiting on a silent peer at once, with ERROR", async () => {
  await withFakeServer(() => {}, async (port) => {
    const { part } = bareAntiEntropy(
      "node-a",
      { requestTimeoutMs: 60_000, sessionTimeoutMs: 60_000 },
      () => [],
    );
    const started = performance.now();
    const reply = part.runSession("127.0.0.1", port);
    await delay(50);
    await part.close();
    assert.match(await reply, /^ERROR sync with 127\.0\.0\.1:\d+ failed: anti-entropy is closing/);
    assert.ok(performance.now() - started < 5000);
  });
});

Deno.test("SYNC commands given together run one after another", async () => {
  await withFakeServer(() => {}, async (silentPort) => {
    await withNodes(1, async ([b]) => {
      assert.ok(b !== undefined, "one node");
      const { part } = bareAntiEntropy(
        "node-a",
        { requestTimeoutMs: 300, sessionTimeoutMs: 300 },
        () => [],
      );
      try {
        const order: string[] = [];
        const slow = part.runSession("127.0.0.1", silentPort).then((reply) => {
          order.push("silent");
          return reply;
        });
        const fast = part.runSession("127.0.0.1", b.port).then((reply) => {
          order.push("node");
          return reply;
        });
        assert.match(await slow, /^ERROR .*(no reply|not finished) within 300 ms/);
        assert.match(await fast, /^OK /);
        assert.deepEqual(order, ["silent", "node"]);
      } finally {
        await part.close();
      }
    });
  });
});

const NOT_A_PEER =
  /^ERROR SYNC target 127\.0\.0\.1:\d+ is not a known peer \(set anti_entropy\.allow_any_sync_target = true to allow any\)\r\n$/;

Deno.test("SYNC to an address neither configured nor discovered is refused and connects nowhere", async () => {
  await withRecordingListeners(1, async ([listener]) => {
    assert.ok(listener !== undefined, "one listener");
    const { part } = bareAntiEntropy(
      "node-a",
      { allowAnySyncTarget: false, peers: ["127.0.0.1:1"] },
      () => ["127.0.0.1:2"],
    );
    try {
      assert.match(await part.runSession("127.0.0.1", listener.port), NOT_A_PEER);
      await delay(50);
      assert.equal(listener.connections, 0);
      assert.equal(new Map(part.infoFields()).get("anti_entropy_sessions_failed"), 0);
    } finally {
      await part.close();
    }
  });
});

Deno.test("SYNC reaches configured and discovered peers as written, without resolving names", async () => {
  await withNodes(1, async ([b]) => {
    assert.ok(b !== undefined, "one node");
    const address = `127.0.0.1:${b.port}`;
    const configured = bareAntiEntropy(
      "node-a",
      { allowAnySyncTarget: false, peers: [address] },
      () => [],
    );
    const discovered = bareAntiEntropy("node-c", { allowAnySyncTarget: false }, () => [address]);
    try {
      assert.match(await configured.part.runSession("127.0.0.1", b.port), /^OK pulled=0 /);
      assert.match(await discovered.part.runSession("127.0.0.1", b.port), /^OK pulled=0 /);
      assert.match(
        await configured.part.runSession("localhost", b.port),
        /^ERROR SYNC target localhost:\d+ is not a known peer/,
      );
    } finally {
      await configured.part.close();
      await discovered.part.close();
    }
  });
});

Deno.test("SYNC commands past max_queued_syncs get ERROR at once; the waiting ones time out in turn", async () => {
  await withRecordingListeners(1, async ([silent]) => {
    assert.ok(silent !== undefined, "one listener");
    const { part } = bareAntiEntropy(
      "node-a",
      { maxQueuedSyncs: 2, requestTimeoutMs: 200, sessionTimeoutMs: 400 },
      () => [],
    );
    try {
      let settled = 0;
      const queued = [1, 2, 3].map(() =>
        part.runSession("127.0.0.1", silent.port).finally(() => settled++)
      );
      assert.equal(
        await part.runSession("127.0.0.1", silent.port),
        "ERROR too many SYNC commands waiting (max 2, anti_entropy.max_queued_syncs)\r\n",
      );
      assert.equal(settled, 0, "refused without waiting for the queue");
      for (const reply of await Promise.all(queued)) {
        assert.match(reply, /^ERROR sync with 127\.0\.0\.1:\d+ failed: no reply within 200 ms/);
      }
      assert.equal(silent.connections, 3, "one connection per admitted SYNC, one at a time");
    } finally {
      await part.close();
    }
  });
});
