/**
 * The compactor of the node's log (see docs/durability.md, Snapshots): decides when the log is
 * rewritten, has the log rotate to a new segment, writes the store into a snapshot a slice at a
 * time, then removes the segments and snapshots the new one covers. While the log refuses
 * writes (a full disk), it retries the snapshot that ends the refusal.
 *
 * It holds no segment: what it needs of the log is CompactedLog, and the log tells it of its
 * size and failures through logWritten() and logFailed().
 */

import * as fs from "node:fs";
import type { InfoField } from "../protocol/mod.ts";
import type { Logger } from "../log.ts";
import type { Store } from "../store/mod.ts";
import {
  describeFsError,
  listDataDir,
  logPath,
  snapshotPath,
  syncDirectoryInBackground,
} from "./data_dir.ts";
import type { RecoveredSnapshot } from "./recovery.ts";
import { SnapshotWriter } from "./snapshot_file.ts";
import { SnapshotCancelled, writeStoreInSlices } from "./snapshot_slices.ts";

/** While the log refuses writes, a snapshot that would end the refusal is tried this often. */
const ERROR_RETRY_INTERVAL_MS = 1000;
/** After a failed compaction (the log itself still fine), the next try waits this long. */
const SNAPSHOT_RETRY_DELAY_MS = 10_000;

export interface CompactorOptions {
  dir: string;
  logRewriteMinBytes: number;
  snapshotChunkEntries: number;
  store: Store;
  log: Logger;
}

/** What the compactor asks of the log it compacts; the log owns every segment. */
export interface CompactedLog {
  /**
   * Writes the changes of the turn so far, then starts a new segment unless the current one is
   * empty and sound. Returns the snapshot's number: it covers every segment below it, and every
   * later change goes to a segment at or above it.
   */
  rotate(): number;
  /** The snapshot `sequence` is on disk: closes the segments it covers (the files stay). */
  releaseCovered(sequence: number): Promise<void>;
  /**
   * The snapshot begun at the last rotate() is on disk: ends the refusal of writes, unless a
   * write or sync failed since that rotate().
   */
  snapshotWritten(): void;
  /** Why the log refuses writes, or null. */
  writeError(): string | null;
}

interface SnapshotInfo {
  atMs: number;
  entries: number;
  bytes: number;
  durationMs: number;
}

export class Compactor {
  readonly #options: CompactorOptions;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #target: CompactedLog;
  #task: Promise<void> | null = null;
  #lastSnapshot: SnapshotInfo | null;
  #lastSnapshotError: string | null = null;
  #snapshotsTaken = 0;
  #nextSnapshotAtMs = 0;
  #retryTimer: ReturnType<typeof setInterval> | null = null;
  #closing = false;

