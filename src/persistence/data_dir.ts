/**
 * The files of a data directory (see README, Durability, File layout):
 *
 *   log.<N>            log segment N: changes appended while it was the current segment
 *   snapshot.<N>       the whole store as of the start of log segment N (covers segments < N)
 *   snapshot.<N>.tmp   a snapshot being written; never read, removed at start-up
 *
 * N is a decimal counter written with SEQUENCE_DIGITS digits so that names sort by number.
 */

import * as fs from "node:fs";
import * as path from "node:path";

const SEQUENCE_DIGITS = 10;
const LOG_NAME = /^log\.(\d+)$/;
const SNAPSHOT_NAME = /^snapshot\.(\d+)$/;
const TEMPORARY_NAME = /^snapshot\.\d+\.tmp$/;

export interface DataDirListing {
  /** Segment numbers of log files, ascending. */
  logs: number[];
  /** Numbers of complete (renamed) snapshot files, ascending. */
  snapshots: number[];
  /** Names of unfinished snapshot files. */
  temporary: string[];
}

export function logPath(dir: string, sequence: number): string {
  return path.join(dir, `log.${pad(sequence)}`);
}

export function snapshotPath(dir: string, sequence: number): string {
  return path.join(dir, `snapshot.${pad(sequence)}`);
}

export function temporarySnapshotPath(dir: string, sequence: number): string {
  return snapshotPath(dir, sequence) + ".tmp";
}

function pad(sequence: number): string {
  return String(sequence).padStart(SEQUENCE_DIGITS, "0");
}

export function listDataDir(dir: string): DataDirListing {
  const listing: DataDirListing = { logs: [], snapshots: [], temporary: [] };
  for (const name of fs.readdirSync(dir)) {
    const log = LOG_NAME.exec(name);
    const snapshot = SNAPSHOT_NAME.exec(name);
    if (log !== null) listing.logs.push(Number(log[1]));
    else if (snapshot !== null) listing.snapshots.push(Number(snapshot[1]));
    else if (TEMPORARY_NAME.test(name)) listing.temporary.push(name);
  }
  listing.logs.sort((a, b) => a - b);
  listing.snapshots.sort((a, b) => a - b);
  return listing;
}

/** Makes created, renamed and removed names durable (POSIX needs an fsync of the directory). */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** syncDirectory in the background (an fsync of a directory can wait for a journal commit). */
export function syncDirectoryInBackground(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(dir, "r", (openError, fd) => {
      if (openError) return reject(openError);
      fs.fsync(fd, (syncError) => {
        fs.close(fd, () => syncError ? reject(syncError) : resolve());
      });
    });
  });
}

/** A short, stable description of a file system error for users: `disk full (ENOSPC)`. */
export function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case "ENOSPC":
      return "disk full (ENOSPC)";
    case "EDQUOT":
      return "disk quota exceeded (EDQUOT)";
    case "EROFS":
      return "read-only file system (EROFS)";
    case "EACCES":
    case "EPERM":
      return `permission denied (${code})`;
    case "EIO":
      return "I/O error (EIO)";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
