/**
 * The operator's SYNC <host> <port> against real node processes: it reaches known peers only
 * (unless anti_entropy.allow_any_sync_target), a bounded number wait, and SYNC commands naming
 * peers that never answer hold up neither a SYNC to a good peer nor the loop for long.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { nth } from "../_support/nth.ts";
import { waitUntil } from "../_support/ports.ts";
import { type RecordingListener, withRecordingListeners } from "../_support/recording_listener.ts";

function peersLine(ports: number[]): string {
  return `peers = [${ports.map((port) => `"127.0.0.1:${port}"`).join(", ")}]`;
}

/** Starts a node with `[anti_entropy]` lines, runs `test` with a client, and cleans up. */
async function withNode(
  antiEntropy: string[],
  test: (client: MerkleKVClient, node: NodeProcess) => Promise<void>,
): Promise<void> {
  const node = await NodeProcess.start({ toml: ["[anti_entropy]", ...antiEntropy].join("\n") });
  const clients: MerkleKVClient[] = [];
  try {
    const client = await node.connect();
    clients.push(client);
    await test(client, node);
  } catch (error) {
    console.error(node.stderr());
    throw error;
  } finally {
    for (const client of clients) await client.close();
    await node.cleanup();
  }
}

/** SYNC on a connection of its own, so that one waiting SYNC holds up no other command. */
async function syncOnOwnConnection(node: NodeProcess, port: number): Promise<string> {
  const client = await node.connect();
  try {
    const [reply] = await client.request(`SYNC 127.0.0.1 ${port}`);
    assert.ok(reply !== undefined, "a reply to SYNC");
    return reply;
  } finally {
    await client.close();
  }
}

Deno.test("SYNC to an address that is not a peer is refused and nothing connects to it", async () => {
  await withRecordingListeners(2, async ([stranger, peer]: RecordingListener[]) => {
    assert.ok(stranger !== undefined && peer !== undefined, "two listeners");
    await withNode(["interval_ms = 0", peersLine([peer.port])], async (client) => {
      const [reply] = await client.request(`SYNC 127.0.0.1 ${stranger.port}`);
      assert.equal(
        reply,
        `ERROR SYNC target 127.0.0.1:${stranger.port} is not a known peer ` +
          "(set anti_entropy.allow_any_sync_target = true to allow any)",
      );
      const [spelledOtherwise] = await client.request(`SYNC localhost ${peer.port}`);
      assert.ok(spelledOtherwise !== undefined, "a reply to SYNC localhost");
      assert.match(spelledOtherwise, /^ERROR SYNC target localhost:\d+ is not a known peer/);
      assert.deepEqual(await client.request("PING"), ["PONG"]);
      assert.equal(stranger.connections, 0, "the node connected to the stranger");
      assert.equal(peer.connections, 0, "the node connected to the peer spelled otherwise");
    });
  });
});

Deno.test("with allow_any_sync_target = true, SYNC connects to any address", async () => {
  await withRecordingListeners(1, async ([stranger]) => {
    assert.ok(stranger !== undefined, "one listener");
    const settings = [
      "interval_ms = 0",
      "allow_any_sync_target = true",
      "request_timeout_ms = 300",
    ];
    await withNode(settings, async (client) => {
      const [reply] = await client.request(`SYNC 127.0.0.1 ${stranger.port}`);
      assert.ok(reply !== undefined, "a reply to SYNC");
      assert.match(reply, /^ERROR sync with 127\.0\.0\.1:\d+ failed: no reply within 300 ms$/);
      assert.equal(stranger.connections, 1);
      assert.match(stranger.received, /^SYNC HELLO 2 /);
    });
  });
});

Deno.test("SYNC commands naming hanging peers hold a SYNC to a good peer up only for their timeouts, and one too many gets ERROR", async () => {
  const MAX_QUEUED = 3;
  const SESSION_TIMEOUT_MS = 1000;
  const good = await NodeProcess.start({ nodeId: "good", toml: "[anti_entropy]\ninterval_ms = 0" });
  try {
    await withRecordingListeners(MAX_QUEUED, async (hanging) => {
      const peers = [...hanging.map((listener) => listener.port), good.port];
      const settings = [
        "interval_ms = 0",
        peersLine(peers),
        `max_queued_syncs = ${MAX_QUEUED}`,
        "request_timeout_ms = 300",
        `session_timeout_ms = ${SESSION_TIMEOUT_MS}`,
      ];
      await withNode(settings, async (client, node) => {
        // One runs, the others wait: MAX_QUEUED waiting once the good peer's SYNC is in.
        const stuck = hanging.map((listener) => syncOnOwnConnection(node, listener.port));
        await waitUntil("the hanging SYNCs to be running or waiting", async () => {
          return (await client.info()).get("anti_entropy_syncs_waiting") === "2";
        }, 5000);
        const started = performance.now();
        const toGood = syncOnOwnConnection(node, good.port);
        await waitUntil("the good peer's SYNC to wait", async () => {
          return (await client.info()).get("anti_entropy_syncs_waiting") === String(MAX_QUEUED);
        }, 5000);
        const [tooMany] = await client.request(`SYNC 127.0.0.1 ${nth(hanging, 0).port}`);
        assert.equal(
          tooMany,
          `ERROR too many SYNC commands waiting (max ${MAX_QUEUED}, anti_entropy.max_queued_syncs)`,
        );
        assert.match(await toGood, /^OK pulled=0 pushed=0 /);
        // At most MAX_QUEUED sessions ran before it, each ended by its timeout; slack for load.
        const boundMs = (MAX_QUEUED + 1) * SESSION_TIMEOUT_MS + 3000;
        assert.ok(performance.now() - started < boundMs, "the good peer's SYNC waited too long");
        for (const reply of await Promise.all(stuck)) {
          assert.match(reply, /^ERROR sync with 127\.0\.0\.1:\d+ failed: no reply within 300 ms$/);
        }
      });
    });
  } finally {
    await good.cleanup();
  }
});

Deno.test("the loop keeps syncing with its peer while SYNC commands to hanging peers wait", async () => {
  const HANGING = 4;
  const good = await NodeProcess.start({ nodeId: "good", toml: "[anti_entropy]\ninterval_ms = 0" });
  const goodClient = await good.connect();
  try {
    await withRecordingListeners(HANGING, async (hanging) => {
      const settings = [
        "interval_ms = 100",
        "jitter_ms = 0",
        peersLine([good.port]),
        "allow_any_sync_target = true",
        `max_queued_syncs = ${HANGING}`,
        "request_timeout_ms = 1200",
        "session_timeout_ms = 1200",
      ];
      await withNode(settings, async (client, node) => {
        let answered = 0;
        const stuck = hanging.map((listener) =>
          syncOnOwnConnection(node, listener.port).finally(() => answered++)
        );
        await waitUntil("the hanging SYNCs to wait", async () => {
          const waiting = Number((await client.info()).get("anti_entropy_syncs_waiting"));
          return waiting >= HANGING - 1;
        }, 5000);
        await goodClient.set("from-good", "arrived");
        await waitUntil("the loop to pull from the good peer", async () => {
          return (await client.get("from-good")) === "arrived";
        }, 10_000);
        // Before the turns, a round was skipped while any SYNC waited: the key came last.
        assert.ok(answered < HANGING, "the loop waited for every queued SYNC");
        await Promise.all(stuck);
      });
    });
  } finally {
    await goodClient.close();
    await good.cleanup();
  }
});
