/**
 * Progress of a long operation (recovery, SNAPSHOT, import): at most one line per interval,
 * with what is done, the percent of the total and the rate. Time is passed in (`nowMs`), so
 * tests drive it with a fake clock; the caller logs what report() returns.
 */

import type { LogFields } from "./log.ts";

/** Long operations log progress this often (see docs/backup.md, Progress). */
export const PROGRESS_INTERVAL_MS = 1000;

export class ProgressMeter {
  readonly #nowMs: () => number;
  readonly #intervalMs: number;
  readonly #startedMs: number;
  #lastReportMs: number;

  constructor(nowMs: () => number, intervalMs: number = PROGRESS_INTERVAL_MS) {
    this.#nowMs = nowMs;
    this.#intervalMs = intervalMs;
    this.#startedMs = nowMs();
    this.#lastReportMs = this.#startedMs;
  }

  /**
   * The fields of a progress line when an interval has passed since the last one, else null.
   * `entries` done so far; `done` of `total` (bytes or entries) gives the percent.
   */
  report(entries: number, done: number, total: number): LogFields | null {
    const nowMs = this.#nowMs();
    if (nowMs - this.#lastReportMs < this.#intervalMs) return null;
    this.#lastReportMs = nowMs;
    const elapsedMs = Math.max(nowMs - this.#startedMs, 1);
    return {
      entries,
      percent: total <= 0 ? 100 : Math.min(100, Math.floor((done / total) * 1000) / 10),
      entries_per_second: Math.round((entries * 1000) / elapsedMs),
      elapsed_ms: Math.round(elapsedMs),
    };
  }
}
