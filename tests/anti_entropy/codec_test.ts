import assert from "node:assert/strict";
import type { Entry } from "../../src/store/entry.ts";
import { SUB_BUCKETS } from "../../src/store/merkle.ts";
import {
  ALL_SUB_BUCKETS,
  formatDigest,
  formatDigestsReply,
  formatEntriesReply,
  formatEntry,
  formatHashList,
  formatHelloReply,
  formatPushedReply,
  formatRequest,
  formatSegmentsReply,
  type HashList,
  parseDigestLine,
  parseDigestsReply,
  parseEntriesReply,
  parseEntryLine,
  parseHashList,
  parseHelloReply,
  parsePushedReply,
  parseRequest,
  parseSegmentsReply,
  segmentDigestLines,
  type SyncRequest,
} from "../../src/anti_entropy/codec.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const LIMITS = { maxKeyBytes: 64, maxValueBytes: 1000 };

function lines(reply: string): string[] {
  return reply.slice(0, -2).split("\r\n");
}

function randomHashList(random: SeededRandom, count = 256): HashList {
  const list = { low: new Int32Array(count), high: new Int32Array(count) };
  for (let i = 0; i < count; i++) {
    list.low[i] = random.below(2 ** 32) | 0;
    list.high[i] = random.below(2 ** 32) | 0;
  }
  return list;
}

const ENTRIES: Entry[] = [
  { key: "k", value: "v", hlc: 1, node: "a", expiresAtMs: 0 },
  { key: "user:1", value: "", hlc: 1_740_000_000_000 * 1024, node: "node-1", expiresAtMs: 0 },
  { key: "spaces", value: " two  spaces ", hlc: 7, node: "n", expiresAtMs: 1_740_000_000_000 },
  {
    key: "bytes\u00ff",
    value: "\u00e9\u0080\u0000\u007f\t",
    hlc: 9,
    node: "N.o_d-e",
    expiresAtMs: 0,
  },
  { key: "dead", value: null, hlc: 2 ** 53 - 1, node: "z", expiresAtMs: 0 },
  { key: "ends-with-dash", value: "-", hlc: 3, node: "a", expiresAtMs: 0 },
];

Deno.test("an entry formats and parses back unchanged, tombstones and odd bytes included", () => {
  for (const entry of ENTRIES) {
    const parsed = parseEntryLine(formatEntry(entry), LIMITS);
    assert.ok(parsed.ok, formatEntry(entry));
    assert.deepEqual(parsed.value, entry);
  }
});

Deno.test("an entry line is key, version, node, expiry, then '-' or the value's length and bytes", () => {
  const spaces = ENTRIES[2];
  const dead = ENTRIES[4];
  assert.ok(spaces !== undefined && dead !== undefined, "ENTRIES holds five entries or more");
  assert.equal(formatEntry(spaces), "spaces 7 n 1740000000000 13  two  spaces ");
  assert.equal(formatEntry(dead), "dead 9007199254740991 z 0 -");
});

const MALFORMED_ENTRY_LINES: [string, RegExp][] = [
  ["", /truncated/],
  ["k 1 a 0", /truncated/],
  ["k 1 a 0 ", /invalid value length/],
  ["k 1 a 0 5 abc", /truncated/],
  ["k 1 a 0 1 ab", /text after the entry/],
  ["k 1 a 0 -x", /text after the entry/],
  ["k 1 a 5 -", /tombstone with an expiry/],
  ["k 01 a 0 1 v", /invalid version/],
  ["k -1 a 0 1 v", /invalid version/],
  ["k 9007199254740992 a 0 1 v", /invalid version/],
  ["k 1 bad/node 0 1 v", /invalid node id/],
  ["k 1 a x 1 v", /invalid expiry/],
  ["k 1 a 0 1001 " + "v".repeat(1001), /invalid value length/],
  [`${"k".repeat(65)} 1 a 0 1 v`, /invalid key/],
  ["k\u0001 1 a 0 1 v", /invalid key/],
];

for (const [line, expected] of MALFORMED_ENTRY_LINES) {
  Deno.test(`parseEntryLine() refuses ${JSON.stringify(line.slice(0, 30))}`, () => {
    const parsed = parseEntryLine(line, LIMITS);
    assert.ok(!parsed.ok);
    assert.match(parsed.error, expected);
  });
}

