/**
 * Hybrid logical clock (see docs/consistency.md, Versions).
 *
 * A timestamp is one integer: `physicalMs * HLC_COUNTER_SPAN + counter`. Local writes take
 * `max(wall clock, last + 1)`, so timestamps never go back even when the wall clock does, and
 * observing a remote timestamp moves the clock past it. With 10 counter bits the integer stays
 * below 2^53 until the year 2248; more than 1024 writes in one millisecond simply run ahead of
 * the wall clock until it catches up.
 */

export const HLC_COUNTER_BITS = 10;
export const HLC_COUNTER_SPAN = 1 << HLC_COUNTER_BITS;

/** Wall time, passed in so that tests of clocks, TTL and purging are deterministic. */
export interface Clock {
  nowMs(): number;
}

export function hlcFromMs(physicalMs: number): number {
  return physicalMs * HLC_COUNTER_SPAN;
}

export function hlcToMs(hlc: number): number {
  return Math.floor(hlc / HLC_COUNTER_SPAN);
}

export function isValidHlc(hlc: number): boolean {
  return Number.isSafeInteger(hlc) && hlc >= 0;
}

export class HybridClock {
  #last = 0;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** A new timestamp, greater than every timestamp issued or observed before. */
  tick(): number {
    const physical = hlcFromMs(this.#clock.nowMs());
    this.#last = physical > this.#last ? physical : this.#last + 1;
    return this.#last;
  }

  /** Moves the clock past a timestamp seen on another node (or on disk at start-up). */
  observe(hlc: number): void {
    if (hlc > this.#last) this.#last = hlc;
  }

  get last(): number {
    return this.#last;
  }
}
