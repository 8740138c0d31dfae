/**
 * Latency histogram with log-linear buckets, in ticks of 100 ns. Values below 512 ticks
 * (51.2 µs) are exact; above, each power of two is split into 256 buckets, so a reported
 * percentile is within 0.4% of the true value. No sample is stored. Pure.
 */

export const TICKS_PER_MS = 10_000;
const TICKS_PER_US = 10;
const SUB_BUCKET_BITS = 8;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
const EXACT_TICKS = 2 * SUB_BUCKETS;
/** 2^31 - 1 ticks is about 214 s: longer latencies are recorded as that. */
const MAX_TICKS = 0x7fff_ffff;
const MAX_SHIFT = 31 - SUB_BUCKET_BITS - 1;
const BUCKET_COUNT = EXACT_TICKS + MAX_SHIFT * SUB_BUCKETS;

/** The bucket of a latency in ticks. */
export function bucketIndex(ticks: number): number {
  if (ticks < EXACT_TICKS) return ticks;
  // ticks >= 512: the top 9 bits select the bucket; shift >= 1.
  const shift = 31 - Math.clz32(ticks) - SUB_BUCKET_BITS;
  return EXACT_TICKS + (shift - 1) * SUB_BUCKETS + ((ticks >>> shift) - SUB_BUCKETS);
}

/** The middle of a bucket, in ticks. */
export function bucketMiddleTicks(index: number): number {
  if (index < EXACT_TICKS) return index;
  const above = index - EXACT_TICKS;
  const shift = Math.floor(above / SUB_BUCKETS) + 1;
  const low = ((above % SUB_BUCKETS) + SUB_BUCKETS) * 2 ** shift;
  return low + (2 ** shift - 1) / 2;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKET_COUNT);
  #count = 0;
  #sumTicks = 0;
  #maxTicks = 0;

  record(latencyMs: number): void {
    let ticks = Math.round(latencyMs * TICKS_PER_MS);
    if (!(ticks > 0)) ticks = 0;
    else if (ticks > MAX_TICKS) ticks = MAX_TICKS;
    // ticks is clamped to MAX_TICKS, whose bucket is the last: no check per sample.
    this.#counts[bucketIndex(ticks)]!++;
    this.#count++;
    this.#sumTicks += ticks;
    if (ticks > this.#maxTicks) this.#maxTicks = ticks;
  }

  get count(): number {
    return this.#count;
  }

  /** The latency below which `percent` % of the samples fall, in µs (0 when empty). */
  percentileUs(percent: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.#count));
    let seen = 0;
    for (const [index, count] of this.#counts.entries()) {
      seen += count;
      if (seen >= rank) {
        return Math.min(bucketMiddleTicks(index), this.#maxTicks) / TICKS_PER_US;
      }
    }
    return this.#maxTicks / TICKS_PER_US;
  }

  meanUs(): number {
    return this.#count === 0 ? 0 : this.#sumTicks / this.#count / TICKS_PER_US;
  }

  maxUs(): number {
    return this.#maxTicks / TICKS_PER_US;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sumTicks = 0;
    this.#maxTicks = 0;
  }
}
