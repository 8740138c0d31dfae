import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  createRequestEncoder,
  KeySpace,
  MerkleKVReplyParser,
  ProtocolError,
  type Reply,
  type ReplyParser,
  RespReplyParser,
  SET_END,
} from "../../bench/load/load_protocol.ts";
import { RequestBuffer } from "../../bench/load/load_transport.ts";
import { bucketIndex, bucketMiddleTicks, LatencyHistogram } from "../../bench/load/histogram.ts";
import { loadArgs, parseLoadArgs, UsageError } from "../../bench/load/load_options.ts";
import * as reply from "../../src/protocol/reply.ts";
import { parseCommand } from "../../src/protocol/parse.ts";

/** Feeds `bytes` in the given pieces and collects every reply. */
function parseIn(parser: ReplyParser, pieces: Uint8Array[]): Reply[] {
  const replies: Reply[] = [];
  for (const piece of pieces) {
    parser.push(piece);
    for (let next = parser.next(); next !== null; next = parser.next()) replies.push(next);
  }
  return replies;
}

/** Whole, byte by byte, split in two at every offset, and in seeded random chunks. */
function assertParsesEveryWay(
  makeParser: () => ReplyParser,
  text: string,
  expected: Reply[],
): void {
  const bytes = Buffer.from(text, "latin1");
  assert.deepEqual(parseIn(makeParser(), [bytes]), expected, "whole");
  const single = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
  assert.deepEqual(parseIn(makeParser(), single), expected, "byte by byte");
  for (let offset = 0; offset <= bytes.length; offset++) {
    const pieces = [bytes.subarray(0, offset), bytes.subarray(offset)];
    assert.deepEqual(parseIn(makeParser(), pieces), expected, `split at ${offset}`);
  }
  let seed = 7;
  for (let round = 0; round < 20; round++) {
    const pieces: Uint8Array[] = [];
    for (let start = 0; start < bytes.length;) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const length = 1 + (seed % 13);
      pieces.push(bytes.subarray(start, start + length));
      start += length;
    }
    assert.deepEqual(parseIn(makeParser(), pieces), expected, `random chunks, round ${round}`);
  }
}

const BINARY_VALUE = "bin\x00\x7f\xff\xfe=end";
/** Longer than the parsers' short line search: found in the buffer decoded as a string. */
const LONG_VALUE = "long=" + BINARY_VALUE.repeat(80);

Deno.test("the MerkleKV parser reads every reply the server formats, however it is split", () => {
  const text = [
    reply.OK,
    reply.valueReply("v100_00000000042=abc"),
    reply.NOT_FOUND,
    reply.errorReply('Cannot parse command "SETX": unknown command'),
    reply.valuesReply(["k1", "k2", "k3"], ["one", undefined, BINARY_VALUE]),
    reply.PONG,
    reply.numberReply("DBSIZE", 3),
    reply.keysReply(["a", "b"]),
    reply.infoReply([["keys", 2], ["role", "node"]]),
    reply.valuesReply([], []),
    "VALUE lf-only\n",
    reply.valueReply(LONG_VALUE),
    reply.valuesReply(["k4", "k5"], [LONG_VALUE, "short"]),
    reply.OK,
  ].join("");
  assertParsesEveryWay(() => new MerkleKVReplyParser(), text, [
    { kind: "status", text: "OK" },
    { kind: "value", value: "v100_00000000042=abc" },
    { kind: "missing" },
    { kind: "error", message: 'Cannot parse command "SETX": unknown command' },
    {
      kind: "array",
      keys: ["k1", "k2", "k3"],
      items: [{ kind: "value", value: "one" }, { kind: "missing" }, {
        kind: "value",
        value: BINARY_VALUE,
      }],
    },
    { kind: "status", text: "PONG" },
    { kind: "status", text: "DBSIZE 3" },
    { kind: "lines", header: "KEYS 2", lines: ["a", "b"] },
    { kind: "lines", header: "INFO", lines: ["keys:2", "role:node"] },
    { kind: "array", keys: [], items: [] },
    { kind: "value", value: "lf-only" },
    { kind: "value", value: LONG_VALUE },
    {
      kind: "array",
      keys: ["k4", "k5"],
      items: [{ kind: "value", value: LONG_VALUE }, { kind: "value", value: "short" }],
    },
    { kind: "status", text: "OK" },
  ]);
});

