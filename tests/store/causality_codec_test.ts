/**
 * Causality in the binary entry form (change batches, log, snapshots) and in sync messages:
 * round trips, the bytes it costs, bytes written before causality existed, and malformed input.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Causality } from "../../src/store/causality.ts";
import { MAX_CAUSAL_NODES } from "../../src/store/causality.ts";
import { counterEntry } from "../../src/store/counter_entry.ts";
import { incremented, startedCounter } from "../../src/store/counter.ts";
import { decodeEntry, encodedEntryLength, entryToBytes } from "../../src/store/entry_codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import {
  formatDigest,
  formatEntry,
  parseDigestLine,
  parseEntryLine,
} from "../../src/anti_entropy/codec.ts";

const T = 1_740_000_000_000 * 1024;
const LIMITS = { maxKeyBytes: 64, maxValueBytes: 1000 };

const CONFLICTED: Causality = {
  seen: [{ node: "node-1", hlc: T - 4096 }],
  losers: [
    { node: "node-3", hlc: T - 2048, seen: [{ node: "node-1", hlc: T - 4096 }] },
    { node: "node-4", hlc: T - 1024, seen: [] },
  ],
};

function entries(): Entry[] {
  const counter = incremented(startedCounter(0, "", 0n), "node-2", 5n, T);
  assert.ok(typeof counter !== "string");
  return [
    { key: "k", value: "v", hlc: T, node: "node-2", expiresAtMs: 0, causality: CONFLICTED },
    { key: "gone", value: null, hlc: T, node: "node-2", expiresAtMs: 0, causality: CONFLICTED },
    {
      key: "two-writers",
      value: "x y",
      hlc: T,
      node: "node-2",
      expiresAtMs: 1_740_000_100_000,
      causality: { seen: [{ node: "node-1", hlc: T - 1 }], losers: [] },
    },
    { ...counterEntry("c", counter, 0), causality: CONFLICTED },
  ];
}

Deno.test("an entry with a causality encodes and decodes back to the same entry (values, tombstones, counters)", () => {
  for (const entry of entries()) {
    const bytes = entryToBytes(entry);
    assert.equal(bytes.length, encodedEntryLength(entry));
    const decoded = decodeEntry(bytes, 0, bytes.length);
    assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
    assert.equal(decoded.end, bytes.length);
    assert.deepEqual(decoded.entry, entry);
  }
});

Deno.test("a vector of one other node costs 21 bytes per entry for a 6-byte node id; none costs nothing", () => {
  const plain: Entry = { key: "k", value: "v", hlc: T, node: "node-2", expiresAtMs: 0 };
  const twoWriters: Entry = {
    ...plain,
    causality: { seen: [{ node: "node-1", hlc: T - 1 }], losers: [] },
  };
  // u16 component count, u8 node length, 6 node bytes, f64 hlc, u16 loser count.
  assert.equal(encodedEntryLength(twoWriters) - encodedEntryLength(plain), 2 + 1 + 6 + 8 + 2);
  // One loser with no vector of its own adds u8 + node + f64 + u16.
  const conflicted: Entry = {
    ...twoWriters,
    causality: { ...twoWriters.causality!, losers: [{ node: "node-3", hlc: T - 5, seen: [] }] },
  };
  assert.equal(encodedEntryLength(conflicted) - encodedEntryLength(twoWriters), 1 + 6 + 8 + 2);
});

Deno.test("entry bytes written before causality existed decode as before and are written the same (plain, counter)", () => {
  // Captured from the encoder before causality existed: key "k", value "v", hlc 1024, node
  // "a", expiry 5; and a counter key "c" of node "a" incremented by 5 at hlc 2048.
  const fixtures = [
    "020000000000009040016101006b00000000000014400100000076",
    "04000000000000a04001610100630100000035000000000000000000000000000000000001000161000000000000" +
    "a04005000000000000000000000000000000",
  ];
  for (const hex of fixtures) {
    const bytes = Buffer.from(hex, "hex");
    const decoded = decodeEntry(bytes, 0, bytes.length);
    assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
    assert.equal(decoded.entry.causality, undefined);
    assert.equal(entryToBytes(decoded.entry).toString("hex"), hex);
  }
});

/** The entry `entry` encodes to, with its causality's bytes replaced by `causalityHex`. */
function withCausalityBytes(entry: Entry, causalityHex: string): Buffer {
  const { causality: _, ...plain } = entry;
  const head = entryToBytes(plain);
  head[0] = head[0]! | 8;
  return Buffer.concat([head, Buffer.from(causalityHex, "hex")]);
}

function dotHex(node: string, hlc: number): string {
  const bytes = Buffer.alloc(1 + node.length + 8);
  bytes[0] = node.length;
  bytes.write(node, 1, "latin1");
  bytes.writeDoubleLE(hlc, 1 + node.length);
  return bytes.toString("hex");
}

