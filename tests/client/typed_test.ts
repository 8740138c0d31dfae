/** The typed methods of MerkleKVClient against a real node in this process. */

import assert from "node:assert/strict";
import { ClientError, MerkleKVClient, ServerError, toBinary } from "../../src/client/mod.ts";
import { withFakeServer } from "../_support/fake_server.ts";
import { withNode } from "../_support/in_process_node.ts";

const TEXT = "héllo wörld ✓ 日本";

/** Every byte value but LF (0x0a), ending in CR so the line end is tested too. */
function everyByteButLf(): Uint8Array {
  const bytes = [];
  for (let byte = 0; byte < 256; byte++) if (byte !== 0x0a && byte !== 0x0d) bytes.push(byte);
  bytes.push(0x0d);
  return new Uint8Array(bytes);
}

async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const all = [];
  for await (const key of keys) all.push(key);
  return all;
}

/** `call` rejects with a ServerError carrying exactly the server's message. */
async function assertServerError(call: () => Promise<unknown>, message: string) {
  await assert.rejects(call, (error: Error) => {
    assert.ok(error instanceof ServerError && error instanceof ClientError);
    assert.equal(error.message, message);
    return true;
  });
}

Deno.test("UTF-8 text round-trips as UTF-8 bytes on the wire", async () => {
  await withNode(async (client) => {
    const key = "clé:日本";
    await client.set(key, TEXT);
    assert.equal(await client.get(key), TEXT);
    assert.deepEqual(await client.getBytes(key), new TextEncoder().encode(TEXT));
    // What the server holds is the UTF-8 bytes of key and value.
    assert.deepEqual(await client.request(`GET ${toBinary(key)}`), [`VALUE ${toBinary(TEXT)}`]);
    assert.deepEqual(
      await client.mget([key, "missing"]),
      new Map([[key, TEXT], ["missing", null]]),
    );
    assert.equal(await client.append(key, " ✓"), TEXT + " ✓");
    assert.equal(await client.prepend(key, "→ "), "→ " + TEXT + " ✓");
    assert.deepEqual(await collect(client.scan("clé")), [key]);
    assert.equal(await client.echo(TEXT), TEXT);
    assert.equal(await client.ping(TEXT), TEXT);
  });
});

Deno.test("a Uint8Array of every byte but LF round-trips unchanged", async () => {
  await withNode(async (client) => {
    const bytes = everyByteButLf();
    await client.set("bytes", bytes);
    assert.deepEqual(await client.getBytes("bytes"), bytes);
    assert.deepEqual((await client.mgetBytes(["bytes"])).get("bytes"), bytes);
    await client.mset([["spaceless", bytes.filter((byte) => byte !== 0x20)]]);
    assert.deepEqual(await client.getBytes("spaceless"), bytes.filter((byte) => byte !== 0x20));
    await client.set("empty", new Uint8Array());
    assert.deepEqual(await client.getBytes("empty"), new Uint8Array());
    assert.equal(await client.getBytes("missing"), null);
    // A subarray sends its own bytes, not its buffer's.
    const a = bytes.indexOf(0x41);
    await client.set("part", bytes.subarray(a, a + 3));
    assert.equal(await client.get("part"), "ABC");
  });
});

Deno.test("get, set, del, incr, decr, append and prepend", async () => {
  await withNode(async (client) => {
    assert.equal(await client.get("k"), null);
    await client.set("k", " spaced  value ");
    assert.equal(await client.get("k"), " spaced  value ");
    await client.set("k", "");
    assert.equal(await client.get("k"), "");
    assert.equal(await client.del("k"), true);
    assert.equal(await client.del("k"), false);
    assert.equal(await client.incr("n"), 1n);
    assert.equal(await client.incr("n", 41), 42n);
    assert.equal(await client.decr("n"), 41n);
    assert.equal(await client.decr("n", 50n), -9n);
    assert.equal(await client.incr("big", 2n ** 63n - 1n), 2n ** 63n - 1n);
    await assertServerError(() => client.incr("big"), "increment would overflow a 64-bit integer");
    await client.set("text", "abc");
    await assertServerError(() => client.incr("text"), "value is not a 64-bit integer");
    assert.equal(await client.append("text", "def"), "abcdef");
    assert.equal(await client.prepend("text", "_"), "_abcdef");
    assert.equal(await client.append("new", "x"), "x");
    assert.equal(await client.prepend("new2", "y"), "y");
  });
});