Deno.test("the RESP parser reads every reply type, however it is split", () => {
  const text = "+OK\r\n-ERR wrong type\r\n:42\r\n$5\r\nhello\r\n$-1\r\n$0\r\n\r\n" +
    "$6\r\na\r\nb\r\n\r\n*3\r\n$1\r\na\r\n$-1\r\n:7\r\n*-1\r\n*0\r\n" +
    "*2\r\n*1\r\n+x\r\n$3\r\n\x00\xff\n\r\n" + `-ERR ${LONG_VALUE}\r\n` +
    `$${LONG_VALUE.length}\r\n${LONG_VALUE}\r\n:8\r\n`;
  assertParsesEveryWay(() => new RespReplyParser(), text, [
    { kind: "status", text: "OK" },
    { kind: "error", message: "ERR wrong type" },
    { kind: "integer", value: 42 },
    { kind: "value", value: "hello" },
    { kind: "missing" },
    { kind: "value", value: "" },
    { kind: "value", value: "a\r\nb\r\n" },
    {
      kind: "array",
      keys: null,
      items: [{ kind: "value", value: "a" }, { kind: "missing" }, { kind: "integer", value: 7 }],
    },
    { kind: "missing" },
    { kind: "array", keys: null, items: [] },
    {
      kind: "array",
      keys: null,
      items: [{ kind: "array", keys: null, items: [{ kind: "status", text: "x" }] }, {
        kind: "value",
        value: "\x00\xff\n",
      }],
    },
    { kind: "error", message: `ERR ${LONG_VALUE}` },
    { kind: "value", value: LONG_VALUE },
    { kind: "integer", value: 8 },
  ]);
});

Deno.test("the parsers reject streams that cannot be framed", () => {
  const cases: [ReplyParser, string][] = [
    [new RespReplyParser(), "?what\r\n"],
    [new RespReplyParser(), "$abc\r\n"],
    [new RespReplyParser(), "$3\r\nabcd\r\n"],
    [new RespReplyParser(), "*x\r\n"],
    [new MerkleKVReplyParser(), "VALUES many\r\n"],
    [new MerkleKVReplyParser(), "VALUES 1\r\nnospace\r\n"],
  ];
  for (const [parser, text] of cases) {
    parser.push(Buffer.from(text, "latin1"));
    assert.throws(() => parser.next(), ProtocolError, JSON.stringify(text));
  }
});

Deno.test("a parser keeps an incomplete reply until the rest arrives", () => {
  const parser = new MerkleKVReplyParser();
  parser.push(Buffer.from("VALUES 2\r\na 1\r\n"));
  assert.equal(parser.next(), null);
  assert.equal(parser.pendingBytes, 15);
  parser.push(Buffer.from("b NOT_FOUND\r\n"));
  assert.deepEqual(parser.next(), {
    kind: "array",
    keys: ["a", "b"],
    items: [{ kind: "value", value: "1" }, { kind: "missing" }],
  });
  assert.equal(parser.pendingBytes, 0);
});

Deno.test("RESP requests parse back into the words they were made from", () => {
  const encoder = createRequestEncoder("redis");
  const requests: [string, string[]][] = [
    [encoder.set("key", "value"), ["SET", "key", "value"]],
    [encoder.get("key"), ["GET", "key"]],
    [encoder.mget(["a", "b", "c"]), ["MGET", "a", "b", "c"]],
    [encoder.mset(["a", "b"], ["1", "2"]), ["MSET", "a", "1", "b", "2"]],
    [encoder.ping(), ["PING"]],
  ];
  const parser = new RespReplyParser();
  parser.push(Buffer.from(requests.map(([text]) => text).join(""), "latin1"));
  for (const [, words] of requests) {
    assert.deepEqual(parser.next(), {
      kind: "array",
      keys: null,
      items: words.map((word) => ({ kind: "value", value: word })),
    });
  }
});

Deno.test("MerkleKV requests parse into the commands the load client means", () => {
  const encoder = createRequestEncoder("merklekv");
  const limits = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, maxKeysPerCommand: 10_000 };
  const line = (text: string) => {
    assert.ok(text.endsWith("\r\n"));
    return parseCommand(text.slice(0, -2), limits);
  };
  assert.deepEqual(line(encoder.set("k", "v=1")), { kind: "set", key: "k", value: "v=1" });
  assert.deepEqual(line(encoder.get("k")), { kind: "get", key: "k" });
  assert.deepEqual(line(encoder.mget(["a", "b"])), { kind: "mget", keys: ["a", "b"] });
  assert.deepEqual(line(encoder.mset(["a", "b"], ["1", "2"])), {
    kind: "mset",
    keys: ["a", "b"],
    values: ["1", "2"],
  });
  assert.deepEqual(line(encoder.ping()), { kind: "ping", message: null });
});

Deno.test("KeySpace makes fixed-size distinct keys and key-derived values without spaces", () => {
  const space = new KeySpace(16, 100, 1_000_000);
  const keys = new Set<string>();
  for (const index of [0, 1, 42, 999_999]) {
    const key = space.key(index);
    assert.equal(key.length, 16);
    keys.add(key);
    const value = space.value(key);
    assert.equal(value.length, 100);
    assert.ok(value.startsWith(key + "="));
    assert.doesNotMatch(value, /\s/);
  }
  assert.equal(keys.size, 4);
  assert.equal(new KeySpace(16, 16_384, 10_000).value("v16384_000000042").length, 16_384);
  assert.notEqual(new KeySpace(16, 100, 10).key(1), new KeySpace(16, 200, 10).key(1));
  assert.throws(() => new KeySpace(8, 100, 1_000_000), RangeError);
});

