/**
 * The node's ChangeLog (see docs/durability.md): writes the changes of each event-loop turn to
 * the current log segment at the turn's end (one writeSync), then lets the replies of their
 * writes go and hands the node's own changes to replication, after an fdatasync under "always"
 * (group commit). Refuses writes while the disk does not take them, until a snapshot has put
 * everything in memory on disk again.
 *
 * Its segments are held by LogSegments (log_segments.ts). Its Compactor (compactor.ts) writes
 * the snapshots: the log tells it its size after each turn and its first failure; the
 * compactor asks it to rotate to a new segment and to close the segments a snapshot covers.
 */

import { FSYNC_BOUNDS_SECONDS, Histogram } from "../metrics/mod.ts";
import type { FsyncPolicy } from "../config/mod.ts";
import type { ChangeLog, ChangePublisher } from "./mod.ts";
import type { InfoField } from "../protocol/mod.ts";
import type { LogWaiter } from "../server/mod.ts";
import type { Logger } from "../log.ts";
import type { Entry, Store } from "../store/mod.ts";
import { type BackupResult, Backups } from "./backup.ts";
import { Compactor, type CompactorOptions } from "./compactor.ts";
import { describeFsError } from "./data_dir.ts";
import type { DirLock } from "./dir_lock.ts";
import { type LogSegment, SegmentWriteError } from "./log_file.ts";
import { LogSegments } from "./log_segments.ts";
import { encodeRecords } from "./record_codec.ts";
import type { RecoveryReport } from "./recovery.ts";
import { FsyncPlacement } from "./fsync_placement.ts";
import { assert } from "../assert.ts";

/** "everysec": the interval of the background fdatasync. */
const EVERYSEC_INTERVAL_MS = 1000;

/** Changes to hand to a publisher once the log holds them. */
interface Publication {
  readonly publisher: ChangePublisher;
  readonly changes: readonly Entry[];
}

export interface DurableLogOptions extends CompactorOptions {
  policy: FsyncPolicy;
  /** The data directory's lock (dir_lock.ts), released once close() has closed every file. */
  dirLock: DirLock;
}

export class DurableLog implements ChangeLog {
  readonly #options: DurableLogOptions;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #segments: LogSegments;
  /** Changes appended in this event-loop turn, and who waits for them: written at its end. */
  #turnChanges: Entry[] = [];
  #turnWaiters: LogWaiter[] = [];
  #turnPublications: Publication[] = [];
  #turnEnd: ReturnType<typeof setImmediate> | null = null;
  /** "always": waiters whose changes are written, for the next fdatasync. */
  #syncWaiters: LogWaiter[] = [];
  /** "always": publications whose changes are written, for the next fdatasync. */
  #syncPublications: Publication[] = [];
  #syncInFlight: Promise<void> | null = null;
  #everysecTimer: ReturnType<typeof setInterval> | null = null;
  #closing = false;
  readonly #compactor: Compactor;
  readonly #backups: Backups;

  // Failure state (see docs/durability.md, Disk full).
  #error: string | null = null;
  /** Changes are kept in memory only until the next snapshot (the log missed some). */
  #needsSnapshot = false;
  /** Every write or sync failure: a snapshot clears the error only if none came since. */
  #writeFailures = 0;
  /** #writeFailures at the last rotate(), when the snapshot under way began. */
  #failuresAtRotate = 0;
  #unloggedEntries = 0;

  // Counters for INFO.
  #lastFsyncAtMs = 0;
  #fsyncs = 0;
  /** "always": whether the next fdatasync runs on the event loop (times: performance.now()). */
  readonly #placement = new FsyncPlacement();
  readonly fsyncDurationHistogram = new Histogram(FSYNC_BOUNDS_SECONDS);
  /** Records written since the last fdatasync started. */
  #unsyncedRecords = 0;
  readonly #recovery: RecoveryReport;

