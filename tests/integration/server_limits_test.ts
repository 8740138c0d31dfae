/**
 * The connection limits of a real node process: request_timeout_ms (slowloris), idle_timeout_ms,
 * reserved_peer_connections (a peer syncs while clients fill max_connections) and
 * max_connections_per_address (from a network namespace, skipped visibly where the machine
 * refuses one).
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { delay, waitUntil } from "../_support/ports.ts";
import { createNetns, netnsUnavailableReason } from "../_support/netns.ts";

const REQUEST_TIMEOUT_MS = 500;
const IDLE_TIMEOUT_MS = 600;

async function connectionCount(client: MerkleKVClient): Promise<number> {
  return Number((await client.info()).get("connections"));
}

/** Waits until the node counts `count` connections (probes of earlier steps closed). */
function waitForConnections(client: MerkleKVClient, count: number): Promise<void> {
  return waitUntil(
    `the node to count ${count} connections`,
    async () => await connectionCount(client) === count,
    10_000,
  );
}

Deno.test("a line sent a byte every 100 ms and never finished is closed by request_timeout_ms", async () => {
  const node = await NodeProcess.start({
    toml: `[limits]\nrequest_timeout_ms = ${REQUEST_TIMEOUT_MS}`,
  });
  const client = await node.connect();
  const slow = await RawSocket.connect(node.port);
  try {
    // 60 bytes at 100 ms: 6 s, far more than the timeout, with no line end.
    const line = "SET slowloris " + "x".repeat(46);
    for (let i = 0; i < line.length && !slow.isClosed; i++) {
      await slow.write(line.charAt(i)).catch(() => {});
      await delay(100);
    }
    assert.ok(slow.isClosed, "the connection was closed before the line could end");
    assert.equal(
      slow.received,
      `ERROR request timeout: line not finished within ${REQUEST_TIMEOUT_MS} ms\r\n`,
    );
    // A line that does end, in pieces, within the timeout is answered; others were served.
    const pieces = await RawSocket.connect(node.port);
    try {
      for (const piece of ["PI", "N", "G\r", "\n"]) {
        await pieces.write(piece);
        await delay(50);
      }
      await pieces.waitFor("PONG", (received) => received === "PONG\r\n");
    } finally {
      await pieces.destroy();
    }
    assert.deepEqual(await client.request("PING"), ["PONG"]);
    assert.match(node.stderr(), /"event":"connection_timeout".*"reason":"request timeout/);
  } finally {
    await slow.destroy();
    await client.close();
    await node.cleanup();
  }
});

Deno.test("a connection without a request for idle_timeout_ms is closed, a busy one is not", async () => {
  const node = await NodeProcess.start({ toml: `[limits]\nidle_timeout_ms = ${IDLE_TIMEOUT_MS}` });
  const idle = await RawSocket.connect(node.port);
  const busy = await node.connect();
  try {
    // The busy client asks every 100 ms for three idle timeouts.
    const untilMs = Date.now() + 3 * IDLE_TIMEOUT_MS;
    while (Date.now() < untilMs) {
      assert.deepEqual(await busy.request("PING"), ["PONG"]);
      await delay(100);
    }
    await idle.waitClosed();
    assert.equal(idle.received, `ERROR idle timeout: no request within ${IDLE_TIMEOUT_MS} ms\r\n`);
    assert.deepEqual(await busy.request("PING"), ["PONG"]);
  } finally {
    await idle.destroy();
    await busy.close();
    await node.cleanup();
  }
});

Deno.test("with every client slot taken, a peer still completes a sync session in a reserved slot", async () => {
  const maxConnections = 3;
  const b = await NodeProcess.start({
    nodeId: "b",
    toml: `[limits]\nmax_connections = ${maxConnections}\nreserved_peer_connections = 1\n` +
      "[anti_entropy]\ninterval_ms = 0\nrequest_timeout_ms = 1000",
  });
  const a = await NodeProcess.start({
    nodeId: "a",
    toml: "[anti_entropy]\ninterval_ms = 0\nallow_any_sync_target = true",
  });
  const bClient = await b.connect();
  const aClient = await a.connect();
  const fillers: RawSocket[] = [];
  try {
    await bClient.request("SET only-b 1");
    await waitForConnections(bClient, 1);
    for (let i = 1; i < maxConnections; i++) fillers.push(await RawSocket.connect(b.port));
    await waitForConnections(bClient, maxConnections);

    // A client in the reserve is refused at its first line, or after the greeting time.
    const talker = await RawSocket.connect(b.port);
    await talker.write("PING\r\n");
    await talker.waitClosed();
    assert.equal(talker.received, "ERROR max connections\r\n");
    const silent = await RawSocket.connect(b.port);
    await silent.waitClosed();
    assert.equal(silent.received, "ERROR max connections\r\n");
    await waitForConnections(bClient, maxConnections);

    const [reply] = await aClient.request(`SYNC 127.0.0.1 ${b.port}`);
    assert.match(reply ?? "(no reply)", /^OK pulled=1 pushed=0 .*complete=1 .*peer=b$/);
    assert.equal(await aClient.get("only-b"), "1");
    // The reserve slot is free again once the session ended.
    await waitForConnections(bClient, maxConnections);
    const [again] = await aClient.request(`SYNC 127.0.0.1 ${b.port}`);
    assert.match(again ?? "(no reply)", /^OK pulled=0 pushed=0 /);
  } finally {
    await Promise.all(fillers.map((filler) => filler.destroy()));
    await aClient.close();
    await bClient.close();
    await a.cleanup();
    await b.cleanup();
  }
});

Deno.test("refused clients that reset at once leave the node running", async () => {
  const node = await NodeProcess.start({
    toml: "[limits]\nmax_connections = 2\nreserved_peer_connections = 0",
  });
  const client = await node.connect();
  let filler: RawSocket | null = null;
  try {
    await waitForConnections(client, 1);
    filler = await RawSocket.connect(node.port);
    await waitForConnections(client, 2);
    // Each is refused, and resets before or while the node sends its ERROR line.
    for (let i = 0; i < 20; i++) {
      const socket = net.connect({ host: "127.0.0.1", port: node.port });
      socket.on("error", () => {});
      const closed = new Promise((resolve) => socket.on("close", resolve));
      socket.on("connect", () => socket.resetAndDestroy());
      await closed;
    }
    // The failed writes surface a moment later (before the fix, as a crash of the process).
    await delay(300);
    assert.deepEqual(await client.request("PING"), ["PONG"]);
    assert.match(node.stderr(), /"event":"connection_refused"/);
  } finally {
    await filler?.destroy();
    await client.close();
    await node.cleanup();
  }
});

const netnsUnavailable = await netnsUnavailableReason();
if (netnsUnavailable !== null) {
  console.warn(
    `max_connections_per_address over a network namespace: skipped: ${netnsUnavailable}`,
  );
}

// Loopback clients are exempt: the 10,000-connection test in single_node_connections_test.ts
// opens them all from 127.0.0.1 with the default limit of 1,000 per address.
Deno.test({
  name: "a non-loopback address holds at most max_connections_per_address connections" +
    (netnsUnavailable === null ? "" : ` (skipped: ${netnsUnavailable})`),
  ignore: netnsUnavailable !== null,
  fn: async () => {
    const netns = await createNetns();
    let node: NodeProcess | null = null;
    try {
      node = await NodeProcess.start({
        bindAddress: netns.hostAddress,
        // Every client here is non-loopback (this machine's end of the pair too): protected
        // mode would refuse them all, and this test is about the per-address limit.
        toml: "[limits]\nmax_connections_per_address = 3\n[auth]\nprotected_mode = false",
      });
      const local = await node.connect();
      try {
        const first = await connectFromNamespace(netns, node, 4, async (lines) => {
          assert.deepEqual(lines, ["PONG", "PONG", "PONG", "ERROR max connections per address"]);
          // This machine's own address is another address: not limited by the namespace's.
          assert.deepEqual(await local.request("PING"), ["PONG"]);
        });
        assert.equal(first, 0);
        // Once they closed, the namespace's address may connect again.
        await waitForConnections(local, 1);
        assert.equal(
          await connectFromNamespace(netns, node, 3, (lines) => {
            assert.deepEqual(lines, ["PONG", "PONG", "PONG"]);
            return Promise.resolve();
          }),
          0,
        );
        assert.match(
          node.stderr(),
          new RegExp(`"reason":"max connections per address","client":"${netns.namespaceAddress}"`),
        );
      } finally {
        await local.close();
      }
    } finally {
      await node?.cleanup();
      await netns.close();
    }
  },
});

const CONNECT_FROM = new URL("../_support/connect_from.ts", import.meta.url).pathname;

/**
 * Opens `count` connections from inside the namespace, hands the first line each got to
 * `check` while they are still open, then closes them; returns the exit code.
 */
async function connectFromNamespace(
  netns: Awaited<ReturnType<typeof createNetns>>,
  node: NodeProcess,
  count: number,
  check: (lines: string[]) => Promise<void>,
): Promise<number> {
  const child = netns.command(
    Deno.execPath(),
    ["run", "--allow-net", CONNECT_FROM, netns.hostAddress, String(node.port), String(count)],
    { stdin: "piped", stdout: "piped", stderr: "inherit" },
  ).spawn();
  const writer = child.stdin.getWriter();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await check(JSON.parse(text));
    await reader.cancel();
  } finally {
    await writer.close();
  }
  return (await child.status).code;
}
