/**
 * Durability (see README, Durability): the append-only log, snapshots and recovery. The node
 * calls openChangeLog once at start-up; it returns after the store holds what the disk holds.
 */

import * as fs from "node:fs";
import type { ChangeLog, PartContext } from "../node/components.ts";
import { DurableLog } from "./change_log.ts";
import { unwritableDataDirMessage } from "./data_dir.ts";
import { recoverDataDir } from "./recovery.ts";

export { RecoveryError } from "./recovery.ts";

/** The data directory cannot be written (read-only, not permitted, full): the node cannot start. */
export class DataDirError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataDirError";
  }
}

/** Opens the data directory and recovers the store from it; null when data_dir is unset. */
export function openChangeLog(context: PartContext): Promise<ChangeLog | null> {
  const { config, store, log } = context;
  const dir = config.dataDir;
  if (dir === null) return Promise.resolve(null);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const report = recoverDataDir(dir, store, log);
    log.info("persistence_loaded", {
      dir,
      snapshot: report.snapshot?.path ?? "none",
      snapshot_entries: report.snapshot?.entries ?? 0,
      log_segments: report.logs.length,
      entries_read: report.entriesRead,
      keys: store.countLive(),
      duration_ms: report.durationMs,
    });
    return Promise.resolve(DurableLog.open({
      dir,
      policy: config.fsync,
      logRewriteMinBytes: config.persistence.logRewriteMinBytes,
      snapshotChunkEntries: config.persistence.snapshotChunkEntries,
      store,
      log,
    }, report));
  } catch (error) {
    const message = unwritableDataDirMessage(dir, error);
    return Promise.reject(message === null ? error : new DataDirError(message, { cause: error }));
  }
}
