/**
 * Start-up recovery (see docs/durability.md, Recovery): load the newest snapshot, replay the
 * log segments it does not cover in order, cut a bad tail off, stop on damage before the tail.
 * Every record's entries go in straight from the file's bytes (payload_loader.ts): the entry of
 * a key not held yet is inserted with store.loadBytes (no merge needed, no Entry object, no
 * value string), any other through store.load (the LWW merge: idempotent and order-free). Both
 * keep the Merkle tree current and move the hybrid clock past every version read.
 */

import * as fs from "node:fs";
import { SLAB_BYTES, type Store } from "../store/mod.ts";
import { SlabToucher } from "./slab_toucher.ts";
import type { Logger } from "../log.ts";
import {
  type DataDirListing,
  listDataDir,
  logPath,
  snapshotPath,
  syncDirectory,
} from "./data_dir.ts";
import {
  type Damage,
  type PayloadReader,
  ReadBuffer,
  scanLogFile,
  truncateFile,
} from "./log_file.ts";
import { LOG_HEADER_BYTES } from "./record_codec.ts";
import { readSnapshotPayloads, type SnapshotRead } from "./snapshot_file.ts";
import { loadPayload } from "./payload_loader.ts";
import { PROGRESS_INTERVAL_MS, ProgressMeter } from "../progress.ts";

/**
 * The fewest bytes an entry takes (src/store/entry_codec.ts): flags, version, node id length,
 * a one-byte node id, key length, a one-byte key (a tombstone has no value length).
 */
const MIN_ENTRY_BYTES = 14;

/** A snapshot at least this large has its value slabs faulted in ahead (slab_toucher.ts). */
export const MIN_TOUCHED_SNAPSHOT_BYTES = 16 * 1024 * 1024;

/** What recovery reserves in the store while it loads (Store.reserve), given back at the end. */
class RecoveryRoom {
  readonly #store: Store;
  #toucher: SlabToucher | null = null;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Before a snapshot's records: room in the index and the key array for its entries, so that
   * loading it moves no key (see SlotIndex.reserve), and for a large one its value slabs faulted
   * in on another core. The trailer's count is checked only after the records are read: what
   * the file's bytes can hold bounds it.
   */
  forSnapshot(entryCount: number, fileBytes: number): void {
    const keys = Math.min(entryCount, Math.floor(fileBytes / MIN_ENTRY_BYTES));
    // Only with a spare CPU: on one (a process pinned to it) the worker would take the loader's.
    if (fileBytes >= MIN_TOUCHED_SNAPSHOT_BYTES && navigator.hardwareConcurrency > 1) {
      // The values take at most the file's bytes, less their cells' rounding up.
      this.#toucher = new SlabToucher(Math.ceil(fileBytes / SLAB_BYTES));
    }
    this.#store.reserve(keys, this.#toucher);
  }

  /** Lets the index shrink again and stops the worker; called however recovery ends. */
  release(): void {
    this.#store.reserve(0);
    this.#toucher?.close();
    this.#toucher = null;
  }
}

/** The data directory cannot be used as it is; the message says why and how to repair. */
export class RecoveryError extends Error {}

export interface RecoveredSnapshot {
  sequence: number;
  path: string;
  entries: number;
  bytes: number;
  createdAtMs: number;
}

export interface RecoveredLog {
  sequence: number;
  path: string;
  records: number;
  entries: number;
  /** Size after any cut. */
  bytes: number;
  /** A bad tail that was cut off: where, why, and how many bytes went. */
  cut: { offset: number; reason: string; removedBytes: number } | null;
}

export interface RecoveryReport {
  snapshot: RecoveredSnapshot | null;
  logs: RecoveredLog[];
  /** Entries read (snapshot and logs; a key written n times counts n times). */
  entriesRead: number;
  durationMs: number;
  /** Files left over from an interrupted snapshot or clean-up, removed. */
  removed: string[];
}

