import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  BATCH_FORMAT_VERSION,
  type ChangeBatch,
  changesTopic,
  decodeAnnouncement,
  decodeBatch,
  encodeAnnouncement,
  encodeBatch,
  encodedBatchLength,
  formatAddress,
  nodesTopic,
  parseTopic,
} from "../../src/replication/codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const SET: Entry = {
  key: "user:1",
  value: "alice",
  hlc: 1_700_000_000_000 * 1024 + 3,
  node: "node-a",
  expiresAtMs: 0,
};
const TOMBSTONE: Entry = {
  key: "gone",
  value: null,
  hlc: 1_700_000_000_001 * 1024,
  node: "node-a",
  expiresAtMs: 0,
};
const EXPIRING: Entry = {
  key: "session",
  value: "\x00\xff binary \x7f",
  hlc: 1_700_000_000_002 * 1024,
  node: "node-a",
  expiresAtMs: 1_700_000_060_000,
};

const BATCH: ChangeBatch = {
  origin: "node-a",
  incarnation: 0xdeadbeef,
  firstSequence: 42,
  entries: [SET, TOMBSTONE, EXPIRING],
};

function decodeOk(bytes: Uint8Array): ChangeBatch {
  const result = decodeBatch(bytes);
  if (!result.ok) throw new Error(`expected a batch, got error: ${result.error}`);
  return result.batch;
}

Deno.test("encodeBatch() then decodeBatch() returns the same batch", () => {
  const bytes = encodeBatch(BATCH);
  assert.equal(bytes.length, encodedBatchLength(BATCH.origin, BATCH.entries));
  assert.deepEqual(decodeOk(bytes), BATCH);
});

Deno.test("encodeBatch() writes the documented header byte by byte", () => {
  const bytes = encodeBatch({
    origin: "n1",
    incarnation: 0x01020304,
    firstSequence: 7,
    entries: [SET],
  });
  assert.equal(bytes[0], BATCH_FORMAT_VERSION);
  assert.equal(bytes[1], 2);
  assert.equal(bytes.toString("latin1", 2, 4), "n1");
  assert.deepEqual([...bytes.subarray(4, 8)], [4, 3, 2, 1]);
  assert.equal(bytes.readDoubleLE(8), 7);
  assert.equal(bytes.readUInt32LE(16), 1);
  // The entry follows in the entry_codec layout: flags 0, then its hlc.
  assert.equal(bytes[20], 0);
  assert.equal(bytes.readDoubleLE(21), SET.hlc);
});

Deno.test("decodeBatch() reads a batch from a view into a larger buffer", () => {
  const bytes = encodeBatch(BATCH);
  const larger = Buffer.alloc(bytes.length + 10, 0xee);
  bytes.copy(larger, 5);
  assert.deepEqual(decodeOk(larger.subarray(5, 5 + bytes.length)), BATCH);
});

Deno.test("encodeBatch() then decodeBatch() round-trips random batches", () => {
  const random = new SeededRandom(7);
  // Values here are any bytes except CR and LF (docs/protocol.md allows CR as well).
  const byte = (): string => {
    const code = Math.floor(random.next() * 256);
    return code === 10 || code === 13 ? byte() : String.fromCharCode(code);
  };
  const keyByte = () => String.fromCharCode(0x21 + Math.floor(random.next() * (0x7e - 0x21)));
  for (let round = 0; round < 200; round++) {
    const entries: Entry[] = [];
    const count = 1 + Math.floor(random.next() * 20);
    for (let index = 0; index < count; index++) {
      const tombstone = random.next() < 0.2;
      entries.push({
        key: Array.from({ length: 1 + Math.floor(random.next() * 30) }, keyByte).join(""),
        value: tombstone
          ? null
          : Array.from({ length: Math.floor(random.next() * 50) }, byte).join(""),
        hlc: Math.floor(random.next() * 2 ** 52),
        node: `node-${Math.floor(random.next() * 100)}`,
        expiresAtMs: !tombstone && random.next() < 0.3
          ? 1 + Math.floor(random.next() * 2 ** 45)
          : 0,
      });
    }
    const batch: ChangeBatch = {
      origin: `origin-${round}`,
      incarnation: Math.floor(random.next() * 2 ** 32),
      firstSequence: 1 + Math.floor(random.next() * 2 ** 40),
      entries,
    };
    assert.deepEqual(decodeOk(encodeBatch(batch)), batch);
  }
});

