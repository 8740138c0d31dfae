/**
 * Repair of a log segment or snapshot the node refuses to start with (I/O edge, used by
 * scripts/repair_log.ts): keep the header and every valid record, drop the damaged byte ranges
 * between them, and of a record whose frame and checksum are intact but some of whose entries
 * this build refuses, keep every other entry (written again as a record of its own). A
 * snapshot gets a new trailer that counts what was kept. The original file is kept next to it
 * as `<file>.before-repair`.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import {
  checkLogHeader,
  decodeSnapshotHeader,
  decodeSnapshotTrailer,
  encodeRecords,
  encodeSnapshotTrailer,
  LOG_HEADER_BYTES,
  LOG_MAGIC,
  type Salvage,
  salvageRecords,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
} from "./record_codec.ts";
import { syncDirectory } from "./data_dir.ts";

export interface RepairSummary {
  keptRecords: number;
  keptEntries: number;
  /** [start, end) byte ranges dropped. */
  dropped: [number, number][];
  /** Entries dropped from intact records, each with the record's offset, its key and why. */
  refused: string[];
  backupPath: string;
}

export function repairLogFile(file: string): RepairSummary {
  const bytes = Buffer.from(fs.readFileSync(file));
  const isLog = bytes.toString("latin1", 0, LOG_MAGIC.length) === LOG_MAGIC;
  const headerBytes = isLog ? LOG_HEADER_BYTES : SNAPSHOT_HEADER_BYTES;
  const header = bytes.subarray(0, headerBytes);
  const problem = isLog ? checkLogHeader(header) : snapshotHeaderProblem(header);
  if (problem !== null) throw new Error(`Cannot repair ${file}: ${problem}`);
  const recordsEnd = isLog ? bytes.length : snapshotRecordsEnd(bytes);
  const salvage = salvageRecords(bytes, headerBytes, recordsEnd);
  const records = keptRecords(bytes, salvage);
  const parts = [header, ...records.map(([, record]) => record)];
  const recordCount = records.reduce((sum, [count]) => sum + count, 0);
  if (!isLog) {
    parts.push(encodeSnapshotTrailer({ entryCount: salvage.entryCount, recordCount }));
  }
  const backupPath = `${file}.before-repair`;
  replaceFile(file, Buffer.concat(parts), backupPath);
  return {
    keptRecords: recordCount,
    keptEntries: salvage.entryCount,
    dropped: salvage.damaged,
    refused: salvage.rewritten.flatMap(({ range, refused }) =>
      refused.map((why) => `record at offset ${range[0]}, ${why}`)
    ),
    backupPath,
  };
}

function snapshotHeaderProblem(header: Buffer): string | null {
  const decoded = decodeSnapshotHeader(header);
  return decoded.ok ? null : decoded.error;
}

/** Where a snapshot's records end: at its trailer if it has a valid one, else at its end. */
function snapshotRecordsEnd(bytes: Buffer): number {
  const trailerOffset = bytes.length - SNAPSHOT_TRAILER_BYTES;
  if (trailerOffset < SNAPSHOT_HEADER_BYTES) return bytes.length;
  return decodeSnapshotTrailer(bytes.subarray(trailerOffset)).ok ? trailerOffset : bytes.length;
}

/**
 * The records to write, in file order, each with how many records its bytes hold: valid ones
 * as they were, rewritten ones anew.
 */
function keptRecords(bytes: Buffer, salvage: Salvage): [number, Buffer][] {
  const kept: [number, number, Buffer][] = salvage.records.map((
    [start, end],
  ) => [start, 1, bytes.subarray(start, end)]);
  for (const { range, entries } of salvage.rewritten) {
    if (entries.length === 0) continue;
    const encoded = encodeRecords(entries);
    kept.push([range[0], encoded.records, encoded.bytes]);
  }
  return kept.sort((a, b) => a[0] - b[0]).map(([, count, record]) => [count, record]);
}

/** Writes `bytes` as `file` durably, keeping the old file as `backupPath`. */
function replaceFile(file: string, bytes: Buffer, backupPath: string): void {
  const repairedPath = `${file}.repaired`;
  const fd = fs.openSync(repairedPath, "w");
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(file, backupPath);
  fs.renameSync(repairedPath, file);
  syncDirectory(path.dirname(file));
}
