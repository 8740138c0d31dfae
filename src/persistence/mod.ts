/**
 * Durability (see docs/durability.md): the append-only log, snapshots and recovery. The node
 * calls openChangeLog once at start-up; it returns after the store holds what the disk holds.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import type { InfoField } from "../protocol/mod.ts";
import type { LogWaiter } from "../server/mod.ts";
import type { Entry, Store } from "../store/mod.ts";
import { DurableLog } from "./change_log.ts";
import type { BackupResult } from "./backup.ts";
import { unwritableDataDirMessage } from "./data_dir.ts";
import { type DirLock, tryLockDir } from "./dir_lock.ts";
import type { Histogram } from "../metrics/mod.ts";
import { recoverDataDir, recoverDataDirInSteps, type RecoveryReport } from "./recovery.ts";

export { RecoveryError } from "./recovery.ts";
export type { BackupResult } from "./backup.ts";
export { readSnapshotFile } from "./snapshot_file.ts";

/** The append-only log and snapshots, as the node uses them. */
export interface ChangeLog {
  /**
   * Records changes, local or remote, in order; the changes of one event-loop turn are written
   * together at its end. Failures are kept and shown by writeError(). `publisher` (the node's
   * own changes: replication) is handed them once they are in the log file ("no",
   * "everysec") or on disk ("always"), never before: no peer holds a change of this node that
   * its log may lose to a kill -9 ("always": to a crash of the machine). See
   * docs/consistency.md, Crashes.
   */
  append(changes: readonly Entry[], publisher?: ChangePublisher): void;
  /**
   * Calls waiter.logged(), never before this call returns, once every change appended so far
   * is in the log file ("no", "everysec") or on disk ("always"): only then may the replies of
   * the writes that made them leave the process (see docs/durability.md, fsync policies).
   */
  whenLogged(waiter: LogWaiter): void;
  /** Why writes are refused now (for example a full disk), or null when they are accepted. */
  writeError(): string | null;
  infoFields(): InfoField[];
  /** SNAPSHOT: writes backup.<unix-ms>.snapshot (see docs/backup.md); its absolute path. */
  backup(): Promise<BackupResult>;
  /** Seconds from the start of each fdatasync round to its end (metrics). */
  readonly fsyncDurationHistogram: Histogram;
  close(): Promise<void>;
}

/** Where a node's own changes go once the log holds them (replication). */
export interface ChangePublisher {
  publish(changes: readonly Entry[]): void;
  /** Sends what publish() was given now: called once after the changes of a turn. */
  flush(): void;
}

/** What opening the log needs from the node. */
export interface ChangeLogContext {
  config: Config;
  store: Store;
  log: Logger;
  /**
   * Pause between recovery files so that a listener started before (the operators' HTTP
   * listener) answers meanwhile; default true. A node with nothing listening yet passes false:
   * the pauses would only delay its start.
   */
  pauseBetweenFiles?: boolean;
}

/** The data directory cannot be written (read-only, not permitted, full): the node cannot start. */
export class DataDirError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataDirError";
  }
}

/**
 * Locks the data directory, then recovers the store from it; null when data_dir is unset.
 * Recovery runs only under the lock: two nodes never read or write the same files. Between
 * files it lets the event loop turn, so that the operators' HTTP listener answers meanwhile.
 */
export async function openChangeLog(context: ChangeLogContext): Promise<ChangeLog | null> {
  const { config, store, log } = context;
  const dir = config.dataDir;
  if (dir === null) return null;
  let lock: DirLock | null = null;
  try {
    fs.mkdirSync(dir, { recursive: true });
    lock = lockOrThrow(dir);
    const report = context.pauseBetweenFiles === false
      ? recoverDataDir(dir, store, log)
      : await recoverTurningTheLoop(dir, store, log);
    log.info("persistence_loaded", {
      dir,
      snapshot: report.snapshot?.path ?? "none",
      snapshot_entries: report.snapshot?.entries ?? 0,
      log_segments: report.logs.length,
      entries_read: report.entriesRead,
      keys: store.countLive(),
      duration_ms: report.durationMs,
    });
    return DurableLog.open({
      dir,
      dirLock: lock,
      policy: config.fsync,
      logRewriteMinBytes: config.persistence.logRewriteMinBytes,
      snapshotChunkEntries: config.persistence.snapshotChunkEntries,
      store,
      log,
    }, report);
  } catch (error) {
    lock?.release();
    if (error instanceof DataDirError) throw error;
    const message = unwritableDataDirMessage(dir, error);
    throw message === null ? error : new DataDirError(message, { cause: error });
  }
}

/**
 * The pause between recovery files: long enough for the event loop to take a waiting HTTP
 * request through accept, parse and answer (2 to 9 ms measured; a bare setTimeout(0) is not:
 * the timer comes back before the request is parsed). A data directory holds a handful of
 * files, so this adds tens of milliseconds to a start.
 */
const RECOVERY_PAUSE_MS = 20;

/** Runs the recovery steps with a pause between them: timers and sockets get their turns. */
async function recoverTurningTheLoop(
  dir: string,
  store: ChangeLogContext["store"],
  log: ChangeLogContext["log"],
): Promise<RecoveryReport> {
  const steps = recoverDataDirInSteps(dir, store, log);
  for (;;) {
    // Before the first file too: listeners started just before get to accept.
    await new Promise((resolve) => setTimeout(resolve, RECOVERY_PAUSE_MS));
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** One process per data directory (see dir_lock.ts): a second node stops here. */
function lockOrThrow(dir: string): DirLock {
  const result = tryLockDir(dir);
  if (result.kind === "locked") return result.lock;
  const holder = result.holderPid === null ? "pid not written yet" : `pid ${result.holderPid}`;
  throw new DataDirError(
    `Cannot start: data directory ${path.resolve(dir)} is in use by another merklekv node ` +
      `(${holder}), which holds the lock on ${result.lockPath}; stop that node, or set ` +
      `data_dir to another directory`,
  );
}
