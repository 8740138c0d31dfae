/**
 * Invariants (see STYLE, "Two kinds of failure"): a broken one is a bug in MerkleKV, never
 * bad input, so it throws and the node stops loudly. Input is checked with errors, never with
 * assert.
 */

/** A broken invariant; the message names it. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws an AssertionError naming the invariant unless `condition` holds. */
export function assert(condition: unknown, invariant: string): asserts condition {
  if (!condition) throw new AssertionError(`invariant broken: ${invariant}`);
}
