/**
 * Counters that converge to the exact sum (a PN-counter per key; see docs/consistency.md,
 * Counters). Pure: the state, its merge, its value, its hash and its binary form.
 *
 * A counter key's state is an epoch (the version of the plain value or tombstone it started
 * from; hlc 0 and node "" for a key that never existed), the base value it started from, and one
 * contribution per node that ever incremented it: that node's increments total, decrements
 * total, and the HLC of its latest contribution. Each node only ever grows its own totals, so
 * two states of one epoch merge by taking, per node, the larger of each: commutative,
 * associative and idempotent.
 */

import type { Buffer } from "node:buffer";
import { hashString } from "./hash.ts";
import { writeLatin1 } from "./binary.ts";
import { isValidHlc } from "./hlc.ts";
import { NODE_ID_PATTERN } from "./entry.ts";

export interface Contribution {
  readonly node: string;
  /** Sum of this node's INC amounts (and of DEC's negative amounts); never negative. */
  readonly increments: bigint;
  /** Sum of this node's DEC amounts (and of INC's negative amounts); never negative. */
  readonly decrements: bigint;
  /** HLC of this node's latest contribution. */
  readonly hlc: number;
}

/** Immutable: a new state is made for every change, so changes may share one. */
export interface CounterState {
  readonly epochHlc: number;
  readonly epochNode: string;
  readonly base: bigint;
  /** Sorted by node id, one per node, never empty. */
  readonly contributions: readonly Contribution[];
}

/**
 * Nodes one counter remembers contributions of. A cluster has far fewer nodes; a state with
 * more is refused on decode, and a local increment that would add one more is refused.
 */
export const MAX_COUNTER_NODES = 1024;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const COUNTER_HASH_SEED = 0x636e7472;

/** base + Σ(increments − decrements). */
export function counterValue(state: CounterState): bigint {
  let sum = state.base;
  for (const contribution of state.contributions) {
    sum += contribution.increments - contribution.decrements;
  }
  return sum;
}

/** The contribution with the newest HLC (larger node id on a tie): the entry's version. */
export function latestContribution(state: CounterState): Contribution {
  let latest = state.contributions[0];
  if (latest === undefined) throw new RangeError("a counter has at least one contribution");
  for (const contribution of state.contributions) {
    if (contribution.hlc > latest.hlc) latest = contribution;
    else if (contribution.hlc === latest.hlc && contribution.node > latest.node) {
      latest = contribution;
    }
  }
  return latest;
}

/** > 0 when epoch a is later than epoch b (newer HLC, then larger node id). */
export function compareEpochs(a: CounterState, b: CounterState): number {
  if (a.epochHlc !== b.epochHlc) return a.epochHlc > b.epochHlc ? 1 : -1;
  if (a.epochNode !== b.epochNode) return a.epochNode > b.epochNode ? 1 : -1;
  return 0;
}

/**
 * The join of two states of one epoch: per node, the larger increments, the larger decrements
 * and the newer HLC. The base is the same in both (it came with the epoch).
 */
export function mergeCounters(a: CounterState, b: CounterState): CounterState {
  const merged: Contribution[] = [];
  let i = 0;
  let j = 0;
  const left = a.contributions;
  const right = b.contributions;
  while (i < left.length || j < right.length) {
    const x = left[i];
    const y = right[j];
    if (y === undefined || (x !== undefined && x.node < y.node)) {
      merged.push(x!);
      i++;
    } else if (x === undefined || y.node < x.node) {
      merged.push(y);
      j++;
    } else {
      merged.push({
        node: x.node,
        increments: x.increments > y.increments ? x.increments : y.increments,
        decrements: x.decrements > y.decrements ? x.decrements : y.decrements,
        hlc: Math.max(x.hlc, y.hlc),
      });
      i++;
      j++;
    }
  }
  return { epochHlc: a.epochHlc, epochNode: a.epochNode, base: a.base, contributions: merged };
}

/** Whether two states hold the same epoch, base and contributions. */
export function sameCounter(a: CounterState, b: CounterState): boolean {
  if (compareEpochs(a, b) !== 0 || a.base !== b.base) return false;
  if (a.contributions.length !== b.contributions.length) return false;
  return a.contributions.every((x, index) => {
    const y = b.contributions[index];
    return y !== undefined && x.node === y.node && x.increments === y.increments &&
      x.decrements === y.decrements && x.hlc === y.hlc;
  });
}

/**
 * `state` with `amount` added to `node`'s contribution at `hlc`, or why not: the sum would leave
 * the 64-bit range, a total would overflow, or the counter would remember too many nodes.
 */
export function incremented(
  state: CounterState,
  node: string,
  amount: bigint,
  hlc: number,
): CounterState | string {
  const next = counterValue(state) + amount;
  if (next < INT64_MIN || next > INT64_MAX) return "increment would overflow a 64-bit integer";
  const own = state.contributions.find((contribution) => contribution.node === node);
  const increments = (own?.increments ?? 0n) + (amount > 0n ? amount : 0n);
  const decrements = (own?.decrements ?? 0n) + (amount < 0n ? -amount : 0n);
  if (increments > UINT64_MAX || decrements > UINT64_MAX) {
    return "increment would overflow this node's 64-bit counter totals";
  }
  if (own === undefined && state.contributions.length >= MAX_COUNTER_NODES) {
    return `counter already holds contributions of ${MAX_COUNTER_NODES} nodes`;
  }
  const mine: Contribution = { node, increments, decrements, hlc };
  const others = state.contributions.filter((contribution) => contribution.node !== node);
  const contributions = [...others, mine].sort((x, y) => (x.node < y.node ? -1 : 1));
  return { epochHlc: state.epochHlc, epochNode: state.epochNode, base: state.base, contributions };
}

