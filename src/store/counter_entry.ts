/**
 * Counters as entries: the entry a counter state stands for, and the merge of two entries when
 * either is a counter (see docs/consistency.md, Counters). Pure.
 */

import { compareEntries, type Entry } from "./entry.ts";
import {
  type CounterState,
  counterValue,
  latestContribution,
  mergeCounters,
  sameCounter,
  startedCounter,
} from "./counter.ts";

/** The entry of a counter key: the sum as its value, the newest contribution as its version. */
export function counterEntry(key: string, state: CounterState, expiresAtMs: number): Entry {
  const latest = latestContribution(state);
  const value = counterValue(state).toString();
  return { key, value, hlc: latest.hlc, node: latest.node, expiresAtMs, counter: state };
}

/**
 * The counter an increment of `entry` goes on with: its own when it is a live counter, else a
 * new one started from it (see startedFrom); null when its value is not an integer.
 */
export function counterOf(
  entry: Entry | undefined,
  live: boolean,
  parse: (text: string) => bigint | null,
): CounterState | null {
  if (entry === undefined) return startedCounter(0, "", 0n);
  if (live && entry.counter !== undefined) return entry.counter;
  if (!live || entry.value === null) return startedCounter(entry.hlc, entry.node, 0n);
  const base = parse(entry.value);
  return base === null ? null : startedCounter(entry.hlc, entry.node, base);
}

/**
 * > 0 when `a` starts a later epoch than `b`. A plain entry (value or tombstone) is the epoch
 * of its own version; a counter started from it has that epoch too, and supersedes it.
 */
function compareEpochOf(a: Entry, b: Entry): number {
  const aHlc = a.counter?.epochHlc ?? a.hlc;
  const bHlc = b.counter?.epochHlc ?? b.hlc;
  if (aHlc !== bHlc) return aHlc > bHlc ? 1 : -1;
  const aNode = a.counter?.epochNode ?? a.node;
  const bNode = b.counter?.epochNode ?? b.node;
  if (aNode !== bNode) return aNode > bNode ? 1 : -1;
  const aCounter = a.counter !== undefined;
  if (aCounter !== (b.counter !== undefined)) return aCounter ? 1 : -1;
  return 0;
}

/**
 * The merge of a remote entry into the current one when either is a counter; null when the
 * current entry stays as it is. A later epoch wins whole: a SET or DEL replaces the counter it
 * saw (increments made on the older epoch are dropped), and an increment of a plain value starts
 * a counter that replaces it. Two counters of one epoch merge per node (mergeCounters); the
 * expiry is the one of the newer version (later expiry on a tie), as for any entry.
 */
export function joinEntries(current: Entry, remote: Entry): Entry | null {
  const order = compareEpochOf(remote, current);
  if (order !== 0) return order > 0 ? remote : null;
  if (current.counter === undefined || remote.counter === undefined) {
    return compareEntries(remote, current) > 0 ? remote : null;
  }
  const merged = mergeCounters(current.counter, remote.counter);
  const versionOrder = compareVersions(remote, current);
  const expiresAtMs =
    versionOrder > 0 || (versionOrder === 0 && remote.expiresAtMs > current.expiresAtMs)
      ? remote.expiresAtMs
      : current.expiresAtMs;
  if (sameCounter(merged, current.counter) && expiresAtMs === current.expiresAtMs) return null;
  return counterEntry(current.key, merged, expiresAtMs);
}

function compareVersions(a: Entry, b: Entry): number {
  if (a.hlc !== b.hlc) return a.hlc > b.hlc ? 1 : -1;
  if (a.node !== b.node) return a.node > b.node ? 1 : -1;
  return 0;
}

/** Why a decoded counter entry is inconsistent (value or version not the state's), or null. */
export function counterEntryProblem(entry: Entry, state: CounterState): string | null {
  const latest = latestContribution(state);
  if (entry.value !== counterValue(state).toString()) return "counter value is not its sum";
  if (entry.hlc !== latest.hlc || entry.node !== latest.node) {
    return "counter version is not its newest contribution";
  }
  return null;
}