Deno.test("decodeEntry() refuses causalities that break their rules", () => {
  const entry: Entry = { key: "k", value: "v", hlc: 1000, node: "b", expiresAtMs: 0 };
  const cases: [string, string][] = [
    ["0000" + "0000", "empty causality"],
    ["0100" + dotHex("b", 1000) + "0000", "repeats the version's own dot"],
    ["0200" + dotHex("c", 5) + dotHex("a", 5) + "0000", "not one component per node in order"],
    ["0000" + "0100" + dotHex("a", 2000) + "0000", "does not beat"],
    ["0100" + dotHex("a", 10) + "0100" + dotHex("a", 5) + "0000", "has seen"],
    [
      "0000" + "0200" + dotHex("c", 9) + "0000" + dotHex("a", 5) + "0000",
      "not in (hlc, node) order",
    ],
    ["0000" + "0100" + dotHex("a!", 5) + "0000", "invalid node id"],
    ["0100" + dotHex("a", 10).slice(0, 8), "truncated"],
    [(MAX_CAUSAL_NODES + 1).toString(16).padStart(4, "0").match(/../g)!.reverse().join(""), "max"],
  ];
  for (const [hex, why] of cases) {
    const bytes = withCausalityBytes(entry, hex);
    const decoded = decodeEntry(bytes, 0, bytes.length);
    assert.ok(!decoded.ok, `accepted ${hex}`);
    assert.match(decoded.error, new RegExp(why.replace(/[()]/g, "\\$&")), hex);
  }
});

Deno.test("a sync entry line carries the causality as ~<base64> and parses back unchanged", () => {
  for (const entry of entries()) {
    const line = formatEntry(entry);
    assert.match(line, / ~[A-Za-z0-9+/]+={0,2} /);
    const parsed = parseEntryLine(line, LIMITS);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
    assert.deepEqual(parsed.value, entry);
  }
  const [plain] = entries();
  const { causality: _, ...withoutCausality } = plain!;
  assert.equal(formatEntry(withoutCausality), `k ${T} node-2 0 1 v`);
  for (const bad of [`k ${T} node-2 0 ~!! 1 v`, `k ${T} node-2 0 ~AAAA 1 v`]) {
    assert.ok(!parseEntryLine(bad, LIMITS).ok, bad);
  }
});

Deno.test("a digest of an entry with a causality ends with ~ and its hash, which differs with the losers", () => {
  const [entry] = entries();
  const line = formatDigest(entry!);
  const parsed = parseDigestLine(line, LIMITS);
  assert.ok(parsed.ok);
  assert.match(line, / V ~[0-9a-f]{16}$/);
  assert.equal(parsed.value.causality, line.slice(-16));
  const fewer = { ...entry!, causality: { ...CONFLICTED, losers: CONFLICTED.losers.slice(1) } };
  assert.notEqual(formatDigest(fewer), line);
  const { causality: _, ...withoutCausality } = entry!;
  assert.equal(formatDigest(withoutCausality), `k ${T} node-2 0 V`);
  assert.ok(!parseDigestLine(`k ${T} node-2 0 V ~0123`, LIMITS).ok);
});

/** Conflicts mode siblings: losers with a value, a deletion, and one whose value is not kept. */
const WITH_SIBLINGS: Causality = {
  seen: [{ node: "node-1", hlc: T - 4096 }],
  losers: [
    { node: "node-3", hlc: T - 3072, seen: [], value: null },
    { node: "node-4", hlc: T - 2048, seen: [{ node: "node-1", hlc: T - 4096 }], value: "b c" },
    { node: "node-5", hlc: T - 1024, seen: [] },
    { node: "node-6", hlc: T - 512, seen: [], value: "" },
  ],
};

Deno.test("siblings' values encode after bit 15 of the loser count and decode back, in entries and sync lines", () => {
  const entry: Entry = {
    key: "k",
    value: "v",
    hlc: T,
    node: "node-2",
    expiresAtMs: 0,
    causality: WITH_SIBLINGS,
  };
  const bytes = entryToBytes(entry);
  assert.equal(bytes.length, encodedEntryLength(entry));
  const decoded = decodeEntry(bytes, 0, bytes.length);
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
  assert.deepEqual(decoded.entry, entry);
  // Each loser costs one byte of kind more, and a value its u32 length and bytes.
  const { losers } = WITH_SIBLINGS;
  const dotsOnly = { ...entry, causality: { seen: WITH_SIBLINGS.seen, losers: losers.map(dots) } };
  assert.equal(bytes.length - encodedEntryLength(dotsOnly), 4 + (4 + 3) + (4 + 0));
  const line = formatEntry(entry);
  const parsed = parseEntryLine(line, LIMITS);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(parsed.value, entry);
  // The values are part of the digest's hash: anti-entropy tells apart two sets of siblings.
  const other = { ...WITH_SIBLINGS, losers: losers.map((x) => x.value ? { ...x, value: "z" } : x) };
  assert.notEqual(formatDigest({ ...entry, causality: other }), formatDigest(entry));
  assert.notEqual(formatDigest(dotsOnly), formatDigest(entry));
});