/** Table of malformed inputs: each must be an error value that names the problem. */
function malformedCases(): [string, Uint8Array, RegExp][] {
  const good = encodeBatch(BATCH);
  const withByte = (index: number, value: number) => {
    const copy = Buffer.from(good);
    copy[index] = value;
    return copy;
  };
  const withDouble = (index: number, value: number) => {
    const copy = Buffer.from(good);
    copy.writeDoubleLE(value, index);
    return copy;
  };
  const withCount = (count: number) => {
    const copy = Buffer.from(good);
    copy.writeUInt32LE(count, 2 + 6 + 4 + 8);
    return copy;
  };
  const originEnd = 2 + "node-a".length;
  return [
    ["empty", new Uint8Array(0), /empty/],
    ["unknown version", withByte(0, 3), /unknown batch format version 3/],
    ["version zero", withByte(0, 0), /unknown batch format version 0/],
    ["only the version byte", good.subarray(0, 1), /truncated in header/],
    ["origin longer than the message", withByte(1, 200), /truncated in origin/],
    ["empty origin", withByte(1, 0), /origin|truncated|invalid/],
    ["origin with a space", withByte(3, 0x20), /invalid origin/],
    ["sequence zero", withDouble(originEnd + 4, 0), /invalid sequence/],
    ["fractional sequence", withDouble(originEnd + 4, 1.5), /invalid sequence/],
    ["NaN sequence", withDouble(originEnd + 4, NaN), /invalid sequence/],
    ["sequence past 2^53", withDouble(originEnd + 4, 2 ** 53), /invalid sequence/],
    ["zero entries", withCount(0), /without entries/],
    ["more entries than bytes", withCount(0xffffffff), /cannot fit/],
    ["one entry fewer than present", withCount(2), /unexpected bytes after the last entry/],
    ["one entry more than present", withCount(4), /cannot fit|entry 3/],
    ["truncated in the last entry", good.subarray(0, good.length - 1), /entry 2: .*truncated/],
    ["truncated in the first entry", good.subarray(0, originEnd + 16 + 5), /cannot fit|entry 0/],
    [
      "a byte after the last entry",
      Buffer.concat([good, Buffer.from([0])]),
      /unexpected bytes after the last entry: 1/,
    ],
    ["unknown entry flags", withByte(originEnd + 16, 0x80), /entry 0: unknown entry flags/],
    [
      "negative version timestamp",
      withDouble(originEnd + 17, -1),
      /entry 0: key "[^"]+": invalid version/,
    ],
    [
      "text instead of a batch",
      Buffer.from("hello world, this is not a batch"),
      /unknown batch format/,
    ],
    ["JSON instead of a batch", Buffer.from('{"key":"a","value":"b"}'), /unknown batch format/],
  ];
}

Deno.test("decodeBatch() returns an error for every malformed input in the table", () => {
  for (const [name, bytes, expected] of malformedCases()) {
    const result = decodeBatch(bytes);
    assert.equal(result.ok, false, `${name}: decoded`);
    if (!result.ok) assert.match(result.error, expected, name);
  }
});

Deno.test("decodeBatch() never throws on any truncation or single-byte corruption", () => {
  const good = encodeBatch(BATCH);
  for (let end = 0; end < good.length; end++) {
    assert.equal(decodeBatch(good.subarray(0, end)).ok, false, `truncated at ${end}`);
  }
  for (let index = 0; index < good.length; index++) {
    for (const value of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const copy = Buffer.from(good);
      copy[index] = value;
      decodeBatch(copy); // must return, whatever it returns
    }
  }
});

