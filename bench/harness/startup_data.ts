/**
 * The data dir of the start-up benchmark, written by its own process so that the generator's
 * heap (a store of every key) is gone before the node under test starts:
 *
 *   deno run -A bench/harness/startup_data.ts <dir> <keys>
 *
 * prints one JSON line, `{"snapshotBytes":…,"logBytes":…}`. The dir is what a node leaves:
 * snapshot.0000000002 with SNAPSHOT_SHARE of the keys, then log.0000000002 with the rest, in
 * records of ENTRIES_PER_LOG_RECORD (one per client batch). The snapshot holds its entries in
 * the order a node writes them: tree segment by segment (see compactor.ts), each segment's
 * keys in the order they were first written.
 */

import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { LogSegment } from "../../src/persistence/log_file.ts";
import { encodeRecords } from "../../src/persistence/record_codec.ts";
import { SnapshotWriter } from "../../src/persistence/snapshot_file.ts";
import { SEGMENT_COUNT } from "../../src/store/merkle.ts";
import { Store } from "../../src/store/store.ts";
import { track } from "./processes.ts";

/** Of the data set, this share is in the snapshot and the rest in the log after it. */
const SNAPSHOT_SHARE = 0.9;
const ENTRIES_PER_LOG_RECORD = 1000;
const SNAPSHOT_SLICE_ENTRIES = 10_000;
const WRITER_PATH = new URL("./startup_data.ts", import.meta.url).pathname;
const STARTUP_VALUE_BYTES = 100;

export interface StartupFiles {
  snapshotBytes: number;
  logBytes: number;
}

/** Writes the data dir in a child process and resolves with the sizes of its files. */
export async function writeStartupDataDir(dir: string, keys: number): Promise<StartupFiles> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", WRITER_PATH, dir, String(keys)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // An interrupted benchmark stops the writer with its other children.
  const untrack = track("start-up data writer", child);
  const output = await child.output().finally(untrack);
  const line = new TextDecoder().decode(output.stdout).trim().split("\n").at(-1) ?? "";
  if (!output.success || !line.startsWith("{")) {
    const stderr = new TextDecoder().decode(output.stderr).slice(0, 2000);
    throw new Error(`startup_data.ts exited with code ${output.code}:\n${stderr}`);
  }
  return JSON.parse(line) as StartupFiles;
}

async function writeDataDir(dir: string, keys: number): Promise<StartupFiles> {
  const baseHlc = hlcFromMs(Date.now() - 60_000);
  const value = "v".repeat(STARTUP_VALUE_BYTES);
  const entryOf = (i: number): Entry => ({
    key: `key:${String(i).padStart(12, "0")}`,
    value,
    hlc: baseHlc + i,
    node: "bench-writer",
    expiresAtMs: 0,
  });
  const inSnapshot = Math.floor(keys * SNAPSHOT_SHARE);
  // The node's own grouping: a store's entries listed segment by segment (as compactor.ts).
  const store = new Store({
    nodeId: "bench-writer",
    clock: { nowMs: () => Date.now() },
    tombstoneGraceMs: 60_000,
    maxClockSkewMs: 60_000,
  });
  for (let i = 0; i < inSnapshot; i++) store.load(entryOf(i));
  const snapshot = SnapshotWriter.create(dir, 2, { createdAtMs: Date.now(), hlc: baseHlc });
  let slice: Entry[] = [];
  for (let segment = 0; segment < SEGMENT_COUNT; segment++) {
    for (const entry of store.segmentEntries(segment)) slice.push(entry);
    if (slice.length >= SNAPSHOT_SLICE_ENTRIES) {
      snapshot.writeEntries(slice);
      slice = [];
    }
  }
  snapshot.writeEntries(slice);
  const summary = await snapshot.commit();
  const log = LogSegment.create(dir, 2);
  for (let start = inSnapshot; start < keys; start += ENTRIES_PER_LOG_RECORD) {
    const batch = [];
    for (let i = start; i < Math.min(start + ENTRIES_PER_LOG_RECORD, keys); i++) {
      batch.push(entryOf(i));
    }
    log.write(encodeRecords(batch).bytes);
  }
  const logBytes = log.size;
  await log.close(true);
  return { snapshotBytes: summary.bytes, logBytes };
}

if (import.meta.main) {
  const [dir, keys] = Deno.args;
  if (dir === undefined || !(Number(keys) > 0)) {
    console.error("usage: deno run -A bench/harness/startup_data.ts <dir> <keys>");
    Deno.exit(2);
  }
  console.log(JSON.stringify(await writeDataDir(dir, Number(keys))));
}
