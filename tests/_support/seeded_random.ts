/**
 * A seeded pseudo-random generator (mulberry32) for property and fuzz tests: the same seed
 * gives the same sequence, so a failure can be replayed by its seed.
 */
export class SeededRandom {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, limit). */
  below(limit: number): number {
    return Math.floor(this.next() * limit);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new RangeError("pick() needs a non-empty list without undefined");
    return item;
  }

  /** A new array with the items in random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const atI = copy[i];
      const atJ = copy[j];
      if (atI === undefined || atJ === undefined) {
        throw new RangeError("shuffle() needs a list without undefined");
      }
      [copy[i], copy[j]] = [atJ, atI];
    }
    return copy;
  }

  /** A binary string of `length` bytes drawn from 0..255. */
  bytes(length: number): string {
    let text = "";
    for (let i = 0; i < length; i++) text += String.fromCharCode(this.below(256));
    return text;
  }
}
