import assert from "node:assert/strict";
import * as fs from "node:fs";
import { Buffer } from "node:buffer";
import {
  MIN_TOUCHED_SNAPSHOT_BYTES,
  recoverDataDir,
  RecoveryError,
} from "../../src/persistence/recovery.ts";
import { repairLogFile } from "../../src/persistence/repair.ts";
import { SnapshotWriter } from "../../src/persistence/snapshot_file.ts";
import { logPath, snapshotPath } from "../../src/persistence/data_dir.ts";
import { LogSegment } from "../../src/persistence/log_file.ts";
import { encodeRecords, RECORD_HEADER_BYTES } from "../../src/persistence/record_codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { nth } from "../_support/nth.ts";
import { captureLog, contents, newStore, tempDir, writeLog } from "./support.ts";

const NOW_MS = Date.now();
const HLC = hlcFromMs(NOW_MS - 1000);

function entry(key: string, value: string | null, tick: number, expiresAtMs = 0): Entry {
  return { key, value, hlc: HLC + tick, node: "node-a", expiresAtMs };
}

/** Three records: two keys, then an overwrite and a delete, then a key with an expiry. */
const RECORDS: [Entry[], Entry[], Entry[]] = [
  [entry("a", "1", 1), entry("b", "2", 2)],
  [entry("a", "3", 3), entry("b", null, 4)],
  [entry("c", "ttl", 5, NOW_MS + 60_000)],
];

function recover(dir: string) {
  const store = newStore();
  const captured = captureLog();
  const report = recoverDataDir(dir, store, captured.log);
  return { store, report, events: captured.events };
}

/** A copy of `file` as log.1 of a new directory, its bytes changed by `damage`. */
async function damagedCopy(file: string, damage: (bytes: Buffer) => Buffer): Promise<string> {
  const dir = await tempDir();
  fs.writeFileSync(logPath(dir, 1), damage(Buffer.from(fs.readFileSync(file))));
  return dir;
}