Deno.test("decodeBatch() never throws on random bytes", () => {
  const random = new SeededRandom(11);
  for (let round = 0; round < 2000; round++) {
    const bytes = new Uint8Array(Math.floor(random.next() * 80));
    for (let index = 0; index < bytes.length; index++) bytes[index] = random.next() * 256;
    if (round % 2 === 0 && bytes.length > 0) bytes[0] = BATCH_FORMAT_VERSION;
    const result = decodeBatch(bytes);
    if (result.ok) assert.ok(result.batch.entries.length > 0);
  }
});

Deno.test("encodeAnnouncement() then decodeAnnouncement() returns the same announcement", () => {
  for (const address of ["127.0.0.1:7878", "db-1.example.com:65535", "[::1]:7878"]) {
    const announcement = { nodeId: "node-a", address };
    const result = decodeAnnouncement(encodeAnnouncement(announcement));
    assert.deepEqual(result, { ok: true, announcement });
  }
  assert.equal(
    new TextDecoder().decode(encodeAnnouncement({ nodeId: "n1", address: "h:1" })),
    '{"format":1,"node_id":"n1","address":"h:1"}',
  );
});

Deno.test("decodeAnnouncement() reads an empty payload as a node that is gone", () => {
  assert.deepEqual(decodeAnnouncement(new Uint8Array(0)), { ok: true, announcement: null });
});

Deno.test("decodeAnnouncement() returns an error for every malformed announcement", () => {
  const cases: [string, string | Uint8Array, RegExp][] = [
    ["not JSON", "hello", /not UTF-8 JSON/],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), /not UTF-8 JSON/],
    ["a JSON string", '"node-a"', /not an object/],
    ["JSON null", "null", /not an object/],
    ["no format", '{"node_id":"a","address":"h:1"}', /unknown announcement format/],
    ["format 2", '{"format":2,"node_id":"a","address":"h:1"}', /unknown announcement format 2/],
    ["no node_id", '{"format":1,"address":"h:1"}', /invalid node_id/],
    ["node_id with a space", '{"format":1,"node_id":"a b","address":"h:1"}', /invalid node_id/],
    ["no address", '{"format":1,"node_id":"a"}', /invalid address/],
    ["address without port", '{"format":1,"node_id":"a","address":"host"}', /invalid address/],
    ["port 0", '{"format":1,"node_id":"a","address":"host:0"}', /invalid address/],
    ["port 65536", '{"format":1,"node_id":"a","address":"host:65536"}', /invalid address/],
    ["address a number", '{"format":1,"node_id":"a","address":7878}', /invalid address/],
    [
      "too long",
      `{"format":1,"node_id":"a","address":"h:1","x":"${"x".repeat(5000)}"}`,
      /too long/,
    ],
  ];
  for (const [name, payload, expected] of cases) {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    const result = decodeAnnouncement(bytes);
    assert.equal(result.ok, false, `${name}: decoded`);
    if (!result.ok) assert.match(result.error, expected, name);
  }
});

Deno.test("parseTopic() recognizes the changes and nodes topics under the prefix only", () => {
  assert.equal(changesTopic("merklekv", "node-a"), "merklekv/changes/node-a");
  assert.equal(nodesTopic("prod/kv", "node-a"), "prod/kv/nodes/node-a");
  assert.deepEqual(parseTopic("merklekv", "merklekv/changes/node-a"), {
    kind: "changes",
    nodeId: "node-a",
  });
  assert.deepEqual(parseTopic("prod/kv", "prod/kv/nodes/n.1"), { kind: "nodes", nodeId: "n.1" });
  assert.equal(parseTopic("merklekv", "other/changes/node-a"), null);
  assert.equal(parseTopic("merklekv", "merklekv/changes"), null);
  assert.equal(parseTopic("merklekv", "merklekv/other/node-a"), null);
  assert.equal(parseTopic("merklekv", "merklekv/changes/a/b"), null);
  assert.equal(parseTopic("merklekv", "merklekv/changes/"), null);
  assert.equal(parseTopic("merklekv", "merklekvx/changes/a"), null);
});

Deno.test("formatAddress() puts IPv6 hosts in brackets", () => {
  assert.equal(formatAddress("127.0.0.1", 7878), "127.0.0.1:7878");
  assert.equal(formatAddress("::1", 7878), "[::1]:7878");
});
