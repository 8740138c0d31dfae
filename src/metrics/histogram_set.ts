/**
 * Histograms that share their bounds, one per small integer label (a command kind): bucket
 * counts of all of them in one Float64Array, so that a batch of observations of one duration
 * finds its bucket once and costs one increment each (see docs/observability.md, Command
 * durations). Pure: the caller measures, this counts.
 */

import { assertAscending, bucketOf } from "./histogram.ts";

export class HistogramSet {
  /** Upper bounds in seconds, ascending; above the last goes in the bucket after it. */
  readonly bounds: readonly number[];
  /** How many histograms: indexes 0 .. size - 1. */
  readonly size: number;
  /** Observations per bucket, not cumulative: histogram i holds [i * stride, (i + 1) * stride). */
  readonly counts: Float64Array;
  /** Sum of the observations, per histogram. */
  readonly sums: Float64Array;
  readonly #stride: number;

  constructor(bounds: readonly number[], size: number) {
    assertAscending(bounds);
    this.bounds = bounds;
    this.size = size;
    this.#stride = bounds.length + 1;
    this.counts = new Float64Array(size * this.#stride);
    this.sums = new Float64Array(size);
  }

  /**
   * One observation of `seconds` for each of `indexes[0 .. count)` (an index may repeat; an
   * index outside 0 .. size - 1 is a bug of the caller and is not counted).
   */
  observeEach(indexes: Int32Array, count: number, seconds: number): void {
    const bucket = bucketOf(this.bounds, seconds);
    const stride = this.#stride;
    const counts = this.counts;
    const sums = this.sums;
    for (let i = 0; i < count; i++) {
      const index = indexes[i]!;
      counts[index * stride + bucket]!++;
      sums[index]! += seconds;
    }
  }

  /** Histogram `index`'s buckets (a view, not a copy). */
  bucketsOf(index: number): Float64Array {
    return this.counts.subarray(index * this.#stride, (index + 1) * this.#stride);
  }

  countOf(index: number): number {
    let total = 0;
    for (const count of this.bucketsOf(index)) total += count;
    return total;
  }
}

/**
 * A command, from its line's arrival to its reply queued: 10 µs (one GET of a pipeline) to
 * 2.5 s (a reply held for a slow fsync, a SYNC session).
 */
export const COMMAND_BOUNDS_SECONDS: readonly number[] = [
  0.00001,
  0.000025,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];
