/**
 * One process per data directory: a node holds an exclusive advisory lock on `<dir>/LOCK` for
 * as long as it runs, with its pid written in the file for the message a second node stops
 * with. The lock belongs to the open file, so the kernel drops it when the process ends, even
 * by `kill -9`: a stale LOCK file is harmless and never needs removing by hand.
 */

import * as path from "node:path";

export const LOCK_FILE_NAME = "LOCK";

/** The lock a running node holds; release() closes the file (idempotent). */
export interface DirLock {
  release(): void;
}

export type DirLockResult =
  | { kind: "locked"; lock: DirLock }
  /** Another process holds the lock; holderPid is what it wrote, or null if unreadable yet. */
  | { kind: "held"; lockPath: string; holderPid: number | null };

/** Takes the lock without waiting. The directory must exist. */
export function tryLockDir(dir: string): DirLockResult {
  const lockPath = path.join(path.resolve(dir), LOCK_FILE_NAME);
  const file = openLockFile(lockPath);
  try {
    if (!file.tryLockSync(true)) {
      const holderPid = readHolderPid(file);
      file.close();
      return { kind: "held", lockPath, holderPid };
    }
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (error) {
    file.close();
    throw error;
  }
  let released = false;
  return {
    kind: "locked",
    lock: {
      release() {
        if (released) return;
        released = true;
        file.close();
      },
    },
  };
}

/**
 * Deno's errors carry a code but not the call and path that node:fs errors carry and the
 * start-up message names (data_dir.ts, unwritableDataDirMessage): they are added here.
 */
function openLockFile(lockPath: string): Deno.FsFile {
  try {
    return Deno.openSync(lockPath, { read: true, write: true, create: true });
  } catch (error) {
    const code = (error as { code?: unknown })?.code;
    const message = error instanceof Error ? error.message : String(error);
    throw Object.assign(new Error(message, { cause: error }), {
      code,
      syscall: "open",
      path: lockPath,
    });
  }
}

function readHolderPid(file: Deno.FsFile): number | null {
  const buffer = new Uint8Array(32);
  const length = file.readSync(buffer) ?? 0;
  const text = new TextDecoder().decode(buffer.subarray(0, length)).trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}
