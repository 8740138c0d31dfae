/**
 * The outbox: local changes waiting to be handed to the broker. Pure and bounded.
 *
 * Every change gets the next per-origin sequence number as it enters. The queue holds at most
 * `capacity` changes (replication.max_pending_publishes); past that the OLDEST are dropped and
 * counted. Dropping the oldest keeps the newest state of the busiest keys, and the receivers
 * see the hole in the sequence numbers; anti-entropy repairs what was dropped (see
 * docs/replication.md, Broker down: the outbox).
 */

import { encodedEntryLength, type Entry } from "../store/mod.ts";

/** A run of consecutive changes taken from the head of the outbox. */
export interface OutboxBatch {
  firstSequence: number;
  entries: Entry[];
}

/** Dead slots at the head are cut off once there are this many and they are half the array. */
const COMPACT_MIN_SLOTS = 1024;

export class Outbox {
  /** Set lower than size (a config reload), the next push drops the oldest past it. */
  capacity: number;
  #queue: Entry[] = [];
  #head = 0;
  /** Sequence number the next pushed change gets. */
  #nextSequence = 1;
  #dropped = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`Outbox capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Changes waiting. */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** Changes dropped since the start because the outbox was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Sequence number of the last change pushed (0 before the first). */
  get lastSequence(): number {
    return this.#nextSequence - 1;
  }

  /** Queues changes; returns how many old ones this dropped to stay within capacity. */
  push(changes: readonly Entry[]): number {
    for (const change of changes) this.#queue.push(change);
    this.#nextSequence += changes.length;
    const excess = this.size - this.capacity;
    if (excess <= 0) return 0;
    this.#head += excess;
    this.#dropped += excess;
    this.#compact();
    return excess;
  }

  /**
   * Removes and returns the oldest changes: at most `maxEntries`, and no more than `maxBytes`
   * of encoded entries unless the first alone is larger (a batch always has one). Null when
   * empty.
   */
  take(maxEntries: number, maxBytes: number): OutboxBatch | null {
    const size = this.size;
    if (size === 0) return null;
    const firstSequence = this.#nextSequence - size;
    const limit = Math.min(size, Math.max(1, maxEntries));
    let count = 0;
    let bytes = 0;
    // count < limit <= size: every #queue[#head + count] read here is a queued change.
    while (count < limit) {
      const length = encodedEntryLength(this.#queue[this.#head + count]!);
      if (count > 0 && bytes + length > maxBytes) break;
      bytes += length;
      count++;
    }
    const entries = this.#queue.slice(this.#head, this.#head + count);
    this.#head += count;
    this.#compact();
    return { firstSequence, entries };
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_MIN_SLOTS && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
