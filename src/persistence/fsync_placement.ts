/**
 * Where an fdatasync under `fsync = "always"` runs (see docs/durability.md, fsync policies). Pure:
 * the caller passes the time and what each fdatasync took.
 *
 * On the event loop's thread, as Redis's does, a batch of at most ON_LOOP_MAX_RECORDS records
 * costs no hop to a worker thread, and the writes of every connection in the next turn share
 * the next fdatasync. A larger batch is synced in the background, while the loop runs the next
 * turn, which then takes longer than the fdatasync. So is every batch while fdatasyncs on the
 * loop take more than ON_LOOP_MEAN_MAX_MS on average (a moving average, each new one weighing
 * ON_LOOP_WEIGHT), so that reads go on while the disk is slow: for BACKOFF_MS, doubled after
 * each slow try up to MAX_BACKOFF_MS.
 */

export const ON_LOOP_MAX_RECORDS = 256;
export const ON_LOOP_MEAN_MAX_MS = 1;
const ON_LOOP_WEIGHT = 1 / 8;
export const BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 60_000;

export class FsyncPlacement {
  #backgroundUntilMs = 0;
  #backoffMs = BACKOFF_MS;
  /** The moving average of fdatasyncs on the loop since they last came back to it. */
  #meanMs = 0;
  /** What the last fdatasync on the loop took, in µs, and how many ran there (for INFO). */
  lastOnLoopUs = 0;
  onLoopCount = 0;

  /** Whether fdatasyncs may run on the loop now (batches small enough do). */
  onLoopAllowed(nowMs: number): boolean {
    return nowMs >= this.#backgroundUntilMs;
  }

  /** Whether the fdatasync of a batch of `records` records runs on the loop now. */
  onLoop(records: number, nowMs: number): boolean {
    return records <= ON_LOOP_MAX_RECORDS && this.onLoopAllowed(nowMs);
  }

  /**
   * An fdatasync on the loop took `ms`, ending at `nowMs`. Returns how long fdatasyncs now go
   * to the background (ms), or 0 when they stay on the loop.
   */
  tookOnLoop(ms: number, nowMs: number): number {
    this.lastOnLoopUs = Math.round(ms * 1000);
    this.onLoopCount++;
    this.#meanMs += (ms - this.#meanMs) * ON_LOOP_WEIGHT;
    if (this.#meanMs <= ON_LOOP_MEAN_MAX_MS) {
      if (ms <= ON_LOOP_MEAN_MAX_MS) this.#backoffMs = BACKOFF_MS;
      return 0;
    }
    const backoffMs = this.#backoffMs;
    this.#backgroundUntilMs = nowMs + backoffMs;
    this.#backoffMs = Math.min(2 * backoffMs, MAX_BACKOFF_MS);
    this.#meanMs = 0;
    return backoffMs;
  }
}
