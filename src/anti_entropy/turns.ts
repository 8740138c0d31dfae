/**
 * Whose turn it is to run a sync session: one at a time (see docs/anti-entropy.md, The loop).
 * Operator `SYNC <host> <port>` commands wait in order of arrival; a loop round's session goes
 * ahead of them, so that a queue of operator commands naming slow or silent peers never keeps the
 * periodic sessions waiting for longer than the one running session. Pure: no timers, no I/O.
 */

export type TurnPriority = "loop" | "operator";

export class SessionTurns {
  #busy = false;
  readonly #loopWaiting: (() => void)[] = [];
  readonly #operatorWaiting: (() => void)[] = [];

  /** Operator commands waiting for their turn (the running session not counted). */
  get operatorsWaiting(): number {
    return this.#operatorWaiting.length;
  }

  /** Resolves when the caller may run its session; it must call release() once done. */
  take(priority: TurnPriority): Promise<void> {
    if (!this.#busy) {
      this.#busy = true;
      return Promise.resolve();
    }
    const waiting = priority === "loop" ? this.#loopWaiting : this.#operatorWaiting;
    return new Promise((resolve) => waiting.push(resolve));
  }

  /** Hands the turn to the next waiter: loop rounds first, then operators in order. */
  release(): void {
    if (!this.#busy) throw new Error("Bug: SessionTurns.release() without a turn taken");
    const next = this.#loopWaiting.shift() ?? this.#operatorWaiting.shift();
    if (next === undefined) this.#busy = false;
    else next();
  }
}
