/**
 * SNAPSHOT (see docs/backup.md): the whole store written into one self-contained snapshot file,
 * backup.<unix-ms>.snapshot in the data directory, the way the compactor writes snapshot.<N>
 * (a slice at a time, clients served between slices). One backup at a time.
 */

import * as path from "node:path";
import type { Logger } from "../log.ts";
import { ProgressMeter } from "../progress.ts";
import { SEGMENT_COUNT, type Store } from "../store/mod.ts";
import { backupPath, describeFsError } from "./data_dir.ts";
import { SnapshotWriter } from "./snapshot_file.ts";
import { writeStoreInSlices } from "./snapshot_slices.ts";

export type BackupResult = { ok: true; path: string } | { ok: false; error: string };

export interface BackupOptions {
  dir: string;
  snapshotChunkEntries: number;
  store: Store;
  log: Logger;
  /** The clock of the progress lines (tests pass a fake one); default performance.now. */
  progressNowMs?: () => number;
}

export class Backups {
  readonly #options: BackupOptions;
  #running: string | null = null;
  #task: Promise<BackupResult> | null = null;
  #closing = false;

  constructor(options: BackupOptions) {
    this.#options = options;
  }

  /**
   * Writes a backup of every entry the store holds now (a key written meanwhile may appear with
   * its newer version) and resolves once the file is on disk, renamed and its directory synced.
   */
  write(): Promise<BackupResult> {
    if (this.#running !== null) {
      return Promise.resolve({
        ok: false,
        error: `a backup is already being written (${this.#running}); try again when it ends`,
      });
    }
    if (this.#closing) return Promise.resolve({ ok: false, error: "the node is shutting down" });
    this.#task = this.#write().finally(() => this.#task = null);
    return this.#task;
  }

  async #write(): Promise<BackupResult> {
    const { dir, store, log } = this.#options;
    const startedAtMs = store.nowMs();
    const file = path.resolve(backupPath(dir, startedAtMs));
    this.#running = file;
    let writer: SnapshotWriter | null = null;
    try {
      writer = SnapshotWriter.createAt(dir, file, {
        createdAtMs: startedAtMs,
        hlc: store.hlc.last,
      });
      const progress = new ProgressMeter(this.#options.progressNowMs ?? (() => performance.now()));
      const started = writer;
      await writeStoreInSlices(writer, store, {
        maxSliceEntries: this.#options.snapshotChunkEntries,
        cancelled: () => this.#closing,
        onSlice: (done) => {
          const fields = progress.report(started.entries, done, SEGMENT_COUNT);
          if (fields !== null) log.info("backup_progress", { file, ...fields });
        },
      });
      const summary = await writer.commit();
      writer = null;
      log.info("backup_written", {
        file,
        entries: summary.entries,
        bytes: summary.bytes,
        duration_ms: store.nowMs() - startedAtMs,
      });
      return { ok: true, path: file };
    } catch (error) {
      writer?.abort();
      const message = describeFsError(error);
      log.error("backup_failed", { file, message });
      return { ok: false, error: `backup ${file} failed: ${message}` };
    } finally {
      this.#running = null;
    }
  }

  /** Stops a backup under way between slices (it answers ERROR); no new one starts. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#task;
  }
}