Deno.test("mget, mset and exists; a value spelled NOT_FOUND is not taken for a miss", async () => {
  await withNode(async (client) => {
    await client.mset(new Map([["a", "1"], ["b", "2"]]));
    await client.mset([["c", "NOT_FOUND"]]);
    await client.mset({ d: "4", e: new Uint8Array([0x35]) });
    await client.mset({});
    const values = await client.mget(["a", "missing", "c", "e", "a"]);
    assert.deepEqual(
      values,
      new Map([["a", "1"], ["missing", null], ["c", "NOT_FOUND"], ["e", "5"]]),
    );
    assert.deepEqual(await client.mget("d"), new Map([["d", "4"]]));
    assert.deepEqual(await client.mget([]), new Map());
    assert.equal(await client.exists(["a", "b", "missing", "a"]), 3);
    assert.equal(await client.exists("c"), 1);
    assert.equal(await client.exists([]), 0);
  });
});

Deno.test("scan() walks every page, with or without a prefix, AFTER included", async () => {
  await withNode(async (client) => {
    const keys = [];
    for (let i = 0; i < 23; i++) keys.push(`user:${String(i).padStart(2, "0")}`);
    keys.push("after", "afterwards", "AFTER", "b");
    for (const key of keys) await client.set(key, "v");
    const all = await collect(client.scan());
    assert.deepEqual(all, [...keys].sort());
    assert.deepEqual(await collect(client.scan("user:")), keys.slice(0, 23));
    assert.deepEqual(await collect(client.scan("user:1")), keys.slice(10, 20));
    // A prefix spelled AFTER is not taken for the keyword.
    assert.deepEqual(await collect(client.scan("after")), ["after", "afterwards"]);
    assert.deepEqual(await collect(client.scan("AFTER")), ["AFTER"]);
    assert.deepEqual(await collect(client.scan("zzz")), []);
    assert.equal(await client.dbsize(), keys.length);
  }, { limits: { scanPageKeys: 5 } });
});

Deno.test("expire, ttl and persist", async () => {
  await withNode(async (client) => {
    assert.equal(await client.ttl("k"), null);
    assert.equal(await client.expire("k", 10), false);
    assert.equal(await client.persist("k"), false);
    await client.set("k", "v");
    assert.equal(await client.ttl("k"), Infinity);
    assert.equal(await client.expire("k", 100), true);
    const left = await client.ttl("k");
    assert.ok(left !== null && left > 98 && left <= 100, `ttl ${left}`);
    assert.equal(await client.persist("k"), true);
    assert.equal(await client.ttl("k"), Infinity);
    assert.equal(await client.expire("k", 0), true);
    assert.equal(await client.get("k"), null);
  });
});

Deno.test("truncate, dbsize, ping, echo, info, version, hash, sync and shutdown", async () => {
  await withNode(async (client, node) => {
    await client.mset({ a: "1", b: "2" });
    assert.equal(await client.dbsize(), 2);
    await client.truncate();
    assert.equal(await client.dbsize(), 0);
    assert.equal(await client.ping(), "PONG");
    assert.equal(await client.ping("hello there"), "hello there");
    assert.equal(await client.ping(""), "");
    assert.equal(await client.echo(" spaced "), " spaced ");
    const info = await client.info();
    assert.equal(info.get("node_id"), "client-test");
    assert.match(await client.version(), /^\d+\.\d+\.\d+/);
    assert.equal(info.get("merkle_root"), await client.hash());
    assert.match(await client.hash(), /^[0-9a-f]{16}$/);
    await assert.rejects(() => client.sync("127.0.0.1", 1), ServerError);
    await client.shutdown();
    await node.shutdownRequested;
  });
});

Deno.test("quit() resolves once the server closed; reconnect opens a new connection", async () => {
  await withNode(async (client, node) => {
    // Without reconnect, a quit connection stays closed.
    await client.set("k", "v");
    await client.quit();
    await assert.rejects(() => client.get("k"), /connection closed/);
    const again = await MerkleKVClient.connect({ port: node.port, reconnect: true });
    try {
      const pending = again.get("k");
      await again.quit();
      assert.equal(await pending, "v", "a request before QUIT is answered");
      // Requests made together on a closed connection share one new connection, in order.
      const [set, get] = await Promise.all([again.set("k", "w"), again.get("k")]);
      assert.deepEqual([set, get], [undefined, "w"]);
      await again.quit();
      assert.equal(await again.incr("n"), 1n);
    } finally {
      await again.close();
    }
    await assert.rejects(() => again.get("k"), /client closed/, "close() is for good");
  });
});

Deno.test("with reconnect, requests in flight fail when the server closes; later ones reconnect", async () => {
  let connections = 0;
  await withFakeServer(
    (socket, received) => {
      if (received.startsWith("GET slow")) {
        connections++;
        socket.destroy();
      } else if (received.includes("PING")) socket.write("PONG\r\n");
    },
    async (port) => {
      const client = await MerkleKVClient.connect({ port, reconnect: true, timeoutMs: 5_000 });
      try {
        await assert.rejects(() => client.get("slow"), /connection closed/);
        assert.equal(await client.ping(), "PONG");
        assert.equal(connections, 1);
      } finally {
        await client.close();
      }
    },
  );
});