function dots(version: Causality["losers"][number]): Causality["losers"][number] {
  return { node: version.node, hlc: version.hlc, seen: version.seen };
}

Deno.test("decodeEntry() refuses siblings' values that break their rules", () => {
  const entry: Entry = { key: "k", value: "v", hlc: 1000, node: "b", expiresAtMs: 0 };
  const cases: [string, string][] = [
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "04", "unknown sibling value kind 4"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "03" + "0000", "truncated in a sibling's value"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "03" + f64Hex(9), "truncated in a sibling's"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "03" + f64Hex(0) + "00000000", "invalid expiry"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "03" + f64Hex(-5) + "00000000", "invalid expiry"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "03" + f64Hex(1.5) + "00000000", "invalid expiry"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "03" + f64Hex(NaN) + "00000000", "invalid expiry"],
    ["0000" + "0180" + dotHex("a", 5) + "0000", "truncated in a sibling's value"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "02" + "05000000" + "6162", "truncated"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "02" + "03000000" + "610a62", "contains LF"],
    ["0000" + "0180" + dotHex("a", 5) + "0000" + "00", "none does"],
  ];
  for (const [hex, why] of cases) {
    const bytes = withCausalityBytes(entry, hex);
    const decoded = decodeEntry(bytes, 0, bytes.length);
    assert.ok(!decoded.ok, `accepted ${hex}`);
    assert.match(decoded.error, new RegExp(why), hex);
  }
  // The same loser without bit 15 is a plain loser: read as before siblings existed.
  const plain = withCausalityBytes(entry, "0000" + "0100" + dotHex("a", 5) + "0000");
  const decoded = decodeEntry(plain, 0, plain.length);
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
  assert.deepEqual(decoded.entry.causality?.losers, [{ node: "a", hlc: 5, seen: [] }]);
});

function f64Hex(value: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return bytes.toString("hex");
}

const EXPIRES_AT_MS = 1_740_000_100_000;

Deno.test("a sibling's expiry encodes as kind 3 with an f64 before its value, and decodes back, in entries and sync lines", () => {
  const losers = WITH_SIBLINGS.losers.map((x) =>
    x.value === "b c" ? { ...x, expiresAtMs: EXPIRES_AT_MS } : x
  );
  const entry: Entry = {
    key: "k",
    value: "v",
    hlc: T,
    node: "node-2",
    expiresAtMs: 0,
    causality: { seen: WITH_SIBLINGS.seen, losers },
  };
  const bytes = entryToBytes(entry);
  assert.equal(bytes.length, encodedEntryLength(entry));
  const decoded = decodeEntry(bytes, 0, bytes.length);
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
  assert.deepEqual(decoded.entry, entry);
  // The expiry costs its 8 bytes, nothing else.
  const withoutExpiry: Entry = { ...entry, causality: WITH_SIBLINGS };
  assert.equal(bytes.length - encodedEntryLength(withoutExpiry), 8);
  const line = formatEntry(entry);
  const parsed = parseEntryLine(line, LIMITS);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.deepEqual(parsed.value, entry);
  // The expiry is part of the digest's hash: anti-entropy converges on it too.
  assert.notEqual(formatDigest(entry), formatDigest(withoutExpiry));
});

Deno.test("a sibling with an expiry is exactly these bytes: kind 3, f64 expiry, u32 length, value", () => {
  const entry: Entry = { key: "k", value: "v", hlc: 1000, node: "b", expiresAtMs: 0 };
  const hex = "0000" + "0180" + dotHex("a", 5) + "0000" + "03" + f64Hex(EXPIRES_AT_MS) +
    "02000000" + "7879";
  const bytes = withCausalityBytes(entry, hex);
  const decoded = decodeEntry(bytes, 0, bytes.length);
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
  const sibling = { node: "a", hlc: 5, seen: [], value: "xy", expiresAtMs: EXPIRES_AT_MS };
  assert.deepEqual(decoded.entry.causality?.losers, [sibling]);
  assert.equal(entryToBytes(decoded.entry).toString("hex"), bytes.toString("hex"));
  // Kind 2, a value without an expiry, reads as it did before expiries were kept.
  const unexpiring = withCausalityBytes(
    entry,
    "0000" + "0180" + dotHex("a", 5) + "0000" + "02" + "02000000" + "7879",
  );
  const plain = decodeEntry(unexpiring, 0, unexpiring.length);
  assert.ok(plain.ok, plain.ok ? "" : plain.error);
  assert.deepEqual(plain.entry.causality?.losers, [{ node: "a", hlc: 5, seen: [], value: "xy" }]);
  assert.equal(entryToBytes(plain.entry).toString("hex"), unexpiring.toString("hex"));
});
