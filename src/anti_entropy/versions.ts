/**
 * The rules a session applies to the versions it compares: which side is newer, which entries
 * are past their grace period, and which may be a deleted key coming back (see
 * docs/anti-entropy.md, Tombstone grace and resurrection). Pure.
 */

import { type Entry, hlcToMs, type Store } from "../store/mod.ts";
import type { Digest } from "./codec.ts";
import { causalityDigest, counterDigest } from "./entry_text.ts";

export function digestOf(entry: Entry): Digest {
  return {
    key: entry.key,
    hlc: entry.hlc,
    node: entry.node,
    tombstone: entry.value === null,
    expiresAtMs: entry.expiresAtMs,
    counter: entry.counter === undefined ? null : counterDigest(entry.counter),
    causality: entry.causality === undefined ? null : causalityDigest(entry.causality),
  };
}

/**
 * > 0 when `a` wins the merge: the order of compareEntries (store/entry.ts) on the fields the
 * tree hashes (newer HLC, then larger node id, then tombstone, then later expiry). Two entries
 * equal here have the same entry hash, so the tree sees no difference either.
 */
export function compareDigests(a: Digest, b: Digest): number {
  if (a.hlc !== b.hlc) return a.hlc > b.hlc ? 1 : -1;
  if (a.node !== b.node) return a.node > b.node ? 1 : -1;
  if (a.tombstone !== b.tombstone) return a.tombstone ? 1 : -1;
  if (a.expiresAtMs !== b.expiresAtMs) return a.expiresAtMs > b.expiresAtMs ? 1 : -1;
  return 0;
}

/**
 * Whether two digests of one key, at least one of them a counter's or with a causality, differ.
 * Both sides then send theirs: counters merge per node, a counter and a plain entry by epoch,
 * and causalities by their versions (the losers either side knows of), which the versions
 * alone do not order (see docs/consistency.md, Counters, and docs/causality.md).
 */
export function isMergeDifference(a: Digest, b: Digest): boolean {
  const plain = a.counter === null && b.counter === null;
  if (plain && a.causality === null && b.causality === null) return false;
  return a.counter !== b.counter || a.causality !== b.causality || compareDigests(a, b) !== 0;
}

/** Purgeable, by the store's rule: a tombstone or an expired entry older than the grace. */
export function isPastGrace(digest: Digest, nowMs: number, graceMs: number): boolean {
  if (digest.tombstone) return hlcToMs(digest.hlc) + graceMs <= nowMs;
  return digest.expiresAtMs !== 0 && digest.expiresAtMs + graceMs <= nowMs;
}

/** Written longer than the grace period ago: only such a version can be behind a purge. */
export function isOlderThanGrace(hlc: number, nowMs: number, graceMs: number): boolean {
  return hlcToMs(hlc) + graceMs <= nowMs;
}

/**
 * True when `store` holds nothing for `key` and `hlc` is not newer than the newest version
 * purged from the key's segment there: the key may have been deleted there by a tombstone
 * since purged, so this version must not come back.
 */
export function isBehindHorizon(store: Store, key: string, hlc: number): boolean {
  if (store.entry(key) !== undefined) return false;
  const horizon = store.purgeHorizon(store.segmentOfKey(key));
  return horizon !== 0 && hlc <= horizon;
}
