/**
 * Per-origin sequence numbers on the receiving side: notices changes that never arrived (a
 * hole in an origin's numbers) and batches seen before (QoS 1 redelivery). Pure and bounded.
 *
 * A hole is not repaired here: it only tells the node to run anti-entropy soon. Merging is
 * idempotent, so a batch seen twice is harmless and is only counted (see
 * docs/replication.md, Delivery, ordering and idempotence).
 */

export interface SequenceVerdict {
  /** Changes between the last batch seen from this origin and this one that never came. */
  missed: number;
  /** Every change in this batch was seen before. */
  duplicate: boolean;
}

interface OriginState {
  incarnation: number;
  /** Sequence number expected next. */
  next: number;
}

export class SequenceTracker {
  readonly maxOrigins: number;
  readonly #origins = new Map<string, OriginState>();

  constructor(maxOrigins: number) {
    this.maxOrigins = maxOrigins;
  }

  get size(): number {
    return this.#origins.size;
  }

  /** Records a batch of `count` changes numbered from `firstSequence`. */
  observe(
    origin: string,
    incarnation: number,
    firstSequence: number,
    count: number,
  ): SequenceVerdict {
    const state = this.#origins.get(origin);
    const end = firstSequence + count;
    if (state === undefined || state.incarnation !== incarnation) {
      // First batch from this process of the origin: what came before is anti-entropy's job.
      this.#remember(origin, { incarnation, next: end });
      return { missed: 0, duplicate: false };
    }
    if (end <= state.next) return { missed: 0, duplicate: true };
    const missed = firstSequence > state.next ? firstSequence - state.next : 0;
    state.next = end;
    return { missed, duplicate: false };
  }

  #remember(origin: string, state: OriginState): void {
    this.#origins.delete(origin);
    if (this.#origins.size >= this.maxOrigins) {
      // Map order is insertion order: forget the origin recorded longest ago.
      const oldest = this.#origins.keys().next().value as string;
      this.#origins.delete(oldest);
    }
    this.#origins.set(origin, state);
  }
}
