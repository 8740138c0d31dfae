/**
 * The anti-entropy timer (an edge: the only file here that sets timers). One round every
 * intervalMs plus a random 0..jitterMs, measured from the end of the previous round, so rounds
 * never overlap and nodes started together drift apart. intervalMs 0 turns the timer off;
 * syncSoon() still runs a round.
 */

import { nextDelayMs } from "./peers.ts";

export interface LoopOptions {
  intervalMs: number;
  jitterMs: number;
  /** In [0, 1); seeded in tests. */
  random: () => number;
  /** One round: pick peers and sync. Must not throw (failures are logged inside). */
  round: () => Promise<void>;
}

export class AntiEntropyLoop {
  readonly #options: LoopOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #soon = false;
  #closed = false;

  constructor(options: LoopOptions) {
    this.#options = options;
  }

  /**
   * New timing from a config reload: the waiting round is rescheduled with it (a round that is
   * running finishes first, then the next waits the new interval).
   */
  setTiming(intervalMs: number, jitterMs: number): void {
    this.#options.intervalMs = intervalMs;
    this.#options.jitterMs = jitterMs;
    if (this.#running !== null || this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule();
  }

  get isOn(): boolean {
    return this.#options.intervalMs > 0;
  }

  start(): void {
    this.#schedule();
  }

  /** A round as soon as possible: now, or right after the running one. */
  syncSoon(): void {
    if (this.#closed) return;
    if (this.#running !== null) {
      this.#soon = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#run();
  }

  /** Stops the timer and waits for a running round (the caller aborts its session). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(): void {
    if (this.#closed || !this.isOn) return;
    const { intervalMs, jitterMs, random } = this.#options;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run();
    }, nextDelayMs(intervalMs, jitterMs, random));
  }

  #run(): void {
    this.#running = this.#options.round().finally(() => {
      this.#running = null;
      if (this.#closed) return;
      if (this.#soon) {
        this.#soon = false;
        this.#run();
      } else if (this.#timer === undefined) {
        this.#schedule();
      }
    });
  }
}
