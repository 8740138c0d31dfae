/**
 * Causality of versions (see docs/causality.md). Pure.
 *
 * Every version has a dot (the node that wrote it and its HLC there, unique) and a version
 * vector (node -> HLC): the versions of the key its writer had seen, its own dot included. X has
 * seen Y iff vector(X)[Y.node] >= Y.hlc; two versions are concurrent iff neither has seen the
 * other. A key's state is the antichain of the versions no other has seen: its LWW maximum is
 * the winner (the entry), the rest are its losers (dots and vectors only; their values are not
 * kept). The merge is the union of two such sets, less every version another has seen:
 * commutative, associative and idempotent.
 *
 * HLCs order every version after the ones its writer had seen (a node observes the HLC of what
 * it merges), so LWW never lets a version lose to one it has seen: the winner is always in the
 * antichain.
 *
 * A vector is held without the version's own dot, which it always holds: `seen` is the vector
 * less that component (kept only when larger than the dot's HLC, which a counter's merge can
 * make). A version whose vector is its own dot and which has no losers has no Causality at all:
 * what every key written on one node only looks like, at no cost.
 */

import { hashString } from "./hash.ts";

const CAUSALITY_HASH_SEED = 0x63617573;

/** The name of one version: the node that wrote it and its HLC there (unique). */
export interface Dot {
  readonly node: string;
  readonly hlc: number;
}

/** What a store calls when a merge makes a pair of concurrent versions appear (see store.ts). */
export type ConflictHook = (key: string, winner: Dot, loser: Dot) => void;

/** A version's dot and its vector beyond it. */
export interface CausalVersion extends Dot {
  /** The vector less the own dot, sorted by node id, one component per node. */
  readonly seen: readonly Dot[];
  /**
   * A sibling's value (conflicts mode siblings): the string it wrote, null for a deletion;
   * absent where values are not kept (mode record, and the winner of an entry, whose value is
   * the entry's).
   */
  readonly value?: string | null;
  /**
   * A sibling's absolute expiry in Unix ms, as its version wrote it; only with a string value,
   * absent for none (0 is never held). Past it, the sibling reads as deleted (see siblingsOf).
   */
  readonly expiresAtMs?: number;
}

/** What an entry carries beyond its dot; absent when both lists would be empty. */
export interface Causality {
  /** The winner's vector less its own dot, sorted by node id. */
  readonly seen: readonly Dot[];
  /** Concurrent versions that lost by LWW, sorted by (hlc, node): at most one per node. */
  readonly losers: readonly CausalVersion[];
}

/**
 * Components one vector holds, and losers one key holds: both are bounded by the nodes that
 * ever wrote the key, far fewer in any cluster. A decoded entry with more is refused.
 */
export const MAX_CAUSAL_NODES = 1024;

const NO_DOTS: readonly Dot[] = [];
/** The losers of most causalities: one shared empty list, not one per key. */
export const NO_LOSERS: readonly CausalVersion[] = Object.freeze([]);

/** The component of `node` in a sorted vector; 0 when absent. */
function componentOf(vector: readonly Dot[], node: string): number {
  for (const dot of vector) {
    if (dot.node === node) return dot.hlc;
    if (dot.node > node) return 0;
  }
  return 0;
}

/** Whether the version `x` has seen the version `y` (or is it). */
export function hasSeen(x: CausalVersion, y: Dot): boolean {
  if (x.node === y.node && x.hlc >= y.hlc) return true;
  return componentOf(x.seen, y.node) >= y.hlc;
}

/** The join of two sorted vectors: per node, the larger HLC. */
export function joinVectors(a: readonly Dot[], b: readonly Dot[]): readonly Dot[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const joined: Dot[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.node < y.node)) {
      joined.push(x!);
      i++;
    } else if (x === undefined || y.node < x.node) {
      joined.push(y);
      j++;
    } else {
      joined.push(x.hlc >= y.hlc ? x : y);
      i++;
      j++;
    }
  }
  return joined;
}

/** A version's whole vector: `seen` with its own dot. */
export function vectorOf(version: CausalVersion): readonly Dot[] {
  return joinVectors(version.seen, [{ node: version.node, hlc: version.hlc }]);
}

