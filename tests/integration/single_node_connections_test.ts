/**
 * Many clients and slow clients against a real node process: 10,000 idle connections, the
 * max_connections refusal, and a reader that does not read.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { delay, waitUntil } from "../_support/ports.ts";

const MAX_CONNECTIONS = 10_000;
const CONNECT_BATCH = 500;

function openSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

function destroyAll(sockets: readonly net.Socket[]): Promise<unknown> {
  return Promise.all(sockets.map((socket) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed && socket.closed) return resolve();
      socket.once("close", () => resolve());
      socket.destroy();
    })
  ));
}

Deno.test("a node holds 10,000 idle connections and refuses one more", async () => {
  const node = await NodeProcess.start({
    toml: `[limits]\nmax_connections = ${MAX_CONNECTIONS}`,
  });
  const idle: net.Socket[] = [];
  const client = await node.connect(30_000);
  try {
    // The client above is connection 1; open the other 9,999 in batches.
    while (idle.length < MAX_CONNECTIONS - 1) {
      const count = Math.min(CONNECT_BATCH, MAX_CONNECTIONS - 1 - idle.length);
      idle.push(...await Promise.all(Array.from({ length: count }, () => openSocket(node.port))));
    }
    await waitUntil(
      "the node to count every connection",
      async () => (await client.info()).get("connections") === String(MAX_CONNECTIONS),
      30_000,
      100,
    );
    assert.deepEqual(await client.request("PING"), ["PONG"]);
    assert.deepEqual(await client.request("SET many 1"), ["OK"]);

    const refused = await RawSocket.connect(node.port);
    try {
      await refused.waitClosed();
      assert.equal(refused.received, "ERROR max connections\r\n");
    } finally {
      await refused.destroy();
    }

    // A freed slot is usable again.
    await destroyAll(idle.splice(0, 1));
    await waitUntil(
      "the node to see a connection close",
      async () => Number((await client.info()).get("connections")) < MAX_CONNECTIONS,
      10_000,
    );
    const next = await node.connect();
    try {
      assert.deepEqual(await next.request("GET many"), ["VALUE 1"]);
    } finally {
      await next.close();
    }
    assert.match(node.stderr(), /"event":"connection_refused".*"reason":"max connections"/);
  } finally {
    await destroyAll(idle);
    await client.close();
    await node.cleanup();
  }
});

const VALUE_BYTES = 256 * 1024;
const SLOW_GETS = 1_000;
const MAX_PENDING_REPLY_BYTES = 1024 * 1024;

Deno.test("a client that does not read is paused while others are served", async () => {
  const node = await NodeProcess.start({
    toml: `[limits]\nmax_value_bytes = ${VALUE_BYTES}\n` +
      `max_pending_reply_bytes = ${MAX_PENDING_REPLY_BYTES}`,
  });
  const client = await node.connect();
  const slow = await RawSocket.connect(node.port);
  try {
    await client.request(`SET big ${"b".repeat(VALUE_BYTES)}`);
    const processed = async () => Number((await client.info()).get("commands_processed"));
    const before = await processed();

    // 1,000 GETs in one write ask for 256 MB of replies; the client reads none of them.
    slow.keepText = false;
    slow.socket.pause();
    await slow.write("GET big\r\n".repeat(SLOW_GETS));
    // Each probe is itself one command (INFO): stalled means each probe counts one more.
    let last = -1;
    let probes = 1;
    await waitUntil(
      "the node to stop running the slow client's requests",
      async () => {
        const now = await processed();
        probes++;
        const stable = now === last + 1;
        last = now;
        return stable;
      },
      20_000,
      200,
    );
    const slowGetsRun = last - before - (probes - 1);
    assert.ok(slowGetsRun < SLOW_GETS / 2, `the node ran ${slowGetsRun} GETs of a stalled client`);

    // Others are served meanwhile.
    const replies = await client.pipeline(["SET other 1", "GET other", "PING"]);
    assert.deepEqual(replies, [["OK"], ["VALUE 1"], ["PONG"]]);
    const rssBytes = Number((await client.info()).get("memory_rss_bytes"));
    assert.ok(rssBytes < 200 * 1024 * 1024, `RSS ${rssBytes} bytes with a stalled reader`);

    // Once it reads, it gets every reply, whole.
    slow.socket.resume();
    const replyBytes = "VALUE ".length + VALUE_BYTES + 2;
    await waitUntil(
      "every reply to reach the slow client",
      () => slow.receivedBytes >= SLOW_GETS * replyBytes,
      60_000,
    );
    await delay(50);
    assert.equal(slow.receivedBytes, SLOW_GETS * replyBytes);
  } finally {
    await slow.destroy();
    await client.close();
    await node.cleanup();
  }
});

Deno.test("replies waiting for a slow reader stay intact while others are answered", async () => {
  // Replies of 16 KiB gathered up to 256 KiB per write: sizes the node encodes into the buffer
  // it shares between connections, which a queued write must not share.
  const node = await NodeProcess.start({ toml: "[limits]\nmax_pending_reply_bytes = 262144" });
  const client = await node.connect();
  const slow = await RawSocket.connect(node.port);
  try {
    const slowValue = "a".repeat(16 * 1024);
    const otherValue = "b".repeat(16 * 1024);
    await client.request(`SET slow ${slowValue}`);
    await client.request(`SET other ${otherValue}`);
    // 2,000 replies (33 MB, more than the kernel buffers take) queue for a client that reads
    // nothing yet.
    slow.socket.pause();
    await slow.write("GET slow\r\n".repeat(2000));
    await delay(300);
    // Meanwhile other replies are encoded and sent: none may land in the queued ones.
    const gets = await client.pipeline(Array.from({ length: 100 }, () => "GET other"));
    assert.ok(gets.every(([reply]) => reply === `VALUE ${otherValue}`));
    slow.socket.resume();
    const expected = `VALUE ${slowValue}\r\n`.repeat(2000);
    await waitUntil("every reply to reach the slow client", () => {
      return slow.receivedBytes >= expected.length;
    }, 20_000);
    assert.equal(slow.received.length, expected.length);
    assert.ok(slow.received === expected, "the slow client's replies are byte for byte right");
  } finally {
    await slow.destroy();
    await client.close();
    await node.cleanup();
  }
});