/** A counter with no contribution yet, started from `base` at the version `epoch`. */
export function startedCounter(epochHlc: number, epochNode: string, base: bigint): CounterState {
  return { epochHlc, epochNode, base, contributions: [] };
}

/**
 * `state` with `node`'s contribution re-stamped at `hlc`, totals unchanged: how EXPIRE and
 * PERSIST make a counter's new expiry a newer version without changing its sum.
 */
export function restamped(state: CounterState, node: string, hlc: number): CounterState {
  const result = incremented(state, node, 0n, hlc);
  // An amount of 0 changes no sum or total; only a new node past the limit is refused, and
  // then the newest contribution is re-stamped instead.
  if (typeof result !== "string") return result;
  const latest = latestContribution(state);
  return {
    ...state,
    contributions: state.contributions.map((c) => (c === latest ? { ...c, hlc } : c)),
  };
}

/** The canonical text of a state, which its hash and its equality across nodes rest on. */
function canonicalText(state: CounterState): string {
  let text = state.epochHlc + "," + state.epochNode + "," + state.base;
  for (const c of state.contributions) {
    text += ";" + c.node + "," + c.increments + "," + c.decrements + "," + c.hlc;
  }
  return text;
}

/** 64-bit hash of a state, as [low, high] lanes (copied out of the shared lanes). */
export function counterHash(state: CounterState): [number, number] {
  const lanes = hashString(canonicalText(state), COUNTER_HASH_SEED);
  return [lanes[0], lanes[1]];
}

// ---------------------------------------------------------------------------------------------
// Binary form, little-endian:
//
//   f64 epoch hlc, u8 epoch node length, epoch node bytes, i64 base,
//   u16 contribution count, then per contribution:
//   u8 node length, node bytes, f64 hlc, u64 increments, u64 decrements

/** Bytes encodeCounter will write. */
export function encodedCounterLength(state: CounterState): number {
  let length = 8 + 1 + state.epochNode.length + 8 + 2;
  for (const c of state.contributions) length += 1 + c.node.length + 8 + 8 + 8;
  return length;
}

/** Writes the state at `offset` (the buffer has room); returns the end offset. */
export function encodeCounter(state: CounterState, buffer: Buffer, offset: number): number {
  buffer.writeDoubleLE(state.epochHlc, offset);
  offset += 8;
  buffer[offset++] = state.epochNode.length;
  offset = writeLatin1(state.epochNode, buffer, offset);
  buffer.writeBigInt64LE(state.base, offset);
  offset += 8;
  buffer.writeUInt16LE(state.contributions.length, offset);
  offset += 2;
  for (const c of state.contributions) {
    buffer[offset++] = c.node.length;
    offset = writeLatin1(c.node, buffer, offset);
    buffer.writeDoubleLE(c.hlc, offset);
    buffer.writeBigUInt64LE(c.increments, offset + 8);
    buffer.writeBigUInt64LE(c.decrements, offset + 16);
    offset += 24;
  }
  return offset;
}

export type CounterDecodeResult =
  | { ok: true; state: CounterState; end: number }
  | { ok: false; error: string };

/**
 * Reads a state at `offset`, never past `end`. Refuses, never throws on, what breaks the
 * state's rules: invalid versions or node ids, no contribution, nodes unsorted or repeated,
 * more than MAX_COUNTER_NODES.
 */
export function decodeCounter(buffer: Buffer, offset: number, end: number): CounterDecodeResult {
  if (offset + 9 > end) return { ok: false, error: "counter truncated" };
  const epochHlc = buffer.readDoubleLE(offset);
  const epochNodeLength = buffer[offset + 8]!;
  offset += 9;
  if (offset + epochNodeLength + 10 > end) return { ok: false, error: "counter truncated" };
  const epochNode = buffer.toString("latin1", offset, offset + epochNodeLength);
  offset += epochNodeLength;
  const base = buffer.readBigInt64LE(offset);
  const count = buffer.readUInt16LE(offset + 8);
  offset += 10;
  const epochOk = epochHlc === 0
    ? epochNode === ""
    : isValidHlc(epochHlc) && NODE_ID_PATTERN.test(epochNode);
  if (!epochOk) return { ok: false, error: "counter has an invalid epoch" };
  if (count === 0 || count > MAX_COUNTER_NODES) {
    return {
      ok: false,
      error: `counter has ${count} contributions, needs 1..${MAX_COUNTER_NODES}`,
    };
  }
  const contributions: Contribution[] = [];
  for (let i = 0; i < count; i++) {
    if (offset + 1 > end) return { ok: false, error: "counter truncated" };
    const nodeLength = buffer[offset]!;
    if (offset + 1 + nodeLength + 24 > end) return { ok: false, error: "counter truncated" };
    const node = buffer.toString("latin1", offset + 1, offset + 1 + nodeLength);
    offset += 1 + nodeLength;
    const hlc = buffer.readDoubleLE(offset);
    const increments = buffer.readBigUInt64LE(offset + 8);
    const decrements = buffer.readBigUInt64LE(offset + 16);
    offset += 24;
    const previous = contributions.at(-1);
    if (!NODE_ID_PATTERN.test(node) || (previous !== undefined && previous.node >= node)) {
      return { ok: false, error: "counter contributions not one per valid node id in order" };
    }
    if (!isValidHlc(hlc)) return { ok: false, error: "counter contribution has an invalid hlc" };
    contributions.push({ node, increments, decrements, hlc });
  }
  return { ok: true, state: { epochHlc, epochNode, base, contributions }, end: offset };
}