Deno.test("a digest formats and parses back; T marks a tombstone, V a value", () => {
  for (const entry of ENTRIES) {
    const parsed = parseDigestLine(formatDigest(entry), LIMITS);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, {
      key: entry.key,
      hlc: entry.hlc,
      node: entry.node,
      tombstone: entry.value === null,
      expiresAtMs: entry.expiresAtMs,
      counter: null,
      causality: null,
    });
  }
  for (
    const bad of [
      "k 1 a 0",
      "k 1 a 0 X",
      "k 1 a 0 C12",
      "k 1 a 0 C0123456789abcdeF",
      "k 1 a 5 T",
      "k 1 a 0 V extra",
      "k x a 0 V",
    ]
  ) {
    assert.ok(!parseDigestLine(bad, LIMITS).ok, bad);
  }
});

Deno.test("a hash list is 2,732 base64 characters and parses back to the same lanes", () => {
  const random = new SeededRandom(42);
  for (let i = 0; i < 20; i++) {
    const list = randomHashList(random);
    const text = formatHashList(list);
    assert.equal(text.length, 2732);
    assert.deepEqual(parseHashList(text), list);
  }
  const text = formatHashList(randomHashList(random));
  assert.equal(parseHashList(text.slice(1)), null);
  assert.equal(parseHashList("!" + text.slice(1)), null);
  assert.equal(parseHashList(text.slice(0, -4) + "AA=="), null, "decodes to fewer bytes");
});

Deno.test("sub-bucket hashes are 172 base64 characters and parse back only as that many", () => {
  const list = randomHashList(new SeededRandom(9), SUB_BUCKETS);
  const text = formatHashList(list);
  assert.equal(text.length, 172);
  assert.deepEqual(parseHashList(text, SUB_BUCKETS), list);
  assert.equal(parseHashList(text), null, "not a list of 256");
  assert.equal(parseHashList(formatHashList(randomHashList(new SeededRandom(1))), 16), null);
});

const REQUESTS: SyncRequest[] = [
  { verb: "HELLO", nodeId: "node-a", rootHex: "0123456789abcdef" },
  { verb: "SEGMENTS", branches: [0, 17, 255] },
  {
    verb: "DIGESTS",
    queries: [
      { segment: 0, subHashes: null },
      { segment: 300, subHashes: randomHashList(new SeededRandom(5), SUB_BUCKETS) },
      { segment: 65535, subHashes: null },
    ],
  },
  { verb: "GET", keys: ["a", "b:c", "\u00ff"] },
  { verb: "PUSH", entries: ENTRIES },
];

Deno.test("every request formats as SYNC <VERB> 2 ... and parses back unchanged", () => {
  for (const request of REQUESTS) {
    const line = formatRequest(request);
    assert.ok(line.startsWith(`SYNC ${request.verb} 2 `), line);
    const afterVerb = line.slice(`SYNC ${request.verb} `.length);
    const parsed = parseRequest(request.verb, afterVerb, LIMITS);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(parsed.value, request);
  }
});

const MALFORMED_REQUESTS: [string, string, RegExp][] = [
  ["FROB", "2 x", /unknown sync request "FROB"/],
  ["HELLO", "", /missing protocol version/],
  ["HELLO", "x node 0123456789abcdef", /missing protocol version/],
  [
    "HELLO",
    "1 node 0123456789abcdef",
    /unsupported sync protocol version 1 \(this node speaks 2\)/,
  ],
  ["HELLO", "2 node", /usage/],
  ["HELLO", "2 no/de 0123456789abcdef", /invalid node id/],
  ["HELLO", "2 node 0123456789ABCDEF", /16 hex digits/],
  ["SEGMENTS", "2 256", /not in 0..255/],
  ["SEGMENTS", "2 " + Array(17).fill(1).join(" "), /needs 1..16 numbers, got 17/],
  ["SEGMENTS", "2 1  2", /not in 0..255/],
  ["DIGESTS", "2", /needs 1..64 segments, got 0/],
  ["DIGESTS", "2 65536", /not in 0..65535/],
  ["DIGESTS", "2 7:" + "A".repeat(171), /segment 7: sub-bucket hashes must be 172 characters/],
  ["DIGESTS", "2 7:" + "!".repeat(172), /segment 7: sub-bucket hashes must be 172 characters/],
  ["DIGESTS", "2 7:", /sub-bucket hashes/],
  ["GET", "2", /needs 1..256 keys, got 0/],
  ["GET", "2 a  b", /invalid key/],
  ["GET", "2 " + "k".repeat(65), /invalid key/],
  ["PUSH", "2 0", /needs a count/],
  ["PUSH", "2 2 k 1 a 0 1 v", /entry 2 missing/],
  ["PUSH", "2 1 k 1 a 0 1 v extra", /text after 1 entries/],
  ["PUSH", "2 1 k 1 a 0 3 v", /entry 1: value of key "k" truncated/],
  ["PUSH", "2 257 k 1 a 0 1 v", /needs a count/],
];

