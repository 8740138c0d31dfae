/**
 * The typed client refuses, before sending anything, every key and value the server would
 * refuse. A recording server proves that nothing went out; a real node proves that nothing
 * ran.
 */

import assert from "node:assert/strict";
import { ClientError, MerkleKVClient, ServerError } from "../../src/client/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { withFakeServer } from "../_support/fake_server.ts";
import { withNode } from "../_support/in_process_node.ts";

const MAX_KEY_BYTES = DEFAULT_CONFIG.limits.maxKeyBytes;

/** Keys the server refuses, with what the refusal says. */
const BAD_KEYS: [string, RegExp][] = [
  ["", /key must not be empty/],
  [" ", /whitespace or control/],
  ["a b", /whitespace or control/],
  ["a\tb", /whitespace or control/],
  ["a\rb", /whitespace or control/],
  ["a\nb", /whitespace or control/],
  ["nul\x00", /whitespace or control/],
  ["\x1f", /whitespace or control/],
  ["del\x7f", /whitespace or control/],
  ["x".repeat(MAX_KEY_BYTES + 1), /key too long: 1025 bytes, max 1024/],
  // 513 characters, 1,026 bytes of UTF-8: the limit counts bytes.
  ["é".repeat(513), /key too long: 1026 bytes, max 1024/],
  ["lone\uD800", /not well-formed UTF-16/],
];

/** Every typed method that takes a key, called with `key`. */
function callsWithKey(client: MerkleKVClient, key: string): [string, () => Promise<unknown>][] {
  return [
    ["get", () => client.get(key)],
    ["getBytes", () => client.getBytes(key)],
    ["set", () => client.set(key, "v")],
    ["del", () => client.del(key)],
    ["incr", () => client.incr(key)],
    ["decr", () => client.decr(key, 2n)],
    ["append", () => client.append(key, "v")],
    ["prepend", () => client.prepend(key, "v")],
    ["mget", () => client.mget(["fine", key])],
    ["mgetBytes", () => client.mgetBytes([key])],
    ["mset", () => client.mset([["fine", "v"], [key, "v"]])],
    ["exists", () => client.exists(["fine", key])],
    ["expire", () => client.expire(key, 10)],
    ["ttl", () => client.ttl(key)],
    ["persist", () => client.persist(key)],
  ];
}

/** Values the server refuses (or that are not text), with what the refusal says. */
const BAD_VALUES: [string | Uint8Array, RegExp][] = [
  ["a\nb", /value contains LF/],
  ["\n", /value contains LF/],
  ["x\r\nSET injected yes", /value contains LF/],
  [new Uint8Array([0x61, 0x0a, 0x62]), /value contains LF/],
  ["x".repeat(DEFAULT_CONFIG.limits.maxValueBytes + 1), /value too long: 1048577 bytes/],
  ["\uDC00lone", /not well-formed UTF-16/],
];

/** A client on a server that records every byte and answers each PING with PONG. */
async function withRecorder(
  options: { maxKeyBytes?: number; maxValueBytes?: number; maxKeysPerCommand?: number },
  test: (client: MerkleKVClient, received: () => string) => Promise<void>,
): Promise<void> {
  let received = "";
  await withFakeServer(
    (socket, chunk) => {
      received += chunk;
      if (chunk.includes("PING")) socket.write("PONG\r\n");
    },
    async (port) => {
      const client = await MerkleKVClient.connect({ port, timeoutMs: 5_000, ...options });
      try {
        await test(client, () => received);
      } finally {
        await client.close();
      }
    },
  );
}

/** `call` rejects with a ClientError (not a ServerError) whose message matches `message`. */
async function assertRefused(call: () => Promise<unknown>, message: RegExp, what: string) {
  await assert.rejects(call, (error: Error) => {
    assert.ok(error instanceof ClientError && !(error instanceof ServerError), what);
    assert.match(error.message, message, what);
    return true;
  });
}

Deno.test("every keyed method refuses a key the server would refuse, sending nothing", async () => {
  await withRecorder({}, async (client, received) => {
    for (const [key, message] of BAD_KEYS) {
      for (const [name, call] of callsWithKey(client, key)) {
        await assertRefused(call, message, `${name}(${JSON.stringify(key.slice(0, 20))})`);
      }
    }
    // The connection is in step: the first bytes the server saw are this PING.
    assert.equal(await client.ping(), "PONG");
    assert.equal(received(), "PING\r\n");
  });
});

