/**
 * Reply memory against a real node process: clients that send large MGETs and read nothing
 * hold at most limits.max_pending_reply_bytes (and one value) each in the node, and nothing is
 * kept once they close.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { waitUntil } from "../_support/ports.ts";

const MIB = 1024 * 1024;
const MAX_PENDING_REPLY_BYTES = 1 * MIB;
const VALUE_BYTES = MIB - 64;
const KEYS = 60;
const CONNECTIONS = 20;
const MGETS_PER_CONNECTION = 3;
/** The process beyond its baseline for things other than replies (code, GC headroom). */
const SLACK_BYTES = 96 * MIB;
/** Heap after the connections closed may exceed its level before by this much (garbage). */
const HEAP_SLACK_BYTES = 24 * MIB;

async function memory(client: MerkleKVClient): Promise<{ rssBytes: number; heapBytes: number }> {
  const info = await client.info();
  return {
    rssBytes: Number(info.get("memory_rss_bytes")),
    heapBytes: Number(info.get("memory_heap_used_bytes")),
  };
}

const KEY_LIST = Array.from({ length: KEYS }, (_, i) => `k${i}`).join(" ");

Deno.test("unread MGETs from many connections hold at most max_pending_reply_bytes each, and nothing after they close", async () => {
  const node = await NodeProcess.start({
    toml: `[limits]\nmax_pending_reply_bytes = ${MAX_PENDING_REPLY_BYTES}`,
  });
  const client = await node.connect(30_000);
  const floods: RawSocket[] = [];
  try {
    const value = "v".repeat(VALUE_BYTES);
    for (let i = 0; i < KEYS; i++) await client.request(`SET k${i} ${value}`);
    const before = await memory(client);
    const processed = async () => Number((await client.info()).get("commands_processed"));
    const processedBefore = await processed();

    // Each connection asks for 3 x 60 MiB of replies and reads none of them.
    for (let i = 0; i < CONNECTIONS; i++) {
      const flood = await RawSocket.connect(node.port);
      flood.keepText = false;
      flood.socket.pause();
      floods.push(flood);
      await flood.write(`MGET ${KEY_LIST}\r\n`.repeat(MGETS_PER_CONNECTION));
    }
    await waitUntil(
      "every connection's first MGET to run",
      async () => await processed() >= processedBefore + CONNECTIONS,
      10_000,
    );
    // Per connection: the replies it may queue, one piece over (a line: key and value), and
    // the piece being encoded.
    const boundBytes = before.rssBytes +
      CONNECTIONS * (MAX_PENDING_REPLY_BYTES + 2 * (VALUE_BYTES + 64)) + SLACK_BYTES;
    let peakBytes = 0;
    for (let probe = 0; probe < 5; probe++) {
      peakBytes = Math.max(peakBytes, (await memory(client)).rssBytes);
    }
    console.log(
      `RSS ${mib(before.rssBytes)} before, at most ${mib(peakBytes)} during the flood ` +
        `(bound ${mib(boundBytes)})`,
    );
    assert.ok(peakBytes <= boundBytes, `RSS ${peakBytes} bytes, bound ${boundBytes}`);

    await Promise.all(floods.splice(0).map((flood) => flood.destroy()));
    await waitUntil(
      "the node to see the connections close",
      async () => (await client.info()).get("connections") === "1",
      10_000,
    );
    // Garbage is collected as the node allocates: whole MGETs by a client that reads make it.
    let heapBytes = Infinity;
    for (let probe = 0; probe < 20 && heapBytes > before.heapBytes + HEAP_SLACK_BYTES; probe++) {
      const [header] = await client.request(`MGET ${KEY_LIST}`);
      assert.equal(header, `VALUES ${KEYS}`);
      heapBytes = Math.min(heapBytes, (await memory(client)).heapBytes);
    }
    console.log(`heap ${mib(before.heapBytes)} before, ${mib(heapBytes)} after the close`);
    assert.ok(
      heapBytes <= before.heapBytes + HEAP_SLACK_BYTES,
      `heap ${heapBytes} bytes after the close, ${before.heapBytes} before`,
    );
  } finally {
    await Promise.all(floods.map((flood) => flood.destroy()));
    await client.close();
    await node.cleanup();
  }
});

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(0)} MiB`;
}
