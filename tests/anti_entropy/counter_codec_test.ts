/**
 * The sync protocol's text for a counter key's entry (`#<state>` before the value) and digest
 * (`C<hash>`), both ways, next to lines written before counters existed.
 */

import assert from "node:assert/strict";
import {
  formatDigest,
  formatEntry,
  parseDigestLine,
  parseEntryLine,
  parseRequest,
} from "../../src/anti_entropy/codec.ts";
import { digestOf } from "../../src/anti_entropy/versions.ts";
import { counterEntry } from "../../src/store/counter_entry.ts";
import type { CounterState } from "../../src/store/counter.ts";

const LIMITS = { maxKeyBytes: 64, maxValueBytes: 1024 };
const STATE: CounterState = {
  epochHlc: 0,
  epochNode: "",
  base: 0n,
  contributions: [
    { node: "node-a", increments: 12n, decrements: 2n, hlc: 2048 },
    { node: "node-b", increments: 5n, decrements: 0n, hlc: 1025 },
  ],
};
const ENTRY = counterEntry("hits", STATE, 0);

Deno.test("a counter entry's sync line carries its state and parses back to the same entry", () => {
  const line = formatEntry(ENTRY);
  assert.match(line, /^hits 2048 node-a 0 #[A-Za-z0-9+/=]+ 2 15$/);
  const parsed = parseEntryLine(line, LIMITS);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, ENTRY);
  // Several entries on one PUSH line, a counter between plain ones.
  const plain = { key: "p", value: "a b", hlc: 7, node: "n", expiresAtMs: 0 };
  const push = parseRequest(
    "PUSH",
    `2 3 ${formatEntry(plain)} ${line} ${formatEntry(plain)}`,
    LIMITS,
  );
  assert.ok(push.ok);
  assert.deepEqual(push.value, { verb: "PUSH", entries: [plain, ENTRY, plain] });
});

Deno.test("sync lines written before counters existed parse as before", () => {
  const value = parseEntryLine("k 1024 node-a 0 3 a b", LIMITS);
  assert.ok(value.ok);
  assert.deepEqual(value.value, {
    key: "k",
    value: "a b",
    hlc: 1024,
    node: "node-a",
    expiresAtMs: 0,
  });
  const tombstone = parseEntryLine("k 1024 node-a 0 -", LIMITS);
  assert.ok(tombstone.ok);
  assert.equal(tombstone.value.value, null);
  const digest = parseDigestLine("k 1024 node-a 0 V", LIMITS);
  assert.ok(digest.ok);
  assert.equal(digest.value.counter, null);
});

Deno.test("a counter's digest says C and its state's hash, which differs when any contribution does", () => {
  const line = formatDigest(ENTRY);
  assert.match(line, /^hits 2048 node-a 0 C[0-9a-f]{16}$/);
  const parsed = parseDigestLine(line, LIMITS);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, digestOf(ENTRY));
  const other = counterEntry("hits", {
    ...STATE,
    contributions: [STATE.contributions[0]!, { ...STATE.contributions[1]!, increments: 6n }],
  }, 0);
  assert.equal(other.hlc, ENTRY.hlc);
  assert.notEqual(formatDigest(other), line);
});

Deno.test("parseEntryLine() refuses counter lines that break the state's rules", () => {
  const line = formatEntry(ENTRY);
  const cases: [string, RegExp][] = [
    [line.replace("#", "#!"), /invalid counter/],
    [line.replace(/#\S+/, "#AAAA"), /counter truncated/],
    [line.replace(/ 2 15$/, " 2 16"), /not its sum/],
    [line.replace("hits 2048", "hits 2049"), /newest contribution/],
    [line.replace(/ 2 15$/, " -"), /tombstone/],
  ];
  for (const [bad, expected] of cases) {
    const parsed = parseEntryLine(bad, LIMITS);
    assert.ok(!parsed.ok, bad);
    assert.match(parsed.error, expected);
  }
});
