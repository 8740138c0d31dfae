import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFLICT_FILE_NAME, ConflictKeeper } from "../../src/conflicts/mod.ts";
import type { FsyncPolicy } from "../../src/config/mod.ts";
import { captureLog } from "../persistence/support.ts";

const WINNER = { node: "node-b", hlc: 2000 };
const LOSER = { node: "node-a", hlc: 1000 };

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "merklekv-conflicts-" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(dir: string | null, logMaxEntries = 100, fsync: FsyncPolicy = "always") {
  const { log, events } = captureLog();
  const keeper = ConflictKeeper.open({
    conflicts: { mode: "record", logMaxEntries },
    dataDir: dir,
    fsync,
    log,
  });
  return { keeper, events };
}

Deno.test("the conflict log is read back from data_dir after a close and a new open", async () => {
  await withDir(async (dir) => {
    for (const fsync of ["always", "everysec", "no"] as const) {
      const first = await open(dir, 100, fsync).keeper;
      await first.clear();
      first.record("k1", WINNER, LOSER, 1);
      first.record("k2", WINNER, LOSER, 2);
      first.record("k1", WINNER, LOSER, 3);
      await first.close();
      const second = await open(dir, 100, fsync).keeper;
      assert.deepEqual(second.list(10, null), [
        "k2 node-b@2000 node-a@1000 2",
        "k1 node-b@2000 node-a@1000 1",
      ]);
      await second.close();
    }
  });
});

Deno.test("a record is in the file once the event loop turns, before any close", async () => {
  await withDir(async (dir) => {
    const keeper = await open(dir).keeper;
    keeper.record("k1", WINNER, LOSER, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = fs.readFileSync(path.join(dir, CONFLICT_FILE_NAME), "latin1");
    assert.match(text, /\nk1 node-b@2000 node-a@1000 1 [0-9a-f]{8}\n$/);
    await keeper.close();
  });
});

Deno.test("a torn last line is cut at open, logged, and the records before it kept", async () => {
  await withDir(async (dir) => {
    const keeper = await open(dir).keeper;
    keeper.record("k1", WINNER, LOSER, 1);
    keeper.record("k2", WINNER, LOSER, 2);
    await keeper.close();
    const file = path.join(dir, CONFLICT_FILE_NAME);
    fs.truncateSync(file, fs.statSync(file).size - 5);
    const reopened = open(dir);
    const second = await reopened.keeper;
    assert.deepEqual(second.list(10, null), ["k1 node-b@2000 node-a@1000 1"]);
    const warning = reopened.events.find((event) => event.event === "conflict_log_damaged");
    assert.equal(warning?.reason, "torn line");
    assert.equal(warning?.records_read, 1);
    // The file was rewritten whole: a record appended now is read after the next open.
    second.record("k3", WINNER, LOSER, 3);
    await second.close();
    const third = await open(dir).keeper;
    assert.equal(third.size, 2);
    await third.close();
  });
});

Deno.test("CLEAR empties the conflict log on disk too", async () => {
  await withDir(async (dir) => {
    const keeper = await open(dir).keeper;
    keeper.record("k1", WINNER, LOSER, 1);
    await keeper.clear();
    assert.equal(keeper.size, 0);
    await keeper.close();
    const reopened = await open(dir).keeper;
    assert.equal(reopened.size, 0);
    await reopened.close();
  });
});

Deno.test("the conflict file is rewritten once it holds more than twice the bound", async () => {
  await withDir(async (dir) => {
    const keeper = await open(dir, 10).keeper;
    for (let i = 0; i < 25; i++) keeper.record(`k${i}`, WINNER, LOSER, i);
    await keeper.close();
    const text = fs.readFileSync(path.join(dir, CONFLICT_FILE_NAME), "latin1");
    const lines = text.trimEnd().split("\n").length - 1;
    assert.ok(lines <= 20, `${lines} lines for a bound of 10`);
    const reopened = await open(dir, 10).keeper;
    assert.equal(reopened.size, 10);
    assert.equal(reopened.list(1, null)[0]?.split(" ")[0], "k24");
    // A smaller bound on a running node: trimmed at once.
    reopened.setMaxEntries(3);
    assert.equal(reopened.size, 3);
    await reopened.close();
  });
});

Deno.test("without data_dir the conflict log keeps its records in memory", async () => {
  const keeper = await open(null).keeper;
  keeper.record("k1", WINNER, LOSER, 1);
  assert.equal(keeper.size, 1);
  await keeper.close();
});
