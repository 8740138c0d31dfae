import assert from "node:assert/strict";
import {
  ConflictLog,
  type ConflictRecord,
  decodeConflictFile,
  encodeConflictFile,
  formatConflict,
  parseConflict,
} from "../../src/conflicts/mod.ts";

function record(key: string, winnerHlc: number, loserHlc: number, atMs = 1000): ConflictRecord {
  return {
    key,
    winner: { node: "node-b", hlc: winnerHlc },
    loser: { node: "node-a", hlc: loserHlc },
    detectedAtMs: atMs,
  };
}

Deno.test("the conflict log lists records newest first, as `key winner loser ms` lines", () => {
  const log = new ConflictLog(10);
  log.add(record("k1", 20, 10, 1));
  log.add(record("k2", 40, 30, 2));
  assert.deepEqual(log.list(10, null), [
    "k2 node-b@40 node-a@30 2",
    "k1 node-b@20 node-a@10 1",
  ]);
  assert.deepEqual(log.list(1, null), ["k2 node-b@40 node-a@30 2"]);
});

Deno.test("the conflict log keeps a (key, winner, loser) once, whenever it is detected again", () => {
  const log = new ConflictLog(10);
  assert.equal(log.add(record("k", 20, 10, 1)), true);
  assert.equal(log.add(record("k", 20, 10, 5)), false);
  assert.equal(log.add(record("k", 21, 10, 5)), true);
  assert.equal(log.size, 2);
  assert.deepEqual(log.list(10, null), ["k node-b@21 node-a@10 5", "k node-b@20 node-a@10 1"]);
});

Deno.test("the conflict log drops the oldest past its bound, and may hold them again later", () => {
  const log = new ConflictLog(3);
  for (let i = 1; i <= 5; i++) log.add(record(`k${i}`, 2 * i, 2 * i - 1, i));
  assert.equal(log.size, 3);
  assert.deepEqual(log.list(10, null).map((line) => line.split(" ")[0]), ["k5", "k4", "k3"]);
  // k1 is no longer held: detected again, it is a new record.
  assert.equal(log.add(record("k1", 2, 1, 9)), true);
  assert.deepEqual(log.lines().map((line) => line.split(" ")[0]), ["k4", "k5", "k1"]);
});

Deno.test("a smaller log_max_entries trims the conflict log at once, oldest first", () => {
  const log = new ConflictLog(100);
  for (let i = 0; i < 100; i++) log.add(record(`k${i}`, 2 * i + 2, 2 * i + 1, i));
  log.setMaxEntries(10);
  assert.equal(log.size, 10);
  assert.equal(log.lines()[0]!.split(" ")[0], "k90");
  log.setMaxEntries(20);
  assert.equal(log.size, 10);
});

Deno.test("the conflict log lists only the keys the filter allows, still up to count lines", () => {
  const log = new ConflictLog(10);
  for (let i = 0; i < 6; i++) log.add(record(i % 2 === 0 ? `app:${i}` : `other:${i}`, 9, 8, i));
  const lines = log.list(2, (key) => key.startsWith("app:"));
  assert.deepEqual(lines.map((line) => line.split(" ")[0]), ["app:4", "app:2"]);
});

Deno.test("CLEAR empties the conflict log, and a cleared record may be recorded again", () => {
  const log = new ConflictLog(10);
  log.add(record("k", 2, 1));
  log.clear();
  assert.equal(log.size, 0);
  assert.deepEqual(log.list(10, null), []);
  assert.equal(log.add(record("k", 2, 1)), true);
});

Deno.test("a listing line parses back into its record; malformed lines parse to null", () => {
  const original = record("a@b:c", 123456789012345, 42, 1733580000000);
  assert.deepEqual(parseConflict(formatConflict(original)), original);
  for (
    const bad of [
      "",
      "k node-b@1 node-a@2",
      "k node-b@1 node-a@2 3 4",
      "k node b@1 node-a@2 3",
      "k node-b@x node-a@2 3",
      "k node-b@01 node-a@2 3",
      "k node-b@99999999999999999 node-a@2 3",
      "k @1 node-a@2 3",
      "k node-b@1 node-a@2 -3",
    ]
  ) assert.equal(parseConflict(bad), null, bad);
});

Deno.test("the conflict file decodes what it encodes, a latin1 key byte for byte", () => {
  const records = [record("k\xe9\xff", 2, 1, 7), record("k2", 4, 3, 8)];
  const text = encodeConflictFile(records);
  assert.deepEqual(decodeConflictFile(text), { records, damage: null });
  assert.deepEqual(decodeConflictFile(""), { records: [], damage: null });
});

Deno.test("the conflict file is read up to a torn or damaged line, which is reported", () => {
  const records = [record("k1", 2, 1), record("k2", 4, 3), record("k3", 6, 5)];
  const text = encodeConflictFile(records);
  // Torn at every offset inside the last line: the two first records, and the damage.
  const lastLine = text.lastIndexOf("\n", text.length - 2) + 1;
  for (let cut = lastLine + 1; cut < text.length; cut++) {
    const decoded = decodeConflictFile(text.slice(0, cut));
    assert.deepEqual(decoded.records, records.slice(0, 2));
    assert.equal(decoded.damage?.line, 4);
  }
  const flipped = text.replace("k2 node-b@4", "k2 node-b@5");
  assert.deepEqual(decodeConflictFile(flipped).records, records.slice(0, 1));
  assert.equal(decodeConflictFile(flipped).damage?.reason, "checksum mismatch");
  assert.equal(decodeConflictFile("something else\n").damage?.line, 1);
  assert.equal(decodeConflictFile("MERKLE").damage?.reason, "torn header");
});
