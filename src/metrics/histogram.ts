/**
 * A fixed-bucket histogram for Prometheus (see docs/observability.md): bounds chosen once,
 * counts in a Float64Array, one short scan per observation. Pure: the caller measures, this
 * counts; the scrape reads `bounds`, `counts` and `sum` as they are.
 */

/** Histogram bounds must ascend strictly; anything else is a bug of the code that chose them. */
export function assertAscending(bounds: readonly number[]): void {
  for (let i = 1; i < bounds.length; i++) {
    if (!((bounds[i] ?? 0) > (bounds[i - 1] ?? 0))) {
      throw new Error(`bug: histogram bounds must ascend, got ${bounds.join(",")}`);
    }
  }
}

/** The bucket of `value`: the first bound it does not exceed, or bounds.length above them all. */
export function bucketOf(bounds: readonly number[], value: number): number {
  let bucket = 0;
  while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
  return bucket;
}

export class Histogram {
  /** Upper bounds in seconds, ascending; an observation above the last goes in counts[last+1]. */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative: bounds.length + 1 of them. */
  readonly counts: Float64Array;
  sum = 0;

  constructor(bounds: readonly number[]) {
    assertAscending(bounds);
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    this.counts[bucketOf(this.bounds, value)]!++;
    this.sum += value;
  }

  get count(): number {
    let total = 0;
    for (const count of this.counts) total += count;
    return total;
  }
}

/** fsync of the log: 100 µs (a page cache flush) to seconds (a stalling disk). */
export const FSYNC_BOUNDS_SECONDS: readonly number[] = [
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

/** Replication lag: a millisecond on one host to a minute (a broker that held changes). */
export const LAG_BOUNDS_SECONDS: readonly number[] = [
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
  5,
  10,
  30,
  60,
];

/** An anti-entropy session: milliseconds when in sync, up to the session timeout. */
export const SESSION_BOUNDS_SECONDS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];
