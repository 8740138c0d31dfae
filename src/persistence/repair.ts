/**
 * Repair of a log segment damaged before its tail (I/O edge, used by scripts/repair_log.ts):
 * keep the header and every valid record, drop the damaged byte ranges between them. The
 * original file is kept next to it as `<file>.before-repair`.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { Buffer } from "node:buffer";
import { checkLogHeader, LOG_HEADER_BYTES, salvageRecords } from "./record_codec.ts";
import { syncDirectory } from "./data_dir.ts";

export interface RepairSummary {
  keptRecords: number;
  keptEntries: number;
  /** [start, end) byte ranges dropped. */
  dropped: [number, number][];
  backupPath: string;
}

export function repairLogFile(file: string): RepairSummary {
  const bytes = Buffer.from(fs.readFileSync(file));
  const problem = checkLogHeader(bytes.subarray(0, LOG_HEADER_BYTES));
  if (problem !== null) throw new Error(`Cannot repair ${file}: ${problem}`);
  const salvage = salvageRecords(bytes, LOG_HEADER_BYTES, bytes.length);
  const parts = [bytes.subarray(0, LOG_HEADER_BYTES)];
  for (const [start, end] of salvage.records) parts.push(bytes.subarray(start, end));
  const repairedPath = `${file}.repaired`;
  const backupPath = `${file}.before-repair`;
  const fd = fs.openSync(repairedPath, "w");
  try {
    fs.writeSync(fd, Buffer.concat(parts));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(file, backupPath);
  fs.renameSync(repairedPath, file);
  syncDirectory(path.dirname(file));
  return {
    keptRecords: salvage.records.length,
    keptEntries: salvage.entryCount,
    dropped: salvage.damaged,
    backupPath,
  };
}