  private constructor(options: DurableLogOptions, report: RecoveryReport) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.log;
    this.#recovery = report;
    // Zeros ahead of the records make fdatasync cheaper; only "always" syncs often enough.
    const always = options.policy === "always";
    this.#segments = new LogSegments(options.dir, report, always, options.policy !== "no");
    // Closures, not `this`: the compactor sees only CompactedLog.
    this.#compactor = new Compactor(options, {
      rotate: () => this.#rotate(),
      releaseCovered: (sequence) => this.#segments.releaseBelow(sequence),
      snapshotWritten: () => this.#snapshotWritten(),
      writeError: () => this.#error,
    }, report.snapshot);
    this.#backups = new Backups(options);
    if (options.policy === "everysec") {
      this.#everysecTimer = setInterval(() => this.#syncInBackground(), EVERYSEC_INTERVAL_MS);
    }
  }

  /** Continues the newest recovered segment, or starts the first one. */
  static open(options: DurableLogOptions, report: RecoveryReport): DurableLog {
    const changeLog = new DurableLog(options, report);
    changeLog.#compactor.logWritten(changeLog.#segments.bytes);
    return changeLog;
  }

  append(changes: readonly Entry[], publisher?: ChangePublisher): void {
    if (changes.length === 0) return;
    if (this.#needsSnapshot || this.#closing) {
      // Kept in memory; the snapshot that ends the refusal writes them (docs/durability.md, Disk
      // full). There is no write to wait for.
      this.#unloggedEntries += changes.length;
      publisher?.publish(changes);
      return;
    }
    for (const change of changes) this.#turnChanges.push(change);
    if (publisher !== undefined) this.#turnPublications.push({ publisher, changes });
    this.#scheduleTurnEnd();
  }

  whenLogged(waiter: LogWaiter): void {
    this.#turnWaiters.push(waiter);
    this.#scheduleTurnEnd();
  }

  writeError(): string | null {
    return this.#error;
  }

  infoFields(): InfoField[] {
    return [
      ["persistence", "on"],
      ["persistence_fsync", this.#options.policy],
      ["persistence_status", this.#error === null ? "ok" : "error"],
      ["persistence_error", this.#error ?? "none"],
      ["persistence_write_failures", this.#writeFailures],
      ["persistence_unlogged_entries", this.#unloggedEntries],
      ["persistence_fsyncs", this.#fsyncs],
      ["persistence_last_fsync_unix_ms", this.#lastFsyncAtMs],
      ["persistence_fsync_on_loop", this.#onLoopAllowed() ? 1 : 0],
      ["persistence_fsyncs_on_loop", this.#placement.onLoopCount],
      ["persistence_last_on_loop_fsync_us", this.#placement.lastOnLoopUs],
      ["persistence_pending_bytes", this.#segments.pendingBytes],
      ["persistence_log_bytes", this.#segments.bytes],
      ["persistence_log_segment", this.#segments.current.sequence],
      ...this.#compactor.infoFields(),
      ["persistence_recovery_ms", this.#recovery.durationMs],
      ["persistence_recovered_entries", this.#recovery.entriesRead],
      ["persistence_tail_cuts", this.#recovery.logs.filter((log) => log.cut !== null).length],
    ];
  }

  /** SNAPSHOT: a backup file of the whole store (see backup.ts). */
  backup(): Promise<BackupResult> {
    return this.#backups.write();
  }

  /** Starts a snapshot now unless one runs (for tests and tools); resolves when it ends. */
  snapshotNow(): Promise<void> {
    return this.#compactor.snapshotNow();
  }

  async close(): Promise<void> {
    this.#closing = true;
    const compacted = Promise.all([this.#compactor.close(), this.#backups.close()]);
    // What this turn appended is written first; under "always" its waiters join the last sync.
    if (this.#turnEnd !== null) clearImmediate(this.#turnEnd);
    this.#turnEnd = null;
    this.#endTurn();
    if (this.#everysecTimer !== null) clearInterval(this.#everysecTimer);
    await compacted;
    await this.#syncInFlight;
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    const publications = this.#syncPublications;
    this.#syncPublications = [];
    let failure: unknown = null;
    try {
      await this.#segments.closeAll((segment, error) => {
        failure = error;
        this.#log.error("log_close_failed", {
          file: segment.path,
          message: describeFsError(error),
        });
      });
    } finally {
      this.#options.dirLock.release();
    }
    const error = failure === null ? this.#error : this.#error ?? describeFsError(failure);
    publish(publications);
    for (const waiter of waiters) waiter.logged(error);
    // Waiters that came after close() began: their changes were not logged (see append()).
    for (const waiter of this.#turnWaiters) waiter.logged("the log is closed");
    this.#turnWaiters = [];
  }

  // -------------------------------------------------------------------------------------------
  // The end of a turn: write, then fsync (group commit)

  #scheduleTurnEnd(): void {
    if (this.#turnEnd !== null || this.#closing) return;
    // Deno runs immediates after the I/O callbacks of a loop turn: every connection's chunk of
    // this turn is in by then.
    this.#turnEnd = setImmediate(() => {
      this.#turnEnd = null;
      this.#endTurn();
    });
  }

  /**
   * Writes the turn's changes with one writeSync, then tells the turn's waiters, or under
   * "always" hands them to the next fdatasync, which starts now unless one runs.
   */
  #endTurn(): void {
    const waiters = this.#turnWaiters;
    const publications = this.#turnPublications;
    this.#turnWaiters = [];
    this.#turnPublications = [];
    this.#writeTurnChanges();
    this.#compactor.logWritten(this.#segments.bytes);
    const always = this.#options.policy === "always";
    if (this.#error !== null || !always) {
      publish(publications);
      for (const waiter of waiters) waiter.logged(this.#error);
    } else {
      for (const waiter of waiters) this.#syncWaiters.push(waiter);
      for (const publication of publications) this.#syncPublications.push(publication);
    }
    if (!always || this.#syncInFlight !== null || this.#closing) return;
    if (this.#segments.hasUnsynced) this.#runSync();
    else this.#releaseSynced();
  }

  /**
   * "always", nothing written since the last fdatasync and none under way: what the sync
   * waiters wait for is on disk (whenLogged() with no change of its own, a SYNC GET's reply).
   */
  #releaseSynced(): void {
    const waiters = this.#syncWaiters;
    const publications = this.#syncPublications;
    this.#syncWaiters = [];
    this.#syncPublications = [];
    publish(publications);
    for (const waiter of waiters) waiter.logged(this.#error);
  }

  #writeTurnChanges(): void {
    const changes = this.#turnChanges;
    if (changes.length === 0) return;
    this.#turnChanges = [];
    if (this.#needsSnapshot) {
      // A write or sync failed since they were appended: memory keeps them (see append()).
      this.#unloggedEntries += changes.length;
      return;
    }
    try {
      this.#segments.write(encodeRecords(changes).bytes);
    } catch (error) {
      this.#unloggedEntries += changes.length;
      this.#fail(
        error instanceof SegmentWriteError ? error.cause : error,
        `writing ${this.#segments.current.path}`,
      );
      return;
    }
    this.#unsyncedRecords += changes.length;
  }

  /** "everysec": sync what was written unless a sync is already under way. */
  #syncInBackground(): void {
    if (!this.#segments.hasUnsynced || this.#syncInFlight !== null || this.#closing) return;
    this.#runSync();
  }

  /** "always", and no slow fdatasync on the loop lately. */
  #onLoopAllowed(): boolean {
    return this.#options.policy === "always" && this.#placement.onLoopAllowed(performance.now());
  }

  /** Runs the fdatasyncs of `segments` on the loop, and backs off while they are slow. */
  #syncOnLoop(segments: readonly LogSegment[]): Promise<void>[] {
    const started = performance.now();
    const syncs = segments.map((segment) => segment.syncData(true));
    const ended = performance.now();
    const backgroundMs = this.#placement.tookOnLoop(ended - started, ended);
    if (backgroundMs > 0) this.#log.warn("fsync_slow", { background_for_ms: backgroundMs });
    return syncs;
  }

  /** fdatasync of every dirty segment; then tells the waiters whose changes it covers. */
  #runSync(): void {
    const waiters = this.#syncWaiters;
    const publications = this.#syncPublications;
    this.#syncWaiters = [];
    this.#syncPublications = [];
    const segments = this.#segments.startSync();
    const startedAt = performance.now();
    const onLoop = this.#options.policy === "always" &&
      segments.every((segment) => segment.canSyncOnLoop) &&
      this.#placement.onLoop(this.#unsyncedRecords, performance.now());
    const syncs = onLoop
      ? this.#syncOnLoop(segments)
      : segments.map((segment) => segment.syncData());
    this.#unsyncedRecords = 0;
    const syncing = Promise.allSettled(syncs).then(
      (results) => {
        const failed = results.findIndex((result) => result.status === "rejected");
        const failure = results[failed]; // undefined at -1: none failed
        if (failure?.status === "rejected") {
          const segment = segments[failed];
          assert(segment !== undefined, "allSettled() gives one result per segment synced");
          segment.broken = true;
          const reason = failure.reason;
          this.#fail(reason, `syncing ${segment.path}`);
          const error = this.#error ?? describeFsError(reason);
          // Memory keeps them until a snapshot writes them; anti-entropy would spread them too.
          publish(publications);
          for (const waiter of waiters) waiter.logged(error);
          return;
        }
        if (segments.length > 0) {
          this.#lastFsyncAtMs = this.#store.nowMs();
          this.#fsyncs++;
          this.fsyncDurationHistogram.observe((performance.now() - startedAt) / 1000);
        }
        // After a failure on a segment, a later successful fsync proves nothing for it.
        const broken = segments.find((segment) => segment.broken);
        const error = broken === undefined
          ? null
          : this.#error ?? `log ${broken.path} failed before`;
        publish(publications);
        for (const waiter of waiters) waiter.logged(error);
      },
    ).finally(() => {
      this.#syncInFlight = null;
      this.#segments.syncEnded();
      // The changes written meanwhile get the next fdatasync, at the end of this turn: the
      // replies just released bring more requests to share it.
      if (this.#syncWaiters.length > 0 || this.#segments.hasUnsynced) this.#scheduleTurnEnd();
    });
    this.#syncInFlight = syncing;
  }

  // -------------------------------------------------------------------------------------------
  // Failures

  /** A write or sync failed: refuse writes until a snapshot has put memory on disk again. */
  #fail(error: unknown, what: string): void {
    const message = `${describeFsError(error)} ${what}`;
    this.#writeFailures++;
    this.#needsSnapshot = true;
    this.#segments.current.broken = true;
    this.#log.error("persistence_write_failed", { message });
    if (this.#error !== null || this.#closing) return;
    this.#error = message;
    this.#compactor.logFailed();
  }

  // -------------------------------------------------------------------------------------------
  // What the compactor asks of the log (CompactedLog)

  /** See CompactedLog.rotate(). */
  #rotate(): number {
    this.#failuresAtRotate = this.#writeFailures;
    // The turn's changes go to the segment before the snapshot's; their waiters stay.
    this.#writeTurnChanges();
    const sequence = this.#segments.rotate();
    // From here on the current segment takes every change; the snapshot covers all before it.
    this.#needsSnapshot = false;
    return sequence;
  }

  /** A snapshot holds all memory held at the last rotate(): the refusal ends, if none since. */
  #snapshotWritten(): void {
    if (this.#error === null || this.#writeFailures !== this.#failuresAtRotate) return;
    this.#log.info("persistence_recovered_from_error", {
      error: this.#error,
      unlogged_entries: this.#unloggedEntries,
    });
    this.#error = null;
    this.#unloggedEntries = 0;
  }
}

/**
 * Hands the changes on, then has each publisher send them at once (they are a turn's). Before
 * the waiters are told: a waiter's connection runs its next lines then, which would delay them.
 */
function publish(publications: readonly Publication[]): void {
  if (publications.length === 0) return;
  for (const { publisher, changes } of publications) publisher.publish(changes);
  const publishers = new Set(publications.map((publication) => publication.publisher));
  for (const publisher of publishers) publisher.flush();
}
