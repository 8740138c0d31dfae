/**
 * Reconnect pauses: exponential with jitter, within [minMs, maxMs]. Pure; randomness is
 * passed in.
 *
 * Pause n (n = 0 after each successful connection) is a random value in
 * [max(minMs, b / 2), b] with b = min(maxMs, minMs * 2^n): it doubles per failed attempt,
 * never exceeds maxMs, and the jitter keeps many nodes from reconnecting in step after a
 * broker restart (see docs/replication.md, Reconnecting).
 */

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(minMs: number, maxMs: number, random: () => number) {
    if (!(minMs >= 1 && maxMs >= minMs)) {
      throw new RangeError(`Backoff needs 1 <= minMs <= maxMs, got ${minMs} and ${maxMs}`);
    }
    this.minMs = minMs;
    this.maxMs = maxMs;
    this.#random = random;
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The pause before the next attempt; each call counts one more failed attempt. */
  next(): number {
    // 2^31 is far past any maxMs; capping the exponent keeps the product finite.
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.#attempt, 31));
    const floor = Math.max(this.minMs, ceiling / 2);
    this.#attempt++;
    return Math.round(floor + this.#random() * (ceiling - floor));
  }

  /** After a successful connection the next pause starts from minMs again. */
  reset(): void {
    this.#attempt = 0;
  }
}