  constructor(
    options: CompactorOptions,
    target: CompactedLog,
    recovered: RecoveredSnapshot | null,
  ) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.log;
    this.#target = target;
    this.#lastSnapshot = recovered === null ? null : {
      atMs: recovered.createdAtMs,
      entries: recovered.entries,
      bytes: recovered.bytes,
      durationMs: 0,
    };
  }

  /**
   * The log holds `logBytes` now. The rewrite rule (see docs/durability.md, Snapshots): compact
   * once the log holds at least logRewriteMinBytes and at least twice the bytes of the last
   * snapshot.
   */
  logWritten(logBytes: number): void {
    const threshold = Math.max(
      this.#options.logRewriteMinBytes,
      2 * (this.#lastSnapshot?.bytes ?? 0),
    );
    if (logBytes >= threshold) this.#start();
  }

  /** The log began refusing writes: only a snapshot ends that, so try one now and every second. */
  logFailed(): void {
    this.#nextSnapshotAtMs = 0;
    this.#retryTimer ??= setInterval(() => this.#retry(), ERROR_RETRY_INTERVAL_MS);
  }

  /** Starts a snapshot now unless one runs (for tests and tools); resolves when it ends. */
  snapshotNow(): Promise<void> {
    this.#start();
    return this.#task ?? Promise.resolve();
  }

  /** Starts no more snapshots from now on; resolves once the one under way has stopped. */
  close(): Promise<void> {
    this.#closing = true;
    this.#stopRetrying();
    return this.#task ?? Promise.resolve();
  }

  infoFields(): InfoField[] {
    const last = this.#lastSnapshot;
    return [
      ["persistence_snapshot_in_progress", this.#task === null ? 0 : 1],
      ["persistence_snapshots", this.#snapshotsTaken],
      ["persistence_last_snapshot_unix_ms", last?.atMs ?? 0],
      ["persistence_last_snapshot_entries", last?.entries ?? 0],
      ["persistence_last_snapshot_bytes", last?.bytes ?? 0],
      ["persistence_last_snapshot_duration_ms", last?.durationMs ?? 0],
      ["persistence_last_snapshot_error", this.#lastSnapshotError ?? "none"],
    ];
  }

  #retry(): void {
    if (this.#target.writeError() === null) {
      this.#stopRetrying();
      return;
    }
    this.#start();
  }

  #stopRetrying(): void {
    if (this.#retryTimer !== null) clearInterval(this.#retryTimer);
    this.#retryTimer = null;
  }

  #start(): void {
    if (this.#task !== null || this.#closing) return;
    if (this.#store.nowMs() < this.#nextSnapshotAtMs) return;
    this.#task = this.#snapshot().finally(() => this.#task = null);
  }

  /**
   * Rotate to a new segment, write the store a slice at a time into snapshot.<new>.tmp, then
   * commit it and remove what it covers. Changes made meanwhile go to the new segment, which
   * recovery replays over the snapshot (the merge makes replaying twice harmless).
   */
  async #snapshot(): Promise<void> {
    const startedMs = performance.now();
    const startedAtMs = this.#store.nowMs();
    let writer: SnapshotWriter | null = null;
    try {
      const sequence = this.#target.rotate();
      writer = SnapshotWriter.create(this.#options.dir, sequence, {
        createdAtMs: startedAtMs,
        hlc: this.#store.hlc.last,
      });
      await writeStoreInSlices(writer, this.#store, {
        maxSliceEntries: this.#options.snapshotChunkEntries,
        cancelled: () => this.#closing,
      });
      const summary = await writer.commit();
      writer = null;
      await this.#target.releaseCovered(sequence);
      await this.#removeCovered(sequence);
      this.#snapshotsTaken++;
      this.#lastSnapshotError = null;
      this.#lastSnapshot = {
        atMs: startedAtMs,
        entries: summary.entries,
        bytes: summary.bytes,
        durationMs: Math.round(performance.now() - startedMs),
      };
      this.#log.info("snapshot_written", {
        file: summary.path,
        entries: summary.entries,
        bytes: summary.bytes,
        duration_ms: this.#lastSnapshot.durationMs,
      });
      this.#target.snapshotWritten();
      if (this.#target.writeError() === null) this.#stopRetrying();
    } catch (error) {
      writer?.abort();
      if (error instanceof SnapshotCancelled) return;
      this.#failed(error);
    }
  }

  #failed(error: unknown): void {
    this.#lastSnapshotError = describeFsError(error);
    const failing = this.#target.writeError() !== null;
    const delayMs = failing ? ERROR_RETRY_INTERVAL_MS : SNAPSHOT_RETRY_DELAY_MS;
    this.#nextSnapshotAtMs = this.#store.nowMs() + delayMs;
    this.#log.error("snapshot_failed", { message: this.#lastSnapshotError });
  }

  /** Removes the segment files and snapshots below `sequence` (the log has closed them). */
  async #removeCovered(sequence: number): Promise<void> {
    const dir = this.#options.dir;
    try {
      const listing = listDataDir(dir);
      for (const old of listing.logs) if (old < sequence) fs.rmSync(logPath(dir, old));
      for (const old of listing.snapshots) if (old < sequence) fs.rmSync(snapshotPath(dir, old));
      await syncDirectoryInBackground(dir);
    } catch (error) {
      // Harmless for correctness: start-up removes what a snapshot covers.
      this.#log.warn("snapshot_cleanup_failed", { message: describeFsError(error) });
    }
  }
}