Deno.test("recovery of an empty data dir loads nothing and reports no files", async () => {
  const dir = await tempDir();
  const { store, report } = recover(dir);
  assert.equal(store.size, 0);
  assert.equal(report.snapshot, null);
  assert.deepEqual(report.logs, []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("recovery replays a log into the same entries, tombstones and expiries", async () => {
  const dir = await tempDir();
  await writeLog(dir, 1, RECORDS);
  const { store, report } = recover(dir);
  assert.deepEqual(contents(store), [
    entry("a", "3", 3),
    entry("b", null, 4),
    entry("c", "ttl", 5, NOW_MS + 60_000),
  ]);
  assert.equal(store.tombstoneCount, 1);
  assert.equal(report.entriesRead, 5);
  assert.equal(report.logs[0]?.records, 3);
  assert.equal(report.logs[0]?.cut, null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a torn tail is cut at every offset of the last record, keeping the rest", async () => {
  const source = await tempDir();
  const { starts, size, path } = await writeLog(source, 1, RECORDS);
  const lastStart = nth(starts, 2);
  // The file ends where the write stopped, or zeros preallocated ahead follow (as after kill -9).
  for (const zerosAfter of [0, 64 * 1024]) {
    for (let cut = lastStart; cut < size; cut++) {
      const at = `cut at ${cut}, ${zerosAfter} zeros after`;
      const dir = await damagedCopy(
        path,
        (bytes) => Buffer.concat([bytes.subarray(0, cut), Buffer.alloc(zerosAfter)]),
      );
      const { store, report, events } = recover(dir);
      assert.equal(store.entry("c"), undefined, at);
      assert.equal(store.read("a")?.value, "3", at);
      const warning = events.find((event) => event.event === "log_tail_cut");
      assert.equal(report.logs[0]?.bytes, lastStart, at);
      if (cut === lastStart) {
        assert.equal(warning, undefined, "a file ending on a record boundary is whole");
        assert.equal(fs.statSync(logPath(dir, 1)).size, lastStart + zerosAfter, at);
      } else {
        assert.equal(warning?.offset, lastStart, at);
        assert.equal(warning?.file, logPath(dir, 1));
        assert.deepEqual(report.logs[0]?.cut?.offset, lastStart);
        assert.equal(fs.statSync(logPath(dir, 1)).size, lastStart, at);
      }
      await Deno.remove(dir, { recursive: true });
    }
  }
  await Deno.remove(source, { recursive: true });
});

Deno.test("zeros preallocated after the records are the log's end, and close() cuts them", async () => {
  const dir = await tempDir();
  const segment = LogSegment.create(dir, 1, true);
  for (const entries of RECORDS) segment.write(encodeRecords(entries).bytes);
  const recordsEnd = segment.size;
  const fileBytes = fs.statSync(segment.path).size;
  assert.ok(fileBytes > recordsEnd + 32 * 1024, `zeros written ahead (${fileBytes} bytes)`);
  const tail = Buffer.from(fs.readFileSync(segment.path)).subarray(recordsEnd);
  assert.ok(tail.every((byte) => byte === 0), "only zeros after the records");
  // Read as after a kill -9, the segment still open with its zeros.
  const first = recover(dir);
  assert.equal(first.store.read("a")?.value, "3");
  assert.equal(first.report.logs[0]?.cut, null);
  assert.equal(first.report.logs[0]?.bytes, recordsEnd);
  assert.equal(first.events.find((event) => event.event === "log_tail_cut"), undefined);
  assert.equal(fs.statSync(segment.path).size, fileBytes, "recovery leaves the zeros in place");
  await segment.close(false);

  // Reopened after recovery, appends go after the last record; a record larger than the zeros
  // ahead extends them first.
  const reopened = LogSegment.reopen(dir, 1, recordsEnd, true);
  reopened.write(encodeRecords([entry("big", "x".repeat(300 * 1024), 6)]).bytes);
  reopened.write(encodeRecords([entry("d", "4", 7)]).bytes);
  const end = reopened.size;
  assert.ok(fs.statSync(reopened.path).size > end, "zeros ahead again");
  await reopened.close(true);
  assert.equal(fs.statSync(reopened.path).size, end, "close() cut the zeros off");
  const second = recover(dir);
  assert.equal(second.store.read("big")?.value, "x".repeat(300 * 1024));
  assert.equal(second.store.read("d")?.value, "4");
  assert.equal(second.report.logs[0]?.records, 5);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a flipped bit in the last record is cut off as a bad tail", async () => {
  const source = await tempDir();
  const { starts, size, path } = await writeLog(source, 1, RECORDS);
  const lastStart = nth(starts, 2);
  for (let offset = lastStart; offset < size; offset++) {
    const dir = await damagedCopy(
      path,
      (bytes) => (bytes.writeUInt8(bytes.readUInt8(offset) ^ 0x20, offset), bytes),
    );
    const { store, events } = recover(dir);
    assert.equal(store.entry("c"), undefined, `flip at ${offset}`);
    assert.equal(store.read("a")?.value, "3");
    const warning = events.find((event) => event.event === "log_tail_cut");
    assert.equal(warning?.offset, lastStart, `flip at ${offset}`);
    await Deno.remove(dir, { recursive: true });
  }
  await Deno.remove(source, { recursive: true });
});

Deno.test("damage before the tail stops the start with the file, offset and repair", async () => {
  const source = await tempDir();
  const { starts, path } = await writeLog(source, 1, RECORDS);
  const damagedStart = nth(starts, 1);
  const nextStart = nth(starts, 2);
  for (const offset of [damagedStart, damagedStart + 4, damagedStart + RECORD_HEADER_BYTES + 9]) {
    const dir = await damagedCopy(
      path,
      (bytes) => (bytes.writeUInt8(bytes.readUInt8(offset) ^ 0x01, offset), bytes),
    );
    const file = logPath(dir, 1);
    assert.throws(() => recover(dir), (error: Error) => {
      assert.ok(error instanceof RecoveryError);
      assert.ok(error.message.includes(`log ${file} is damaged at offset ${damagedStart}`));
      assert.ok(error.message.includes(`valid records follow at offset ${nextStart}`));
      assert.ok(error.message.includes(`scripts/repair_log.ts ${file}`));
      assert.ok(error.message.includes(`truncate -s ${damagedStart} ${file}`));
      return true;
    });
    // The repair keeps the records on both sides of the damage.
    const summary = repairLogFile(file);
    assert.deepEqual(summary.dropped, [[damagedStart, nextStart]]);
    const { store } = recover(dir);
    assert.deepEqual(contents(store), [entry("a", "1", 1), entry("b", "2", 2), RECORDS[2][0]]);
    assert.ok(fs.existsSync(summary.backupPath));
    await Deno.remove(dir, { recursive: true });
  }
  await Deno.remove(source, { recursive: true });
});

Deno.test("a log with a damaged header stops the start", async () => {
  const source = await tempDir();
  const { path } = await writeLog(source, 1, RECORDS);
  const dir = await damagedCopy(
    path,
    (bytes) => (bytes.writeUInt8(bytes.readUInt8(2) ^ 1, 2), bytes),
  );
  assert.throws(() => recover(dir), /unusable header \(not a MerkleKV log file \(bad magic\)\)/);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(source, { recursive: true });
});

Deno.test("a log shorter than its header (a crash while creating it) is removed", async () => {
  const dir = await tempDir();
  await writeLog(dir, 1, RECORDS);
  fs.writeFileSync(logPath(dir, 2), "MKV-L");
  const { store, report, events } = recover(dir);
  assert.equal(store.read("a")?.value, "3");
  assert.equal(fs.existsSync(logPath(dir, 2)), false);
  assert.deepEqual(report.logs.map((log) => log.sequence), [1]);
  assert.ok(events.some((event) => event.event === "log_without_header_removed"));
  await Deno.remove(dir, { recursive: true });
});

async function writeSnapshot(dir: string, sequence: number, entries: Entry[], hlc = 0) {
  const writer = SnapshotWriter.create(dir, sequence, { createdAtMs: NOW_MS, hlc });
  writer.writeEntries(entries);
  return await writer.commit();
}

Deno.test("recovery loads the newest snapshot, then the segments it does not cover", async () => {
  const dir = await tempDir();
  await writeLog(dir, 1, [[entry("old", "gone-with-snapshot-2", 1)]]);
  await writeSnapshot(dir, 2, [entry("old", "from-snapshot-2", 1)]);
  await writeLog(dir, 2, [[entry("x", "covered", 2)]]);
  await writeSnapshot(dir, 3, [entry("x", "covered", 2), entry("s", "snap", 3)]);
  await writeLog(dir, 3, [[entry("s", "log-3", 4)]]);
  await writeLog(dir, 4, [[entry("t", "log-4", 5)]]);
  fs.writeFileSync(`${snapshotPath(dir, 5)}.tmp`, "unfinished");
  const { store, report } = recover(dir);
  assert.deepEqual(contents(store), [
    entry("s", "log-3", 4),
    entry("t", "log-4", 5),
    entry("x", "covered", 2),
  ]);
  assert.equal(report.snapshot?.sequence, 3);
  assert.deepEqual(report.logs.map((log) => log.sequence), [3, 4]);
  // Leftovers of interrupted clean-ups and snapshots are gone.
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    "log.0000000003",
    "log.0000000004",
    "snapshot.0000000003",
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a snapshot that holds a key twice is loaded by merge, the newer entry kept", async () => {
  const dir = await tempDir();
  await writeSnapshot(dir, 1, [entry("a", "new", 5), entry("b", "2", 2), entry("a", "old", 1)]);
  await writeLog(dir, 1, [[entry("c", "log", 6)]]);
  const { store, report } = recover(dir);
  assert.deepEqual(contents(store), [
    entry("a", "new", 5),
    entry("b", "2", 2),
    entry("c", "log", 6),
  ]);
  assert.equal(store.size, 3);
  assert.equal(report.entriesRead, 4);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a damaged snapshot stops the start naming the file and offset", async () => {
  const dir = await tempDir();
  const summary = await writeSnapshot(dir, 1, [entry("a", "1", 1), entry("b", "2", 2)]);
  const bytes = fs.readFileSync(summary.path);
  bytes.writeUInt8(bytes.readUInt8(40) ^ 0x08, 40);
  fs.writeFileSync(summary.path, bytes);
  assert.throws(
    () => recover(dir),
    new RegExp(`snapshot ${summary.path} is damaged at offset 32 \\(checksum mismatch\\)`),
  );
  fs.writeFileSync(summary.path, bytes.subarray(0, bytes.length - 3));
  assert.throws(() => recover(dir), /no trailer \(snapshot incomplete\)/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the clock resumes at or above the highest version on disk", async () => {
  const dir = await tempDir();
  // Versions ten minutes ahead of this clock: beyond max_clock_skew, yet still loaded.
  const aheadHlc = hlcFromMs(NOW_MS + 10 * 60_000);
  await writeLog(dir, 1, [[{
    key: "k",
    value: "v",
    hlc: aheadHlc,
    node: "node-b",
    expiresAtMs: 0,
  }]]);
  const { store } = recover(dir);
  assert.equal(store.read("k")?.value, "v");
  assert.ok(store.hlc.last >= aheadHlc);
  assert.ok(store.write("k", "newer", 0).hlc > aheadHlc);

  // A snapshot carries the clock as it was, even beyond every entry it holds.
  const snapshotDir = await tempDir();
  await writeSnapshot(snapshotDir, 1, [entry("a", "1", 1)], aheadHlc + 500);
  assert.ok(recover(snapshotDir).store.hlc.last >= aheadHlc + 500);
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(snapshotDir, { recursive: true });
});

/** An entry no build accepts (a value with LF), among writes that are fine. */
const REFUSED = entry("evil", "line\nbreak", 7);

Deno.test("an intact last record with a refused entry stops the start, naming the key, and cuts nothing", async () => {
  const dir = await tempDir();
  const records = [RECORDS[0], [entry("x", "kept", 6), REFUSED, entry("y", "kept", 8)]];
  const { starts, size, path } = await writeLog(dir, 1, records);
  assert.throws(() => recover(dir), (error: Error) => {
    assert.ok(error instanceof RecoveryError);
    assert.ok(error.message.includes(`log ${path} holds a record at offset ${starts[1]}`));
    assert.ok(error.message.includes(`entry 1: key "evil": value contains LF`), error.message);
    assert.ok(error.message.includes(`scripts/repair_log.ts ${path}`));
    return true;
  });
  assert.equal(fs.statSync(path).size, size, "nothing was cut");

  // The documented way out drops that entry alone; every other write of its record stays.
  const summary = repairLogFile(path);
  assert.deepEqual(summary.refused, [
    `record at offset ${starts[1]}, entry 1: key "evil": value contains LF`,
  ]);
  assert.deepEqual(summary.dropped, []);
  const { store } = recover(dir);
  assert.deepEqual(contents(store), [
    ...RECORDS[0],
    entry("x", "kept", 6),
    entry("y", "kept", 8),
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an intact record with a refused entry before the tail also stops the start", async () => {
  const dir = await tempDir();
  const { starts, path } = await writeLog(dir, 1, [[REFUSED], ...RECORDS]);
  assert.throws(() => recover(dir), new RegExp(`holds a record at offset ${starts[0]}`));
  repairLogFile(path);
  const { store } = recover(dir);
  assert.equal(store.read("evil"), undefined);
  assert.equal(store.read("a")?.value, "3");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a snapshot with a refused entry stops the start; the repair keeps every other entry", async () => {
  const dir = await tempDir();
  const summary = await writeSnapshot(dir, 1, [entry("a", "1", 1), REFUSED, entry("b", "2", 2)]);
  assert.throws(() => recover(dir), (error: Error) => {
    assert.ok(error.message.includes(`snapshot ${summary.path} holds a record at offset 32`));
    assert.ok(error.message.includes(`key "evil": value contains LF`), error.message);
    assert.ok(error.message.includes(`scripts/repair_log.ts ${summary.path}`));
    return true;
  });
  const repair = repairLogFile(summary.path);
  assert.equal(repair.keptEntries, 2);
  const { store, report } = recover(dir);
  assert.deepEqual(contents(store), [entry("a", "1", 1), entry("b", "2", 2)]);
  assert.equal(report.snapshot?.entries, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("values with CR written by an earlier version are loaded and kept", async () => {
  // Versions before the one value rule wrote CR into the log and snapshots but refused to
  // read it back; the format is unchanged, so these bytes are what they left.
  const dir = await tempDir();
  const withCr = [entry("cr", "a\rb", 1), entry("cr-end", "x\r", 2), entry("only", "\r", 3)];
  await writeSnapshot(dir, 1, withCr.slice(0, 1));
  await writeLog(dir, 1, [withCr.slice(1)]);
  const { store } = recover(dir);
  assert.deepEqual(contents(store), withCr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a log that repeats the snapshot's keys, deletes some and adds more than it held is merged key by key", async () => {
  // The index is sized for the snapshot's 3,000 keys before it loads (Store.reserve); the log
  // then overwrites a third of them (newer and older versions alike), deletes some and adds
  // 6,000 more, so the table grows past what was reserved while the merges go on.
  const dir = await tempDir();
  const snapshot = Array.from({ length: 3000 }, (_, i) => entry(`s${i}`, `snap${i}`, 10 * i));
  await writeSnapshot(dir, 1, snapshot);
  const repeats = snapshot.filter((_, i) => i % 3 === 0).map((old, i) =>
    i % 4 === 0
      ? entry(old.key, null, old.hlc - HLC + 5)
      : entry(old.key, `log${i}`, old.hlc - HLC + (i % 2 === 0 ? 5 : -5))
  );
  const added = Array.from({ length: 6000 }, (_, i) => entry(`n${i}`, `new${i}`, 40_000 + i));
  await writeLog(dir, 1, [
    repeats.slice(0, 500),
    added.slice(0, 3000),
    repeats.slice(500),
    added.slice(3000),
  ]);
  const { store, report } = recover(dir);
  const model = newStore();
  for (
    const each of [
      ...snapshot,
      ...repeats.slice(0, 500),
      ...added.slice(0, 3000),
      ...repeats.slice(500),
      ...added.slice(3000),
    ]
  ) {
    model.load(each);
  }
  assert.equal(store.size, 9000);
  assert.deepEqual(contents(store), contents(model));
  assert.equal(store.rootHex(), model.rootHex());
  assert.equal(report.entriesRead, 3000 + repeats.length + 6000);
  // Older versions in the log lost to the snapshot's, newer ones won.
  assert.equal(store.read("s0"), undefined, "deleted by the log");
  assert.equal(store.read("s3")?.value, "snap3", "the log's older version lost");
  assert.equal(store.read("s6")?.value, "log2", "the log's newer version won");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a snapshot large enough to have its value slabs touched ahead loads every value byte for byte", async () => {
  const dir = await tempDir();
  const value = (i: number) => `${i}:`.padEnd(900 + (i % 300), String.fromCharCode(33 + (i % 90)));
  const entries = Array.from({ length: 20_000 }, (_, i) => entry(`big${i}`, value(i), i + 1));
  const summary = await writeSnapshot(dir, 1, entries);
  assert.ok(summary.bytes >= MIN_TOUCHED_SNAPSHOT_BYTES, `snapshot of ${summary.bytes} bytes`);
  await writeLog(dir, 1, [[
    entry("big7", "overwritten", 50_000),
    entry("after", value(3), 50_001),
  ]]);
  const { store } = recover(dir);
  const model = newStore();
  for (const each of entries) model.load(each);
  model.load(entry("big7", "overwritten", 50_000));
  model.load(entry("after", value(3), 50_001));
  assert.equal(store.size, 20_001);
  assert.deepEqual(contents(store), contents(model));
  assert.equal(store.rootHex(), model.rootHex());
  // Writes after recovery take slabs of the heap's own again, and read back.
  for (let i = 0; i < 2000; i++) store.write(`later${i}`, value(i), 0);
  assert.equal(store.read("later1999")?.value, value(1999));
  assert.equal(store.read("big19999")?.value, value(19_999));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a damaged snapshot large enough to have its slabs touched ahead stops the start naming the damage", async () => {
  // Recovery leaves through its error with the worker started (RecoveryRoom.release in a finally):
  // the sanitizers and the test process's exit see to it that nothing is left running.
  const dir = await tempDir();
  const value = "x".repeat(1000);
  const entries = Array.from({ length: 20_000 }, (_, i) => entry(`big${i}`, value, i + 1));
  const summary = await writeSnapshot(dir, 1, entries);
  assert.ok(summary.bytes >= MIN_TOUCHED_SNAPSHOT_BYTES);
  const bytes = fs.readFileSync(summary.path);
  const middle = Math.floor(bytes.length / 2);
  bytes.writeUInt8(bytes.readUInt8(middle) ^ 0x08, middle);
  fs.writeFileSync(summary.path, bytes);
  assert.throws(() => recover(dir), new RegExp(`snapshot ${summary.path} is damaged at offset`));
  await Deno.remove(dir, { recursive: true });
});