for (const [verb, args, expected] of MALFORMED_REQUESTS) {
  Deno.test(`parseRequest() refuses SYNC ${verb} ${JSON.stringify(args.slice(0, 30))}`, () => {
    const parsed = parseRequest(verb, args, LIMITS);
    assert.ok(!parsed.ok);
    assert.match(parsed.error, expected);
  });
}

Deno.test("HELLO replies format and parse back, with branches or '-' for equal roots", () => {
  const branches = randomHashList(new SeededRandom(7));
  for (
    const reply of [
      { nodeId: "n1", maxLineBytes: 1049664, rootHex: "00000000000000ff", branches },
      { nodeId: "n1", maxLineBytes: 4096, rootHex: "00000000000000ff", branches: null },
    ]
  ) {
    const text = formatHelloReply(reply);
    const parsed = parseHelloReply(lines(text));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, reply);
  }
  for (
    const bad of [
      "HELLO 2 n1 4096 00000000000000ff",
      "HELLO 3 n1 4096 00000000000000ff -",
      "HELLO 2 n/1 4096 00000000000000ff -",
      "HELLO 2 n1 12 00000000000000ff -",
      "HELLO 2 n1 4096 ff -",
      "HELLO 2 n1 4096 00000000000000ff AAAA",
      "OK",
    ]
  ) assert.ok(!parseHelloReply([bad]).ok, bad);
});

Deno.test("SEGMENTS, DIGESTS, ENTRIES and PUSHED replies format and parse back", () => {
  const segments = [{ branch: 3, segments: randomHashList(new SeededRandom(3)) }];
  const parsedSegments = parseSegmentsReply(lines(formatSegmentsReply(segments)));
  assert.ok(parsedSegments.ok);
  assert.deepEqual(parsedSegments.value, segments);

  const blocks = [
    segmentDigestLines(12, 99, ALL_SUB_BUCKETS, ENTRIES),
    segmentDigestLines(13, 0, ALL_SUB_BUCKETS, []),
    segmentDigestLines(14, 5, 0b1000_0000_0000_0010, ENTRIES.slice(0, 1)),
  ];
  assert.equal(blocks[0]?.[0], `S 12 99 ${ENTRIES.length}`, "a whole segment: no sub-buckets");
  assert.equal(blocks[2]?.[0], "S 14 5 1 8002");
  const digests = parseDigestsReply(lines(formatDigestsReply(blocks)), LIMITS);
  assert.ok(digests.ok);
  assert.deepEqual(
    digests.value.map((s) => [s.segment, s.horizonHlc, s.listed, s.digests.length]),
    [[12, 99, ALL_SUB_BUCKETS, ENTRIES.length], [13, 0, ALL_SUB_BUCKETS, 0], [14, 5, 0x8002, 1]],
  );

  const entries = parseEntriesReply(lines(formatEntriesReply(ENTRIES.map(formatEntry))), LIMITS);
  assert.ok(entries.ok);
  assert.deepEqual(entries.value, ENTRIES);

  const counts = { applied: 3, stale: 2, future: 1, refused: 0 };
  const pushed = parsePushedReply(lines(formatPushedReply(counts)));
  assert.ok(pushed.ok);
  assert.deepEqual(pushed.value, counts);
});

Deno.test("counted replies whose count disagrees with their lines are refused", () => {
  assert.ok(!parseEntriesReply(["ENTRIES 2", "k 1 a 0 1 v"], LIMITS).ok);
  assert.ok(!parseSegmentsReply(["SEGMENTS 1", "3 AAAA"]).ok);
  assert.ok(!parseDigestsReply(["DIGESTS 2", "S 1 0 5", "k 1 a 0 V"], LIMITS).ok);
  assert.ok(!parseDigestsReply(["DIGESTS 1", "S 70000 0 0"], LIMITS).ok);
  assert.ok(!parseDigestsReply(["DIGESTS 1", "k 1 a 0 V"], LIMITS).ok);
  assert.ok(!parseDigestsReply(["DIGESTS 1", "S 1 0 0 80"], LIMITS).ok, "listed: 4 hex digits");
  assert.ok(!parseDigestsReply(["DIGESTS 1", "S 1 0 0 FFFF"], LIMITS).ok, "lower case hex");
  assert.ok(!parsePushedReply(["PUSHED 1 2 3"]).ok);
  assert.ok(!parsePushedReply(["PUSHED 1 2 3 x"]).ok);
});
