/**
 * One process per data directory (src/persistence/dir_lock.ts): the lock is held by the open
 * LOCK file, so it conflicts between two openings even inside one process. The same between
 * processes, and after kill -9, is tests/integration/data_dir_lock_test.ts.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/mod.ts";
import { DataDirError, openChangeLog } from "../../src/persistence/mod.ts";
import { LOCK_FILE_NAME, tryLockDir } from "../../src/persistence/dir_lock.ts";
import { captureLog, newStore, tempDir } from "./support.ts";

function configFor(dir: string): Config {
  return { ...structuredClone(DEFAULT_CONFIG), nodeId: "node-a", dataDir: dir };
}

Deno.test("tryLockDir() writes the holder's pid and refuses a second lock until release()", async () => {
  const dir = await tempDir();
  try {
    const first = tryLockDir(dir);
    assert.equal(first.kind, "locked");
    const lockPath = path.join(dir, LOCK_FILE_NAME);
    assert.equal(Deno.readTextFileSync(lockPath), `${Deno.pid}\n`);
    assert.deepEqual(tryLockDir(dir), { kind: "held", lockPath, holderPid: Deno.pid });
    if (first.kind === "locked") first.lock.release();
    const again = tryLockDir(dir);
    assert.equal(again.kind, "locked");
    if (again.kind === "locked") again.lock.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Opens the data directory as a node does; throws what openChangeLog() throws. */
async function open(dir: string, store = newStore(), log = captureLog().log) {
  const changeLog = await openChangeLog({ config: configFor(dir), store, log });
  assert.ok(changeLog !== null);
  return changeLog;
}

Deno.test("openChangeLog() refuses a locked directory before reading it, and close() unlocks it", async () => {
  const dir = await tempDir();
  const writer = newStore();
  const written = await open(dir, writer);
  written.append([writer.write("k", "v", 0)]);
  await written.close();

  const holder = await open(dir);
  try {
    const store = newStore();
    const captured = captureLog();
    await assert.rejects(open(dir, store, captured.log), (error: unknown) => {
      assert.ok(error instanceof DataDirError);
      assert.match(error.message, new RegExp(`data directory ${dir} is in use`));
      assert.match(error.message, new RegExp(`\\(pid ${Deno.pid}\\)`));
      return true;
    });
    // Recovery did not run: the key on disk was not read, nothing was logged as loaded.
    assert.equal(store.countLive(), 0);
    assert.deepEqual(captured.events, []);
  } finally {
    await holder.close();
  }
  const store = newStore();
  await (await open(dir, store)).close();
  assert.equal(store.countLive(), 1);
  await Deno.remove(dir, { recursive: true });
});
