/**
 * The files of a data directory (see docs/durability.md, File layout):
 *
 *   log.<N>            log segment N: changes appended while it was the current segment
 *   snapshot.<N>       the whole store as of the start of log segment N (covers segments < N)
 *   snapshot.<N>.tmp   a snapshot being written; never read, removed at start-up
 *   backup.<unix-ms>.snapshot   a backup written by SNAPSHOT (docs/backup.md); never read here
 *   LOCK               locked by the running node, holds its pid (dir_lock.ts)
 *
 * N is a decimal counter written with SEQUENCE_DIGITS digits so that names sort by number.
 */

import * as fs from "node:fs";
import * as path from "node:path";

const SEQUENCE_DIGITS = 10;
const LOG_NAME = /^log\.(\d+)$/;
const SNAPSHOT_NAME = /^snapshot\.(\d+)$/;
const TEMPORARY_NAME = /^(snapshot\.\d+|backup\.\d+\.snapshot)\.tmp$/;
/** What an unfinished snapshot or backup file is called: its final name and this. */
export const TEMPORARY_SUFFIX = ".tmp";

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
  return snapshotPath(dir, sequence) + TEMPORARY_SUFFIX;
}

/**
 * Where SNAPSHOT writes a backup taken at `unixMs`: a whole snapshot file (header, records,
 * trailer) that recovery does not read in a live data directory (see docs/backup.md).
 */
export function backupPath(dir: string, unixMs: number): string {
  return path.join(dir, `backup.${unixMs}.snapshot`);
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

/** What to do about a data directory the node cannot write, by error code. */
const UNWRITABLE_REMEDY: Readonly<Record<string, string>> = {
  EROFS: "remount it read-write, or set data_dir to a directory on a writable file system",
  EACCES: "give the node's user write access to it, or set data_dir to a directory it can write",
  EPERM: "give the node's user write access to it, or set data_dir to a directory it can write",
  ENOSPC: "free space on its disk, or set data_dir to a directory on a disk with room",
  EDQUOT: "raise the user's disk quota, or set data_dir to a directory on another disk",
};

/**
 * The sentence a node stops with when its data directory cannot be written at start-up
 * (read-only, not permitted, full), or null for any other error:
 * `Cannot start: data directory /x is not writable: read-only file system (EROFS) at open
 * '/x/log.0000000001'; remount it read-write, or set data_dir to ...`.
 */
export function unwritableDataDirMessage(dir: string, error: unknown): string | null {
  const { code, syscall, path: failedPath } = (error ?? {}) as {
    code?: unknown;
    syscall?: unknown;
    path?: unknown;
  };
  if (typeof code !== "string" || !(code in UNWRITABLE_REMEDY)) return null;
  const where = typeof syscall === "string" && typeof failedPath === "string"
    ? ` at ${syscall} '${failedPath}'`
    : "";
  return `Cannot start: data directory ${dir} is not writable: ${
    describeFsError(error)
  }${where}; ` +
    `${UNWRITABLE_REMEDY[code]}`;
}