/** Loads the data directory into `store` (which should be empty), in one go. */
export function recoverDataDir(dir: string, store: Store, log: Logger): RecoveryReport {
  const steps = recoverDataDirInSteps(dir, store, log);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * recoverDataDir() one file at a time: it pauses after each snapshot or log file it reads, so
 * that the node's event loop can answer between files (/readyz says 503 while it loads).
 */
export function* recoverDataDirInSteps(
  dir: string,
  store: Store,
  log: Logger,
  timing: ProgressTiming = { nowMs: () => performance.now(), intervalMs: PROGRESS_INTERVAL_MS },
): Generator<void, RecoveryReport, void> {
  const startedMs = performance.now();
  const listing = listDataDir(dir);
  const progress = new RecoveryProgress(log, totalBytes(dir, listing), timing);
  const report: RecoveryReport = {
    snapshot: null,
    logs: [],
    entriesRead: 0,
    durationMs: 0,
    removed: [],
  };
  // One read buffer for every file (see ReadBuffer).
  const reads = new ReadBuffer();
  const load: PayloadReader = (bytes, start, end, endOffset) => {
    const loaded = loadPayload(store, bytes, start, end);
    if (loaded.ok) progress.read(loaded.entries, endOffset);
    return loaded;
  };
  const remove = (path: string) => {
    fs.rmSync(path, { force: true });
    report.removed.push(path);
  };
  for (const name of listing.temporary) remove(`${dir}/${name}`);

  const room = new RecoveryRoom(store);
  try {
    const newest = listing.snapshots.at(-1);
    // The snapshot goes into the empty store first: no key in it can meet an older entry.
    if (newest !== undefined) {
      report.snapshot = loadSnapshot(dir, newest, store, load, reads, room);
      report.entriesRead += report.snapshot.entries;
      progress.fileDone(report.snapshot.bytes);
      yield;
    }
    const covered = newest ?? 0;
    // Older snapshots and segments the newest snapshot covers: a crash came before clean-up.
    for (const sequence of listing.snapshots) {
      if (sequence < covered) remove(snapshotPath(dir, sequence));
    }
    for (const sequence of listing.logs) {
      if (sequence < covered) remove(logPath(dir, sequence));
      else {
        const recovered = replayLog(dir, sequence, load, reads, log);
        if (recovered === null) remove(logPath(dir, sequence));
        else {
          report.logs.push(recovered);
          report.entriesRead += recovered.entries;
          progress.fileDone(recovered.bytes);
        }
        yield;
      }
    }
  } finally {
    room.release();
  }
  if (report.removed.length > 0) {
    syncDirectory(dir);
    log.info("persistence_leftovers_removed", { files: report.removed.join(" ") });
  }
  report.durationMs = Math.round(performance.now() - startedMs);
  return report;
}

function loadSnapshot(
  dir: string,
  sequence: number,
  store: Store,
  load: PayloadReader,
  reads: ReadBuffer,
  room: RecoveryRoom,
): RecoveredSnapshot {
  const path = snapshotPath(dir, sequence);
  const reserve = (entryCount: number, fileBytes: number) =>
    room.forSnapshot(entryCount, fileBytes);
  const read = readSnapshotPayloads(path, load, reserve, reads);
  if (!read.ok) throw snapshotError(dir, path, read);
  store.hlc.observe(read.header.hlc);
  return {
    sequence,
    path,
    entries: read.entries,
    bytes: read.bytes,
    createdAtMs: read.header.createdAtMs,
  };
}

function snapshotError(
  dir: string,
  path: string,
  read: Extract<SnapshotRead, { ok: false }>,
): RecoveryError {
  const repair = `"npx deno run --allow-read --allow-write scripts/repair_log.ts ${path}"`;
  if (read.intact) {
    return new RecoveryError(
      `Cannot start: snapshot ${path} holds a record at offset ${read.offset} whose frame ` +
        `and checksum are intact but which this build cannot apply (${read.error}). Nothing ` +
        `was dropped. To start with every other entry it holds, drop only the refused ` +
        `entries: ${repair} (it prints each dropped key and keeps the original as ` +
        `${path}.before-repair). Anti-entropy fetches newer versions of those keys from peers.`,
    );
  }
  return new RecoveryError(
    `Cannot start: snapshot ${path} is damaged at offset ${read.offset} (${read.error}). ` +
      `It was complete when it was renamed into place, so it was changed on disk since. ` +
      `To keep every valid record in it, run ${repair}; or move it out of ${dir}: the node ` +
      `then starts from the log segments that remain. Anti-entropy fetches the rest from peers.`,
  );
}

/** Replays one segment; null when it holds not even a whole header (created, then a crash). */
function replayLog(
  dir: string,
  sequence: number,
  load: PayloadReader,
  reads: ReadBuffer,
  log: Logger,
): RecoveredLog | null {
  const path = logPath(dir, sequence);
  const result = scanLogFile(path, load, reads);
  if (!result.ok) {
    if (result.headerBytes < LOG_HEADER_BYTES) {
      log.warn("log_without_header_removed", { file: path, bytes: result.headerBytes });
      return null;
    }
    throw new RecoveryError(
      `Cannot start: log ${path} has an unusable header (${result.error}). Move the file out ` +
        `of ${dir} to start without it; anti-entropy fetches what it held from peers.`,
    );
  }
  const scan = result.scan;
  const recovered: RecoveredLog = {
    sequence,
    path,
    records: scan.records,
    entries: scan.entries,
    bytes: scan.validEnd,
    cut: null,
  };
  if (scan.damage !== null) recovered.cut = cutTail(path, scan.fileBytes, scan.damage, log);
  return recovered;
}

/**
 * Cuts a bad tail off. A torn tail is only what fails framing or checksum: an intact record
 * whose content is refused, or damage with valid records after it, stops the start instead.
 */
function cutTail(
  path: string,
  fileBytes: number,
  damage: Damage,
  log: Logger,
): RecoveredLog["cut"] {
  if (damage.intact) {
    throw new RecoveryError(
      `Cannot start: log ${path} holds a record at offset ${damage.offset} whose frame and ` +
        `checksum are intact but which this build cannot apply (${damage.reason}). Nothing ` +
        `was dropped. To start with every other write it holds, drop only the refused ` +
        `entries: "npx deno run --allow-read --allow-write scripts/repair_log.ts ${path}" (it ` +
        `prints each dropped key and keeps the original as ${path}.before-repair). ` +
        `Anti-entropy fetches newer versions of those keys from peers.`,
    );
  }
  if (damage.nextValidOffset !== -1) {
    throw new RecoveryError(
      `Cannot start: log ${path} is damaged at offset ${damage.offset} (${damage.reason}) and ` +
        `valid records follow at offset ${damage.nextValidOffset}, so this is not a torn ` +
        `tail. To repair, either keep every valid record: ` +
        `"npx deno run --allow-read --allow-write scripts/repair_log.ts ${path}", or drop ` +
        `everything from the damage on: "truncate -s ${damage.offset} ${path}". ` +
        `Anti-entropy fetches what is lost from peers.`,
    );
  }
  const removedBytes = fileBytes - damage.offset;
  truncateFile(path, damage.offset);
  log.warn("log_tail_cut", {
    file: path,
    offset: damage.offset,
    removed_bytes: removedBytes,
    reason: damage.reason,
  });
  return { offset: damage.offset, reason: damage.reason, removedBytes };
}

/** Where recovery reads its time for progress lines, and how often it logs one. */
export interface ProgressTiming {
  nowMs: () => number;
  intervalMs: number;
}

/**
 * `recovery_progress` lines while recovery runs (see docs/backup.md, Progress): entries loaded,
 * percent of the bytes of the files to read, and the rate. Checked after every record read.
 */
class RecoveryProgress {
  readonly #meter: ProgressMeter;
  readonly #log: Logger;
  readonly #totalBytes: number;
  #finishedFilesBytes = 0;
  #entries = 0;

  constructor(log: Logger, totalBytes: number, timing: ProgressTiming) {
    this.#meter = new ProgressMeter(timing.nowMs, timing.intervalMs);
    this.#log = log;
    this.#totalBytes = totalBytes;
  }

  /** `entries` more were read, up to `endOffset` of the file being read. */
  read(entries: number, endOffset: number): void {
    this.#entries += entries;
    const done = this.#finishedFilesBytes + endOffset;
    const fields = this.#meter.report(this.#entries, done, this.#totalBytes);
    if (fields !== null) {
      this.#log.info("recovery_progress", { ...fields, bytes_total: this.#totalBytes });
    }
  }

  fileDone(bytes: number): void {
    this.#finishedFilesBytes += bytes;
  }
}

/** The bytes recovery will read: the newest snapshot and the log segments it does not cover. */
function totalBytes(dir: string, listing: DataDirListing): number {
  const newest = listing.snapshots.at(-1);
  let bytes = newest === undefined ? 0 : fs.statSync(snapshotPath(dir, newest)).size;
  for (const sequence of listing.logs) {
    if (sequence >= (newest ?? 0)) bytes += fs.statSync(logPath(dir, sequence)).size;
  }
  return bytes;
}
