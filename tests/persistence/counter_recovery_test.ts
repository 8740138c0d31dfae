/**
 * Counters in the data directory: a counter's contributions come back from the log and from a
 * snapshot, and merge with later log records per node.
 */

import assert from "node:assert/strict";
import { recoverDataDir } from "../../src/persistence/recovery.ts";
import { SnapshotWriter } from "../../src/persistence/snapshot_file.ts";
import { type CounterState, incremented, startedCounter } from "../../src/store/counter.ts";
import { counterEntry } from "../../src/store/counter_entry.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { captureLog, newStore, tempDir, writeLog } from "./support.ts";

const NOW_MS = Date.now();
const HLC = hlcFromMs(NOW_MS - 1000);

/** `state` after `amount` by `node` at HLC + tick. */
function inc(state: CounterState, node: string, amount: bigint, tick: number): CounterState {
  const next = incremented(state, node, amount, HLC + tick);
  if (typeof next === "string") throw new Error(next);
  return next;
}

const FRESH = startedCounter(0, "", 0n);
const A1 = inc(FRESH, "node-a", 5n, 1);
const AB = inc(A1, "node-b", 7n, 2);
/** node-a's later increment, made without node-b's: the merge must keep both. */
const A2 = inc(A1, "node-a", -2n, 3);

function recover(dir: string) {
  const store = newStore();
  const report = recoverDataDir(dir, store, captureLog().log);
  return { store, report };
}

Deno.test("recovery replays counter changes from the log into the merged state, per node", async () => {
  const dir = await tempDir();
  await writeLog(dir, 1, [[counterEntry("c", A1, 0)], [counterEntry("c", AB, 0)], [
    counterEntry("c", A2, 0),
  ]]);
  const { store } = recover(dir);
  const entry = store.entry("c") as Entry;
  assert.equal(entry.value, String(5n + 7n - 2n));
  assert.equal(entry.counter?.contributions.length, 2);
  assert.equal(store.counterKeys, 1);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a snapshot keeps a counter's contributions, and later log records merge into them", async () => {
  const dir = await tempDir();
  const writer = SnapshotWriter.create(dir, 2, { createdAtMs: NOW_MS, hlc: HLC + 2 });
  writer.writeEntries([counterEntry("c", AB, 0), {
    key: "plain",
    value: "x",
    hlc: HLC,
    node: "node-a",
    expiresAtMs: 0,
  }]);
  await writer.commit();
  await writeLog(dir, 2, [[counterEntry("c", A2, 0)]]);
  const { store } = recover(dir);
  assert.equal(store.read("c")?.value, "10");
  assert.deepEqual(store.entry("c")?.counter?.contributions.map((c) => c.node), [
    "node-a",
    "node-b",
  ]);
  assert.equal(store.read("plain")?.counter, undefined);
  // The same root as a store that merged the same changes in memory.
  const direct = newStore();
  for (const state of [AB, A2]) direct.applyRemote(counterEntry("c", state, 0));
  direct.applyRemote({ key: "plain", value: "x", hlc: HLC, node: "node-a", expiresAtMs: 0 });
  assert.equal(store.rootHex(), direct.rootHex());
  await Deno.remove(dir, { recursive: true });
});
