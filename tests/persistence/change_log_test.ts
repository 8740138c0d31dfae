import assert from "node:assert/strict";
import * as fs from "node:fs";
import type { FsyncPolicy } from "../../src/config/types.ts";
import { DurableLog } from "../../src/persistence/change_log.ts";
import { ON_LOOP_MAX_RECORDS } from "../../src/persistence/fsync_placement.ts";
import { recoverDataDir } from "../../src/persistence/recovery.ts";
import type { Store } from "../../src/store/store.ts";
import { delay, waitUntil } from "../_support/ports.ts";
import {
  captureLog,
  contents,
  fillFilesystem,
  mountSmallFilesystem,
  newStore,
  tempDir,
} from "./support.ts";

interface Opened {
  store: Store;
  changeLog: DurableLog;
  events: Record<string, unknown>[];
}

function open(
  dir: string,
  policy: FsyncPolicy,
  persistence = { logRewriteMinBytes: 64 * 1024 * 1024, snapshotChunkEntries: 1000 },
): Opened {
  const store = newStore();
  const { log, events } = captureLog();
  const report = recoverDataDir(dir, store, log);
  // The lock is openChangeLog's business (tests/persistence/dir_lock_test.ts); these tests
  // reopen directories whose log they abandoned, as a crash would.
  const dirLock = { release() {} };
  const changeLog = DurableLog.open({ dir, dirLock, policy, ...persistence, store, log }, report);
  return { store, changeLog, events };
}

function info(changeLog: DurableLog): Map<string, string> {
  return new Map(changeLog.infoFields().map(([name, value]) => [name, String(value)]));
}

/** A local write as the node makes it: change the store, hand the change to the log. */
function set(opened: Opened, key: string, value: string | null): void {
  opened.changeLog.append([opened.store.write(key, value, 0)]);
}

/** What the log tells a waiter handed to it now: null once logged, else the error. */
function logged(changeLog: DurableLog): Promise<string | null> {
  return new Promise((resolve) => changeLog.whenLogged({ logged: resolve }));
}

function recovered(dir: string): Store {
  const store = newStore();
  recoverDataDir(dir, store, captureLog().log);
  return store;
}

