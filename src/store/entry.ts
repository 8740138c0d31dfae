/**
 * An entry is the state of one key: a value or a tombstone, the version that wrote it, and an
 * optional absolute expiry. Replication and anti-entropy move entries (state), never operations.
 */

import type { CounterState } from "./counter.ts";
import type { Causality } from "./causality.ts";

export interface Entry {
  key: string;
  /** null is a tombstone: the key was deleted by this version. */
  value: string | null;
  /** Hybrid logical clock timestamp of the write (see hlc.ts). */
  hlc: number;
  /** Id of the node that made the write; with `hlc` it forms the version. */
  node: string;
  /** Absolute expiry in Unix ms; 0 means none. */
  expiresAtMs: number;
  /**
   * Present on a counter key's entry: the per-node contributions whose sum `value` holds (see
   * counter.ts and docs/consistency.md, Counters). Absent on every other entry.
   */
  counter?: CounterState;
  /**
   * The version vector beyond the entry's own dot, and the concurrent versions it beat (see
   * causality.ts). Absent when the vector is the own dot alone and there are no losers, and
   * always absent on a store that does not track causality (conflicts mode lww).
   */
  causality?: Causality;
}

/**
 * Total order of entries of one key; > 0 when `a` wins the merge.
 * LWW: newer HLC wins; equal HLC -> larger node id wins; equal version -> tombstone wins; then
 * the remaining fields, so that any two entries have one winner whatever the arrival order
 * (see docs/consistency.md, Conflicts).
 */
export function compareEntries(a: Entry, b: Entry): number {
  if (a.hlc !== b.hlc) return a.hlc > b.hlc ? 1 : -1;
  if (a.node !== b.node) return a.node > b.node ? 1 : -1;
  const aTomb = a.value === null;
  const bTomb = b.value === null;
  if (aTomb !== bTomb) return aTomb ? 1 : -1;
  if (a.expiresAtMs !== b.expiresAtMs) return a.expiresAtMs > b.expiresAtMs ? 1 : -1;
  if (a.value === b.value) return 0;
  // Both hold values here: equal tombstone flags, and two tombstones compare equal above.
  return (a.value ?? "") > (b.value ?? "") ? 1 : -1;
}

/** An entry that holds a value: what a read of a live key gives. */
export interface LiveEntry extends Entry {
  value: string;
}

/** Whether the entry holds a value (is not a tombstone); says nothing of its expiry. */
export function hasValue(entry: Entry): entry is LiveEntry {
  return entry.value !== null;
}

/** Live = not a tombstone and not expired at `nowMs`. */
export function isLive(entry: Entry, nowMs: number): boolean {
  return entry.value !== null && (entry.expiresAtMs === 0 || entry.expiresAtMs > nowMs);
}

/** Node ids are part of every version and travel on the wire, so their form is fixed. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Key bytes that are never allowed: whitespace and control characters (0x00-0x20, 0x7f). */
// deno-lint-ignore no-control-regex -- control bytes are exactly what this rejects
export const INVALID_KEY_BYTE = /[\x00-\x20\x7f]/;

/**
 * The one rule for what a value may hold, shared by every reader and writer: the protocol
 * parser, the store's merge of remote entries, and the log, snapshot, replication and sync
 * codecs. Any byte but LF, which ends a protocol line; CR is an ordinary byte (see
 * docs/protocol.md: a line ends with LF and at most one CR before it).
 */
const INVALID_VALUE_BYTE = /\n/;

/** null when `value` may be stored under a `maxValueBytes` limit, else why not. */
export function valueProblem(value: string, maxValueBytes: number): string | null {
  if (value.length > maxValueBytes) {
    return `value too long: ${value.length} bytes, max ${maxValueBytes}`;
  }
  return INVALID_VALUE_BYTE.test(value) ? "value contains LF" : null;
}

/** Non-empty, within the length limit, and free of whitespace and control characters. */
export function isValidKey(key: string, maxKeyBytes: number): boolean {
  return key.length > 0 && key.length <= maxKeyBytes && !INVALID_KEY_BYTE.test(key);
}