/** `vector` less the component of `dot` when that is the dot itself (see the file comment). */
function beyond(vector: readonly Dot[], dot: Dot): readonly Dot[] {
  const index = vector.findIndex((x) => x.node === dot.node && x.hlc === dot.hlc);
  if (index === -1) return vector;
  return vector.length === 1 ? NO_DOTS : vector.filter((_, i) => i !== index);
}

/**
 * The versions a key's state holds: its winner, then its losers. `value` and `expiresAtMs`: the
 * winner's value and expiry (0: none), to keep should it lose (conflicts mode siblings);
 * undefined: values are not kept.
 */
export function versionsOf(
  dot: Dot,
  causality: Causality | undefined,
  value?: string | null,
  expiresAtMs = 0,
): CausalVersion[] {
  const seen = causality?.seen ?? NO_DOTS;
  const winner = versionWith(dot, seen, value, expiresAtMs);
  return causality === undefined ? [winner] : [winner, ...causality.losers];
}

/** A version with its value (undefined: not kept) and expiry (0: none; kept with a string). */
function versionWith(
  dot: Dot,
  seen: readonly Dot[],
  value: string | null | undefined,
  expiresAtMs = 0,
): CausalVersion {
  const { node, hlc } = dot;
  if (value === undefined) return { node, hlc, seen };
  if (typeof value !== "string" || expiresAtMs === 0) return { node, hlc, seen, value };
  return { node, hlc, seen, value, expiresAtMs };
}

/** Whether a sibling's value has expired at `nowMs` (a deletion or no value kept: never). */
export function siblingExpired(version: CausalVersion, nowMs: number): boolean {
  const expiresAtMs = version.expiresAtMs ?? 0;
  return expiresAtMs !== 0 && expiresAtMs <= nowMs;
}

/** Whether a causality keeps the value of at least one loser (a key with siblings). */
export function hasSiblings(causality: Causality | undefined): boolean {
  if (causality === undefined) return false;
  for (const loser of causality.losers) if (loser.value !== undefined) return true;
  return false;
}

/** `version` without its value: what a store that keeps no siblings holds of it. */
export function withoutValue(version: CausalVersion): CausalVersion {
  return version.value === undefined
    ? version
    : { node: version.node, hlc: version.hlc, seen: version.seen };
}

/**
 * The causality of a local write at `dot` over a key whose state holds `versions`: it has seen
 * all of them (the join of their vectors), so it has no losers; a conflict ends here.
 */
export function writeCausality(
  dot: Dot,
  versions: readonly CausalVersion[],
): Causality | undefined {
  let vector: readonly Dot[] = [dot];
  for (const version of versions) vector = joinVectors(vector, vectorOf(version));
  const seen = beyond(vector, dot);
  return seen.length === 0 ? undefined : { seen: exact(seen), losers: NO_LOSERS };
}

/**
 * A copy of exactly its length: an array built by push keeps room for more (16 elements and up
 * in V8), and a causality is kept per key.
 */
function exact<T>(items: readonly T[]): readonly T[] {
  return items.length === 0 ? NO_DOTS as readonly T[] : items.slice();
}

function compareDots(a: Dot, b: Dot): number {
  if (a.hlc !== b.hlc) return a.hlc > b.hlc ? 1 : -1;
  if (a.node !== b.node) return a.node > b.node ? 1 : -1;
  return 0;
}

/**
 * The state after a merge whose LWW winner is `winner`, over every version both sides held
 * (`versions`, winners and losers, in any order and with repeats). The winner's vector joins
 * `joined` (a counter's merge: it has seen both sides) and the vectors of every version with its
 * dot; versions of one dot join their vectors; then every version the winner or another version
 * has seen is dropped, and the rest are the losers.
 */