Deno.test("KeySpace.matches accepts exactly a key's own value, and SET heads frame it", () => {
  for (const valueBytes of [8, 16, 17, 100, 16_384]) {
    const space = new KeySpace(16, valueBytes, 10_000);
    const key = space.key(42);
    const value = space.value(key);
    assert.ok(space.matches(key, value), `${valueBytes} B`);
    assert.equal(
      space.valueHead(key) + new TextDecoder().decode(space.fillerBytes).slice(
        0,
        valueBytes - space.valueHead(key).length,
      ),
      value,
    );
    // A value shorter than its key is the key's start, the same for neighbouring keys.
    if (valueBytes >= 16) assert.ok(!space.matches(space.key(43), value));
    assert.ok(!space.matches(key, value.slice(0, -1)));
    assert.ok(!space.matches(key, value.slice(0, -1) + "#"));
    if (valueBytes > 17) assert.ok(!space.matches(key, key + "#" + value.slice(17)));
    // One byte changed anywhere in the filler.
    for (const at of [17, Math.floor(valueBytes / 2), valueBytes - 2]) {
      if (at <= 16 || at >= valueBytes) continue;
      const changed = value.slice(0, at) + "#" + value.slice(at + 1);
      assert.ok(!space.matches(key, changed), `${valueBytes} B, byte ${at}`);
    }
    for (const protocol of ["merklekv", "redis"] as const) {
      const encoder = createRequestEncoder(protocol);
      assert.equal(
        encoder.setHead(key, value.length) + value + SET_END,
        encoder.set(key, value),
      );
    }
  }
});

Deno.test("RequestBuffer hands out what was built and never reuses memory still held", () => {
  const buffer = new RequestBuffer();
  assert.equal(buffer.take(), null);
  const big = new Uint8Array(10_000).fill(0x61);
  buffer.text("SET k ");
  buffer.bytes(big);
  buffer.text("\r\n");
  const first = buffer.take();
  assert.ok(first !== null);
  assert.equal(first.length, 6 + 10_000 + 2);
  const copy = first.slice();
  buffer.text("GET k\r\n");
  const second = buffer.take();
  assert.deepEqual(first, copy, "building the second request left the first alone");
  assert.equal(new TextDecoder().decode(second!), "GET k\r\n");
  buffer.release(first);
  buffer.text("PING\r\n");
  assert.equal(new TextDecoder().decode(buffer.take()!), "PING\r\n");
});

Deno.test("the histogram is exact below 51.2 µs and within 0.4% above", () => {
  for (const ticks of [0, 1, 511, 512, 513, 1_000, 65_432, 10_000_000, 0x7fff_ffff]) {
    const middle = bucketMiddleTicks(bucketIndex(ticks));
    if (ticks < 512) assert.equal(middle, ticks);
    else assert.ok(Math.abs(middle - ticks) / ticks <= 0.004, `${ticks} -> ${middle}`);
  }
  const histogram = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) histogram.record(us / 1000);
  assert.equal(histogram.count, 10_000);
  const percentiles: [percent: number, us: number][] = [[50, 5_000], [99, 9_900], [99.9, 9_990]];
  for (const [percent, us] of percentiles) {
    const measured = histogram.percentileUs(percent);
    assert.ok(Math.abs(measured - us) / us <= 0.004, `p${percent}: ${measured} µs`);
  }
  assert.equal(histogram.percentileUs(0.01), 1);
  assert.equal(histogram.maxUs(), 10_000);
  histogram.reset();
  assert.equal(histogram.percentileUs(99), 0);
});

Deno.test("load options survive their command-line form and bad ones are refused", () => {
  const request = {
    port: 7000,
    proto: "redis" as const,
    conns: 3,
    depth: 32,
    mix: "mget:100",
    preload: true,
    seconds: 1.5,
    tlsCa: "/tmp/ca.crt",
    tlsServername: "localhost",
  };
  const options = parseLoadArgs(loadArgs(request));
  assert.equal(options.tlsCa, "/tmp/ca.crt");
  assert.equal(options.tlsServername, "localhost");
  assert.equal(options.port, 7000);
  assert.equal(options.proto, "redis");
  assert.equal(options.depth, 32);
  assert.equal(options.mix, "mget:100");
  assert.equal(options.preload, true);
  assert.equal(options.preloadOnly, false);
  assert.equal(options.seconds, 1.5);
  assert.equal(options.keys, 100_000);
  for (
    const argv of [
      ["--proto", "redis"],
      ["--port", "1", "--proto", "memcached"],
      ["--port", "1", "--proto", "redis", "--host", "10.0.0.1"],
      ["--port", "1", "--proto", "redis", "--mix", "del:10"],
      ["--port", "1", "--proto", "redis", "--conns", "0"],
      ["--port", "1", "--proto", "redis", "--seconds"],
      ["--port", "1", "--proto", "redis", "--bogus"],
      ["--port", "1", "--proto", "redis", "--user", "app"],
      ["--port", "1", "--proto", "redis", "--password", "has space"],
      ["--port", "1", "--proto", "redis", "--tls-servername", "localhost"],
    ]
  ) {
    assert.throws(() => parseLoadArgs(argv), UsageError, argv.join(" "));
  }
});