Deno.test("fsync always: one write and one fdatasync for every waiter of the same turn", async () => {
  const dir = await tempDir();
  const opened = open(dir, "always");
  const waits: Promise<string | null>[] = [];
  let told = 0;
  for (let i = 0; i < 50; i++) {
    set(opened, `key:${i}`, `value:${i}`);
    waits.push(logged(opened.changeLog).finally(() => told++));
  }
  assert.equal(info(opened.changeLog).get("persistence_log_bytes"), "16", "nothing written yet");
  await delay(0);
  assert.equal(told, 0, "written, but no waiter is told before the fdatasync");
  assert.ok(Number(info(opened.changeLog).get("persistence_log_bytes")) > 50 * 20);
  assert.deepEqual(await Promise.all(waits), waits.map(() => null));
  const fields = info(opened.changeLog);
  assert.equal(fields.get("persistence_fsyncs"), "1");
  assert.equal(fields.get("persistence_pending_bytes"), "0");
  assert.ok(Number(fields.get("persistence_last_fsync_unix_ms")) > 0);

  // A later turn gets its own fsync.
  set(opened, "later", "x");
  assert.equal(await logged(opened.changeLog), null);
  assert.equal(info(opened.changeLog).get("persistence_fsyncs"), "2");
  await opened.changeLog.close();
  assert.deepEqual(contents(recovered(dir)), contents(opened.store));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fsync everysec: waiters are told once written, and an fdatasync follows within 1 s", async () => {
  const dir = await tempDir();
  const opened = open(dir, "everysec");
  set(opened, "a", "1");
  assert.equal(await logged(opened.changeLog), null);
  assert.equal(info(opened.changeLog).get("persistence_fsyncs"), "0");
  assert.ok(Number(info(opened.changeLog).get("persistence_pending_bytes")) > 0);
  // Polled every few ms: the bytes stay pending until the fdatasync has completed, not only
  // until it has started.
  await waitUntil(
    "the background fsync",
    () => info(opened.changeLog).get("persistence_pending_bytes") === "0",
    2500,
  );
  assert.equal(info(opened.changeLog).get("persistence_fsyncs"), "1");
  await opened.changeLog.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fsync always: the bytes of an fdatasync under way are still pending in INFO", async () => {
  const dir = await tempDir();
  const opened = open(dir, "always");
  set(opened, "a", "1");
  const written = logged(opened.changeLog);
  // The turn's end (an immediate queued by append) writes and starts the fdatasync; this
  // immediate runs right after it, before the fdatasync's completion can be delivered.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const during = info(opened.changeLog);
  assert.equal(during.get("persistence_fsyncs"), "0");
  assert.ok(Number(during.get("persistence_log_bytes")) > 16, "the turn's write happened");
  assert.ok(Number(during.get("persistence_pending_bytes")) > 0);
  assert.equal(await written, null);
  const after = info(opened.changeLog);
  assert.equal(after.get("persistence_fsyncs"), "1");
  assert.equal(after.get("persistence_pending_bytes"), "0");
  await opened.changeLog.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fsync always: a small batch is synced on the loop, a large one in the background", async () => {
  const dir = await tempDir();
  const opened = open(dir, "always");
  const afterTurnEnd = () => new Promise<void>((resolve) => setImmediate(resolve));
  // A segment's first fdatasync also syncs the directory: in the background.
  set(opened, "first", "x");
  assert.equal(await logged(opened.changeLog), null);
  assert.equal(info(opened.changeLog).get("persistence_fsync_on_loop"), "1");

  assert.equal(info(opened.changeLog).get("persistence_fsyncs_on_loop"), "0");

  set(opened, "small", "y");
  const small = logged(opened.changeLog);
  await afterTurnEnd();
  const synced = info(opened.changeLog);
  assert.equal(synced.get("persistence_fsyncs"), "2", "done within the turn's end");
  assert.equal(synced.get("persistence_fsyncs_on_loop"), "1");
  assert.equal(synced.get("persistence_pending_bytes"), "0");
  assert.match(synced.get("persistence_last_on_loop_fsync_us") ?? "", /^\d+$/);
  assert.equal(await small, null);

  for (let i = 0; i <= ON_LOOP_MAX_RECORDS; i++) set(opened, `big:${i}`, "z");
  assert.equal(await logged(opened.changeLog), null);
  const after = info(opened.changeLog);
  assert.equal(after.get("persistence_fsyncs"), "3");
  assert.equal(
    after.get("persistence_fsyncs_on_loop"),
    "1",
    "the large batch went to the background",
  );
  await opened.changeLog.close();
  assert.deepEqual(contents(recovered(dir)), contents(opened.store));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fsync everysec: fdatasyncs never run on the loop", async () => {
  const dir = await tempDir();
  const opened = open(dir, "everysec");
  assert.equal(info(opened.changeLog).get("persistence_fsync_on_loop"), "0");
  await opened.changeLog.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fsync no: nothing is synced while running, and close() syncs", async () => {
  const dir = await tempDir();
  const opened = open(dir, "no");
  set(opened, "a", "1");
  assert.equal(await logged(opened.changeLog), null);
  await delay(1200);
  assert.equal(info(opened.changeLog).get("persistence_fsyncs"), "0");
  await opened.changeLog.close();
  assert.equal(recovered(dir).read("a")?.value, "1");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the log is compacted past the threshold and recovery gives the same store", async () => {
  const dir = await tempDir();
  const opened = open(dir, "everysec", { logRewriteMinBytes: 8192, snapshotChunkEntries: 100 });
  const idle = () =>
    waitUntil(
      "no snapshot running",
      () => info(opened.changeLog).get("persistence_snapshot_in_progress") === "0",
      10_000,
    );
  for (let i = 0; i < 3000; i++) {
    set(opened, `key:${i % 700}`, `value:${i}`);
    if (i % 100 === 0) await delay(1);
  }
  set(opened, "key:5", null);
  await idle();
  // One more append checks the rule again once no snapshot runs.
  set(opened, "key:6", "last");
  await idle();
  const fields = info(opened.changeLog);
  assert.ok(Number(fields.get("persistence_snapshots")) >= 2);
  assert.ok(Number(fields.get("persistence_last_snapshot_entries")) >= 700);
  // The rewrite rule bounds the log: below max(min, 2 x snapshot) plus one append.
  const snapshotBytes = Number(fields.get("persistence_last_snapshot_bytes"));
  const logBytes = Number(fields.get("persistence_log_bytes"));
  assert.ok(logBytes < Math.max(8192, 2 * snapshotBytes) + 100, `log ${logBytes} B`);
  const files = fs.readdirSync(dir).sort();
  assert.equal(files.filter((name) => name.startsWith("snapshot.")).length, 1, files.join());
  assert.ok(!files.includes("log.0000000001"), "the first segment was compacted away");
  await opened.changeLog.close();
  const store = recovered(dir);
  assert.deepEqual(contents(store), contents(opened.store));
  assert.equal(store.rootHex(), opened.store.rootHex());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("changes made while a snapshot is being written are kept", async () => {
  const dir = await tempDir();
  const opened = open(dir, "always", { logRewriteMinBytes: 1 << 30, snapshotChunkEntries: 50 });
  for (let i = 0; i < 2000; i++) set(opened, `key:${i}`, "before");
  const snapshot = opened.changeLog.snapshotNow();
  let round = 0;
  while (info(opened.changeLog).get("persistence_snapshot_in_progress") === "1") {
    // Between slices: overwrite, delete and add keys, some in slices already written.
    set(opened, `key:${round * 7 % 2000}`, `during:${round}`);
    set(opened, `key:${(round * 13 + 1) % 2000}`, null);
    set(opened, `new:${round}`, "during");
    round++;
    await delay(0);
  }
  await snapshot;
  assert.ok(round > 5, `writes happened during the snapshot (${round} rounds)`);
  assert.equal(info(opened.changeLog).get("persistence_snapshots"), "1");
  assert.equal(info(opened.changeLog).get("persistence_log_segment"), "2");
  await opened.changeLog.close();
  assert.deepEqual(contents(recovered(dir)), contents(opened.store));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("close() during a snapshot leaves a data dir that recovers everything", async () => {
  const dir = await tempDir();
  const opened = open(dir, "everysec", { logRewriteMinBytes: 1 << 30, snapshotChunkEntries: 10 });
  for (let i = 0; i < 3000; i++) set(opened, `key:${i}`, `v${i}`);
  const snapshot = opened.changeLog.snapshotNow();
  await delay(5);
  set(opened, "last", "word");
  await opened.changeLog.close();
  await snapshot;
  assert.ok(!fs.readdirSync(dir).some((name) => name.endsWith(".tmp")), "no unfinished file");
  assert.deepEqual(contents(recovered(dir)), contents(opened.store));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a full disk refuses writes, keeps changes in memory, and recovers when space returns", async () => {
  const filesystem = await mountSmallFilesystem(256 * 1024);
  if (filesystem === null) {
    console.warn("SKIPPED: mounting a small tmpfs is not permitted here (needs root)");
    return;
  }
  const { dir, unmount } = filesystem;
  const dataDir = `${dir}/data`;
  fs.mkdirSync(dataDir);
  try {
    const opened = open(dataDir, "always", {
      logRewriteMinBytes: 1 << 30,
      snapshotChunkEntries: 100,
    });
    for (let i = 0; i < 100; i++) set(opened, `before:${i}`, "x".repeat(100));
    assert.equal(await logged(opened.changeLog), null);
    const filler = fillFilesystem(dir);

    // Writes fill the zeros preallocated ahead of the records; the first that needs more fails.
    let writes = 0;
    let failure: string | null = null;
    while (failure === null) {
      assert.ok(writes < 100, "one of 100 writes of 4000 bytes fails on a full 256 KiB disk");
      set(opened, `during:${writes++}`, "y".repeat(4000));
      failure = await logged(opened.changeLog);
    }
    const failedKey = `during:${writes - 1}`;
    assert.match(failure, /^disk full \(ENOSPC\) writing .*log\.0+1$/);
    assert.match(opened.changeLog.writeError() ?? "", /^disk full \(ENOSPC\) writing .*log\.0+1$/);
    assert.match(await logged(opened.changeLog) ?? "", /disk full \(ENOSPC\)/);
    // Changes from peers keep arriving while writes are refused: memory keeps them.
    const remote = { key: "remote", value: "r", hlc: 5, node: "node-z", expiresAtMs: 0 };
    opened.store.applyRemote(remote);
    opened.changeLog.append([remote]);
    let fields = info(opened.changeLog);
    assert.equal(fields.get("persistence_status"), "error");
    assert.equal(fields.get("persistence_unlogged_entries"), "2");
    await delay(1500);
    assert.notEqual(opened.changeLog.writeError(), null, "still full: still refusing");

    fs.rmSync(filler);
    await waitUntil(
      "recovery from the full disk",
      () => opened.changeLog.writeError() === null,
      5000,
    );
    fields = info(opened.changeLog);
    assert.equal(fields.get("persistence_status"), "ok");
    assert.ok(Number(fields.get("persistence_write_failures")) >= 1);
    set(opened, "after", "z");
    assert.equal(await logged(opened.changeLog), null);
    await opened.changeLog.close();
    const store = recovered(dataDir);
    assert.deepEqual(contents(store), contents(opened.store));
    assert.equal(store.read(failedKey)?.value, "y".repeat(4000));
    assert.equal(store.read("remote")?.value, "r");
  } finally {
    await unmount();
  }
});