Deno.test("set, append, prepend and mset refuse a value with LF or over the limit", async () => {
  await withRecorder({}, async (client, received) => {
    for (const [value, message] of BAD_VALUES) {
      const shown = String(value).slice(0, 20);
      await assertRefused(() => client.set("k", value), message, `set ${shown}`);
      await assertRefused(() => client.append("k", value), message, `append ${shown}`);
      await assertRefused(() => client.prepend("k", value), message, `prepend ${shown}`);
      await assertRefused(() => client.mset({ k: value }), message, `mset ${shown}`);
    }
    await assertRefused(() => client.mset({ k: "two words" }), /hold no space/, "mset space");
    await assertRefused(() => client.mset({ k: "" }), /not empty/, "mset empty");
    await assertRefused(() => client.echo("a\nb"), /holds LF/, "echo");
    await assertRefused(() => client.ping("a\nb"), /holds LF/, "ping");
    assert.equal(await client.ping(), "PONG");
    assert.equal(received(), "PING\r\n");
  });
});

Deno.test("the limits are options: keys, values and key counts are held to them", async () => {
  const options = { maxKeyBytes: 8, maxValueBytes: 4, maxKeysPerCommand: 2 };
  await withRecorder(options, async (client, received) => {
    await assertRefused(() => client.get("123456789"), /key too long: 9 bytes, max 8/, "key");
    await assertRefused(() => client.set("k", "12345"), /value too long: 5 bytes, max 4/, "value");
    await assertRefused(() => client.mget(["a", "b", "c"]), /too many keys: 3, max 2/, "mget");
    await assertRefused(() => client.exists(["a", "b", "c"]), /too many keys: 3, max 2/, "exists");
    await assertRefused(() => client.mset({ a: "1", b: "2", c: "3" }), /too many keys/, "mset");
    await assertRefused(() => client.scan("123456789").next(), /invalid scan prefix/, "scan");
    await assertRefused(() => client.scan("a b").next(), /invalid scan prefix/, "scan");
    assert.equal(await client.ping(), "PONG");
    assert.equal(received(), "PING\r\n");
  });
  await assert.rejects(
    MerkleKVClient.connect({ port: 1, maxKeyBytes: 0 }),
    /Invalid client option maxKeyBytes: must be an integer >= 1, got 0/,
  );
});

Deno.test("amounts, seconds, sync targets and long lines are refused before sending", async () => {
  await withRecorder({}, async (client, received) => {
    await assertRefused(() => client.incr("n", 1.5), /not a safe integer/, "1.5");
    await assertRefused(() => client.incr("n", 2n ** 63n), /not a 64-bit integer/, "2^63");
    await assertRefused(() => client.decr("n", -(2n ** 63n) - 1n), /not a 64-bit integer/, "-");
    await assertRefused(() => client.expire("k", 0.5), /seconds must be an integer/, "0.5 s");
    await assertRefused(() => client.expire("k", 9e12 + 1), /seconds must be an integer/, "big");
    await assertRefused(() => client.sync("a b", 1), /invalid sync host/, "host");
    await assertRefused(() => client.sync("h", 70_000), /invalid sync port/, "port");
    // 2,000 pairs of 1 KiB values: each is fine, the line is past max_line_bytes.
    const big = Array.from({ length: 2_000 }, (_, i) => [`k${i}`, "v".repeat(1024)] as const);
    await assertRefused(() => client.mset(big), /request too long: \d+ bytes, max 1049664/, "line");
    assert.equal(await client.ping(), "PONG");
    assert.equal(received(), "PING\r\n");
  });
});

Deno.test('set("c", "x\\r\\nSET injected yes") is refused and nothing runs on the node', async () => {
  await withNode(async (client) => {
    const processed = async () => Number((await client.info()).get("commands_processed"));
    const before = await processed();
    await assertRefused(
      () => client.set("c", "x\r\nSET injected yes"),
      /invalid value for key "c": value contains LF/,
      "injection",
    );
    await assertRefused(() => client.set("c\r\nSET injected", "yes"), /whitespace/, "in a key");
    await assertRefused(() => client.mset([["c", "x\nSET injected yes"]]), /LF/, "mset");
    // Only the INFO that reads the count ran.
    assert.equal(await processed(), before + 1);
    assert.equal(await client.exists("injected"), 0);
    assert.equal(await client.get("c"), null);
    assert.equal(await client.dbsize(), 0);
  });
});

Deno.test("the largest key and value the node takes by default are sent; CR is a value byte", async () => {
  await withNode(async (client) => {
    const key = "k".repeat(MAX_KEY_BYTES);
    const value = "v".repeat(DEFAULT_CONFIG.limits.maxValueBytes - 1) + "\r";
    await client.set(key, value);
    assert.equal(await client.get(key), value);
    await client.set("cr", "\r\r");
    assert.equal(await client.get("cr"), "\r\r");
  });
});
