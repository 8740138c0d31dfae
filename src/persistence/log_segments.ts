/**
 * The open segments of the node's log (I/O edge): the current one, which takes every append,
 * and older ones kept open until the snapshot that covers them is on disk. Knows which of them
 * hold bytes not yet synced; DurableLog decides when they are synced.
 */

import type { RecoveryReport } from "./recovery.ts";
import { LogSegment } from "./log_file.ts";

export class LogSegments {
  readonly #dir: string;
  readonly #preallocates: boolean;
  /** Whether a retired segment's unsynced bytes still get an fdatasync (not under "no"). */
  readonly #syncsRetired: boolean;
  /** The segment appends go to. */
  #current: LogSegment;
  /** Earlier segments kept open until the snapshot that covers them is on disk. */
  #retired: LogSegment[] = [];
  /** Bytes of segments older than the current one that no snapshot covers yet. */
  #olderBytes: number;
  /** Segments with bytes written since their last fdatasync. */
  readonly #dirty = new Set<LogSegment>();
  /** The segments of the fdatasync under way: their bytes are pending until it completes. */
  #syncing: readonly LogSegment[] = [];

  /**
   * Continues the newest recovered segment, or starts the first one. `preallocates`: write
   * zeros ahead of the records; `syncsRetired`: see #syncsRetired.
   */
  constructor(dir: string, report: RecoveryReport, preallocates: boolean, syncsRetired: boolean) {
    this.#dir = dir;
    this.#preallocates = preallocates;
    this.#syncsRetired = syncsRetired;
    const newest = report.logs.at(-1);
    const current = newest !== undefined
      ? LogSegment.reopen(dir, newest.sequence, newest.bytes, preallocates)
      : LogSegment.create(dir, Math.max(report.snapshot?.sequence ?? 1, 1), preallocates);
    this.#current = current;
    this.#olderBytes = report.logs
      .filter((log) => log.sequence !== current.sequence)
      .reduce((total, log) => total + log.bytes, 0);
  }

  get current(): LogSegment {
    return this.#current;
  }

  /** Bytes of every segment no snapshot covers yet. */
  get bytes(): number {
    return this.#olderBytes + this.#current.size;
  }

  /** Bytes written and not yet synced, in segments due for an fdatasync or in one now. */
  get pendingBytes(): number {
    let pending = 0;
    for (const segment of new Set([...this.#dirty, ...this.#syncing])) {
      pending += segment.unsyncedBytes;
    }
    return pending;
  }

  get hasUnsynced(): boolean {
    return this.#dirty.size > 0;
  }

  /** Appends to the current segment (throws SegmentWriteError). */
  write(bytes: Uint8Array): void {
    this.#current.write(bytes);
    this.#dirty.add(this.#current);
  }

  /** The segments an fdatasync starting now covers; pending until syncEnded(). */
  startSync(): readonly LogSegment[] {
    const segments = [...this.#dirty];
    this.#dirty.clear();
    this.#syncing = segments;
    return segments;
  }

  syncEnded(): void {
    this.#syncing = [];
  }

  /**
   * Starts a new segment unless the current one is empty and sound. Returns the number of the
   * segment that takes appends from now on: a snapshot of that number covers every one below.
   */
  rotate(): number {
    const current = this.#current;
    if (!current.hasRecords && !current.broken) return current.sequence;
    const next = LogSegment.create(this.#dir, current.sequence + 1, this.#preallocates);
    this.#olderBytes += current.size;
    this.#retired.push(current);
    this.#current = next;
    if (this.#syncsRetired && current.unsyncedBytes > 0) this.#dirty.add(current);
    return next.sequence;
  }

  /** Closes the retired segments below `sequence` (a snapshot on disk covers them). */
  async releaseBelow(sequence: number): Promise<void> {
    const covered = this.#retired.filter((segment) => segment.sequence < sequence);
    this.#retired = this.#retired.filter((segment) => segment.sequence >= sequence);
    for (const segment of covered) {
      this.#dirty.delete(segment);
      await segment.close(false);
    }
    this.#olderBytes = 0;
  }

  /** Closes every segment, syncing the sound ones; tells `failed` of each that fails. */
  async closeAll(failed: (segment: LogSegment, error: unknown) => void): Promise<void> {
    for (const segment of [...this.#retired, this.#current]) {
      try {
        await segment.close(!segment.broken);
      } catch (error) {
        failed(segment, error);
      }
    }
  }
}
