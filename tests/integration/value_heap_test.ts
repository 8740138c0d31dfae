/**
 * Values live in the value heap's slabs and GET replies are copied out of them (see
 * docs/performance.md, Values outside the heap). Against a real node process: replies queued
 * for a client that does not read keep the value they read while the key is overwritten and
 * its cell reused, and INFO shows the heap.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { NodeProcess } from "../_support/node_process.ts";
import { waitUntil } from "../_support/ports.ts";

const VALUE_BYTES = 16_000;
const GETS = 2000;
/** 9.6 MB of replies: more than max_pending_reply_bytes (8 MiB). */
const OTHER_GETS = 600;

/** Reads until `bytes` bytes came; they as a binary string. */
async function readAll(conn: Deno.Conn, bytes: number): Promise<string> {
  const received = new Uint8Array(bytes);
  let length = 0;
  while (length < bytes) {
    const count = await conn.read(received.subarray(length));
    if (count === null) break;
    length += count;
  }
  return Buffer.from(received.subarray(0, length)).toString("latin1");
}

/** 16,000 bytes of every value but LF, starting at `first`. */
function value(first: number): string {
  let text = "";
  for (let i = 0; text.length < VALUE_BYTES; i++) {
    const byte = (first + i) % 256;
    if (byte !== 10) text += String.fromCharCode(byte);
  }
  return text;
}

Deno.test("GET replies queued for a client that does not read keep their value while the key is overwritten and its cell reused", async () => {
  const node = await NodeProcess.start();
  const client = await node.connect(30_000);
  // A Deno connection reads nothing until asked: the kernel's buffers fill, then the node's.
  const reader = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
  try {
    const versions = [value(0), value(1), value(2)];
    const other = value(3);
    await client.set("big", Buffer.from(versions[0]!, "latin1"));
    await client.set("other", Buffer.from(other, "latin1"));
    const processed = async () => Number((await client.info()).get("commands_processed"));
    const processedBefore = await processed();
    // 32 MB of replies: more than the kernel buffers take, so the node holds some queued.
    await reader.write(new TextEncoder().encode("GET big\r\n".repeat(GETS)));
    // INFO counts itself: past a few INFOs, the commands counted are GETs.
    await waitUntil(
      "the first GETs to run",
      async () => await processed() > processedBefore + 100,
      10_000,
    );
    // Same size: the second overwrite takes the cell the first value was read from.
    await client.set("big", Buffer.from(versions[1]!, "latin1"));
    await client.set("big", Buffer.from(versions[2]!, "latin1"));
    // Another client's replies, as many as the reader's queue holds, pass through the node.
    const busy = await Deno.connect({ hostname: "127.0.0.1", port: node.port });
    try {
      await busy.write(new TextEncoder().encode("GET other\r\n".repeat(OTHER_GETS)));
      const otherReplies = await readAll(busy, OTHER_GETS * (VALUE_BYTES + 8));
      assert.equal(otherReplies, `VALUE ${other}\r\n`.repeat(OTHER_GETS));
    } finally {
      busy.close();
    }
    const replies = (await readAll(reader, GETS * (VALUE_BYTES + 8))).split("\r\n").slice(0, GETS);
    let seen = 0;
    for (const [i, reply] of replies.entries()) {
      assert.ok(reply.startsWith("VALUE "), `reply ${i}: ${reply.slice(0, 20)}`);
      const got = versions.indexOf(reply.slice(6));
      assert.ok(got >= seen, `reply ${i} is one whole value written, in order (got ${got})`);
      seen = got;
    }
    const info = await client.info();
    assert.ok(Number(info.get("value_heap_slab_bytes")) >= 1024 * 1024);
    assert.ok(Number(info.get("value_heap_used_bytes")) >= VALUE_BYTES);
    const ratio = Number(info.get("value_heap_fragmentation_ratio"));
    assert.ok(ratio >= 0 && ratio < 1, `fragmentation ratio ${ratio}`);
  } finally {
    reader.close();
    await client.close();
    await node.cleanup();
  }
});
