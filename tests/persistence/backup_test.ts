import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Backups } from "../../src/persistence/backup.ts";
import { listDataDir, snapshotPath } from "../../src/persistence/data_dir.ts";
import { recoverDataDir, recoverDataDirInSteps } from "../../src/persistence/recovery.ts";
import { ProgressMeter } from "../../src/progress.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { captureLog, contents, newStore, tempDir, writeLog } from "./support.ts";

const HLC = hlcFromMs(Date.now() - 1000);

function filledStore(keys: number) {
  const store = newStore();
  for (let i = 0; i < keys; i++) store.write(`key-${i}`, `value-${i}`, 0);
  store.write("gone", null, 0);
  return store;
}

Deno.test("a backup is one snapshot file that recovery alone loads into an equal store", async () => {
  const dir = await tempDir();
  const store = filledStore(2000);
  const { log, events } = captureLog();
  const backups = new Backups({ dir, snapshotChunkEntries: 100, store, log });
  const result = await backups.write();
  assert.ok(result.ok, JSON.stringify(result));
  assert.ok(path.isAbsolute(result.path));
  assert.match(path.basename(result.path), /^backup\.\d+\.snapshot$/);
  assert.deepEqual(fs.readdirSync(dir), [path.basename(result.path)]);
  assert.ok(events.some((event) => event.event === "backup_written"));
  // A live data dir ignores the backup ...
  assert.deepEqual(listDataDir(dir), { logs: [], snapshots: [], temporary: [] });
  // ... restored as snapshot.<N> in an empty data dir, it holds every entry, tombstones too.
  const restored = await tempDir();
  fs.copyFileSync(result.path, snapshotPath(restored, 1));
  const loaded = newStore("node-b");
  recoverDataDir(restored, loaded, captureLog().log);
  assert.deepEqual(contents(loaded), contents(store));
  assert.equal(loaded.size, 2001);
  await backups.close();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(restored, { recursive: true });
});

Deno.test("a second backup while one is written gets an error, not a second file", async () => {
  const dir = await tempDir();
  const store = filledStore(500);
  const backups = new Backups({ dir, snapshotChunkEntries: 50, store, log: captureLog().log });
  const [first, second] = await Promise.all([backups.write(), backups.write()]);
  assert.ok(first.ok);
  assert.ok(!second.ok);
  assert.match(second.error, /a backup is already being written/);
  await backups.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ProgressMeter reports once per interval with percent and rate", () => {
  let nowMs = 0;
  const meter = new ProgressMeter(() => nowMs, 1000);
  assert.equal(meter.report(10, 1, 4), null);
  nowMs = 999;
  assert.equal(meter.report(10, 1, 4), null);
  nowMs = 2000;
  assert.deepEqual(meter.report(500, 1, 4), {
    entries: 500,
    percent: 25,
    entries_per_second: 250,
    elapsed_ms: 2000,
  });
  assert.equal(meter.report(600, 2, 4), null);
});

Deno.test("recovery logs recovery_progress lines while it reads, by the clock it is given", async () => {
  const dir = await tempDir();
  const records: Entry[][] = [];
  for (let i = 0; i < 20; i++) {
    records.push([{ key: `k${i}`, value: "v", hlc: HLC + i, node: "node-a", expiresAtMs: 0 }]);
  }
  await writeLog(dir, 1, records);
  let nowMs = 0;
  // Every record read moves the fake clock by 100 ms: a line every 10 records.
  const { log, events } = captureLog();
  const steps = recoverDataDirInSteps(dir, newStore(), log, {
    nowMs: () => (nowMs += 100),
    intervalMs: 1000,
  });
  while (!steps.next().done) { /* one file per step */ }
  const lines = events.filter((event) => event.event === "recovery_progress");
  assert.ok(lines.length >= 1, JSON.stringify(events));
  const first = lines[0]!;
  assert.ok(typeof first.entries === "number" && first.entries > 0 && first.entries < 20);
  assert.ok(typeof first.percent === "number" && first.percent > 0 && first.percent < 100);
  assert.equal(typeof first.entries_per_second, "number");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a backup logs backup_progress lines while it runs, by the clock it is given", async () => {
  const dir = await tempDir();
  const store = filledStore(3000);
  const { log, events } = captureLog();
  let nowMs = 0;
  const backups = new Backups({
    dir,
    snapshotChunkEntries: 100,
    store,
    log,
    progressNowMs: () => (nowMs += 400),
  });
  assert.ok((await backups.write()).ok);
  const lines = events.filter((event) => event.event === "backup_progress");
  assert.ok(lines.length >= 2, JSON.stringify(lines));
  const last = lines.at(-1)!;
  assert.ok(typeof last.entries === "number" && last.entries > 0 && last.entries <= 3001);
  assert.ok(typeof last.percent === "number" && last.percent > 0 && last.percent <= 100);
  await backups.close();
  await Deno.remove(dir, { recursive: true });
});
