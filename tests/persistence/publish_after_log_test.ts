/**
 * The log hands the node's own changes to replication only once it holds them: after the turn's
 * write ("no", "everysec"), after the fdatasync ("always"). A peer then never holds a change of
 * this node that its log may lose (see docs/consistency.md, Crashes).
 */

import assert from "node:assert/strict";
import type { FsyncPolicy } from "../../src/config/types.ts";
import { DurableLog } from "../../src/persistence/change_log.ts";
import { recoverDataDir } from "../../src/persistence/recovery.ts";
import type { Entry } from "../../src/store/entry.ts";
import type { Store } from "../../src/store/store.ts";
import { delay } from "../_support/ports.ts";
import { captureLog, newStore, tempDir } from "./support.ts";

function open(dir: string, policy: FsyncPolicy): { store: Store; changeLog: DurableLog } {
  const store = newStore();
  const { log } = captureLog();
  const report = recoverDataDir(dir, store, log);
  const dirLock = { release() {} };
  const persistence = { logRewriteMinBytes: 64 * 1024 * 1024, snapshotChunkEntries: 1000 };
  const changeLog = DurableLog.open({ dir, dirLock, policy, ...persistence, store, log }, report);
  return { store, changeLog };
}

function fsyncs(changeLog: DurableLog): number {
  const field = changeLog.infoFields().find(([name]) => name === "persistence_fsyncs");
  return Number(field?.[1]);
}

/** The keys recovery reads from `dir` now, as a node restarted after kill -9 would. */
function keysOnDisk(dir: string): string[] {
  const store = newStore("reader");
  recoverDataDir(dir, store, captureLog().log);
  return store.scan("", null, 1000);
}

/** What a publisher was handed, with the keys the data dir held and the fsyncs done then. */
interface Handed {
  keys: string[];
  onDisk: string[];
  fsyncs: number;
}

function recordingPublisher(dir: string, changeLog: () => DurableLog) {
  const handed: Handed[] = [];
  /** How many hand-overs there were at each flush(). */
  const flushes: number[] = [];
  const publisher = {
    flush() {
      flushes.push(handed.length);
    },
    publish(changes: readonly Entry[]) {
      handed.push({
        keys: changes.map((change) => change.key),
        onDisk: keysOnDisk(dir),
        fsyncs: fsyncs(changeLog()),
      });
    },
  };
  return { handed, flushes, publisher };
}

for (const policy of ["no", "everysec"] as const) {
  Deno.test(`fsync ${policy}: the node's own changes go to the publisher after the turn's write has put them in the log file, never before`, async () => {
    const dir = await tempDir();
    const { store, changeLog } = open(dir, policy);
    const { handed, flushes, publisher } = recordingPublisher(dir, () => changeLog);
    changeLog.append([store.write("a", "1", 0)], publisher);
    changeLog.append([store.write("b", "2", 0)], publisher);
    // A peer's change is logged, never handed on.
    changeLog.append([store.write("remote", "3", 0)]);
    assert.equal(handed.length, 0, "nothing is handed on before the turn's write");
    await delay(0);
    assert.deepEqual(handed.map((h) => h.keys), [["a"], ["b"]]);
    for (const h of handed) assert.deepEqual(h.onDisk, ["a", "b", "remote"]);
    assert.deepEqual(flushes, [2], "one flush() sends the turn's changes together");
    await changeLog.close();
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("fsync always: the node's own changes go to the publisher only after the fdatasync that covers them", async () => {
  const dir = await tempDir();
  const { store, changeLog } = open(dir, "always");
  const { handed, flushes, publisher } = recordingPublisher(dir, () => changeLog);
  changeLog.append([store.write("a", "1", 0)], publisher);
  const told = new Promise<string | null>((resolve) => changeLog.whenLogged({ logged: resolve }));
  assert.equal(await told, null);
  assert.deepEqual(handed.map((h) => h.keys), [["a"]]);
  assert.equal(handed[0]?.fsyncs, 1, "handed on once its fdatasync had ended");
  assert.deepEqual(handed[0]?.onDisk, ["a"]);

  // Written while an fdatasync runs: handed on after the next one, not the one under way.
  changeLog.append([store.write("b", "2", 0)], publisher);
  await delay(0);
  changeLog.append([store.write("c", "3", 0)], publisher);
  await new Promise((resolve) => changeLog.whenLogged({ logged: resolve }));
  assert.deepEqual(handed.map((h) => h.keys), [["a"], ["b"], ["c"]]);
  for (const [index, h] of handed.entries()) {
    assert.ok(h.fsyncs >= 1 && h.onDisk.length >= index + 1, JSON.stringify(h));
  }
  assert.ok((handed[2]?.fsyncs ?? 0) > (handed[0]?.fsyncs ?? 0));
  assert.deepEqual(flushes, [1, 2, 3], "each fdatasync's changes are sent at once");
  await changeLog.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("fsync always: a waiter with no change of its own is told once what was written is on disk, even when nothing more is written", async () => {
  const dir = await tempDir();
  const { store, changeLog } = open(dir, "always");
  const logged = () =>
    new Promise<string | null>((resolve) => changeLog.whenLogged({ logged: resolve }));
  // Nothing written at all.
  assert.equal(await logged(), null);
  assert.equal(fsyncs(changeLog), 0);
  // A write whose fdatasync is under way, and a waiter with nothing of its own behind it.
  changeLog.append([store.write("a", "1", 0)]);
  const first = logged();
  await delay(0);
  let toldSecond = false;
  const second = logged().finally(() => toldSecond = true);
  assert.equal(await first, null);
  assert.equal(await second, null);
  assert.ok(toldSecond);
  assert.ok(fsyncs(changeLog) >= 1);
  assert.deepEqual(keysOnDisk(dir), ["a"]);
  await changeLog.close();
  await Deno.remove(dir, { recursive: true });
});