export function settle(
  winner: Dot,
  joined: readonly Dot[],
  versions: readonly CausalVersion[],
): Causality | undefined {
  let vector = joinVectors(joined, [winner]);
  const byDot = new Map<string, CausalVersion>();
  for (const version of versions) {
    if (version.node === winner.node && version.hlc === winner.hlc) {
      vector = joinVectors(vector, vectorOf(version));
      continue;
    }
    const name = version.hlc + "@" + version.node;
    const held = byDot.get(name);
    byDot.set(name, held === undefined ? version : joinedVersion(held, version));
  }
  const seen = beyond(vector, winner);
  const self: CausalVersion = { node: winner.node, hlc: winner.hlc, seen };
  const others = [...byDot.values()];
  const losers = others.filter((x) =>
    !hasSeen(self, x) && !others.some((y) => y !== x && hasSeen(y, x))
  ).sort(compareDots);
  if (seen.length === 0 && losers.length === 0) return undefined;
  return { seen: exact(seen), losers: losers.length === 0 ? NO_LOSERS : exact(losers) };
}

/**
 * Two copies of one version (one dot): their vectors joined, the value and expiry of either that
 * has a value (the same write's).
 */
function joinedVersion(a: CausalVersion, b: CausalVersion): CausalVersion {
  const seen = beyond(joinVectors(vectorOf(a), vectorOf(b)), a);
  const kept = a.value !== undefined ? a : b;
  return versionWith(a, seen, kept.value, kept.expiresAtMs);
}

/**
 * The losers of `after` that were not losers of the same winner before: the pairs a merge made
 * appear (see store.onConflict).
 */
export function newLosers(
  before: Dot | undefined,
  beforeCausality: Causality | undefined,
  after: Dot,
  afterCausality: Causality | undefined,
): readonly Dot[] {
  const losers = afterCausality?.losers ?? [];
  if (losers.length === 0) return losers;
  if (before === undefined || compareDots(before, after) !== 0) return losers;
  const held = beforeCausality?.losers ?? [];
  return losers.filter((x) => !held.some((y) => compareDots(x, y) === 0));
}

/** Whether two causalities (either may be absent) are the same. */
export function sameCausality(a: Causality | undefined, b: Causality | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return canonicalText(a) === canonicalText(b);
}

function vectorText(vector: readonly Dot[]): string {
  let text = "";
  for (const dot of vector) text += dot.node + "@" + dot.hlc + ",";
  return text;
}

/** 64-bit hash of a causality, as [low, high] lanes (copied out of the shared lanes). */
export function causalityHash(causality: Causality): [number, number] {
  const lanes = hashString(canonicalText(causality), CAUSALITY_HASH_SEED);
  return [lanes[0], lanes[1]];
}

/** The canonical text of a causality, which its hash and its equality across nodes rest on. */
export function canonicalText(causality: Causality): string {
  let text = vectorText(causality.seen);
  for (const loser of causality.losers) {
    text += ";" + loser.node + "@" + loser.hlc + ":" + vectorText(loser.seen);
    // A sibling's value, framed by its length (it may hold any byte but LF).
    if (loser.value === null) text += "=deleted";
    else if (loser.value !== undefined) text += "=" + loser.value.length + ":" + loser.value;
    // Its expiry, only when it has one: a sibling without one reads as it did before expiries.
    if (loser.expiresAtMs !== undefined) text += "/" + loser.expiresAtMs;
  }
  return text;
}

/** Why a decoded causality cannot belong to the version `dot` (not canonical), or null. */
export function causalityProblem(dot: Dot, causality: Causality): string | null {
  const self: CausalVersion = { node: dot.node, hlc: dot.hlc, seen: causality.seen };
  if (causality.seen.length === 0 && causality.losers.length === 0) return "empty causality";
  if (!isBeyond(self)) return "version vector repeats the version's own dot";
  let previous: Dot | undefined;
  for (const loser of causality.losers) {
    if (previous !== undefined && compareDots(previous, loser) >= 0) {
      return "losers not in (hlc, node) order";
    }
    if (!isBeyond(loser)) return "loser's version vector repeats its own dot";
    if (hasSeen(self, loser) || compareDots(loser, dot) >= 0) {
      return "a loser the winner has seen or does not beat";
    }
    previous = loser;
  }
  return null;
}

function isBeyond(version: CausalVersion): boolean {
  return componentOf(version.seen, version.node) !== version.hlc;
}
