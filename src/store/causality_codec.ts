/**
 * Binary form of a Causality (see causality.ts), as the entry codec writes it after flag bit 3
 * (see entry_codec.ts). Little-endian:
 *
 *   u16 component count, then per component: u8 node length, node bytes, f64 hlc
 *   u16 loser count, then per loser: u8 node length, node bytes, f64 hlc,
 *                                    u16 component count and components as above
 *
 * Components sorted by node id, losers by (hlc, node id). Bit 15 of the loser count (never set
 * before siblings existed, so older data reads as before, and an older decoder refuses it) says
 * that each loser ends with its value (conflicts mode siblings): u8 kind (0: no value kept, 1:
 * deleted, 2: a value, 3: a value with an expiry), then for kind 3 an f64 expiry (Unix ms, as in
 * an entry), and for kinds 2 and 3 a u32 length and the value's bytes. Pure.
 */

import type { Buffer } from "node:buffer";
import { writeLatin1 } from "./binary.ts";
import { isValidHlc } from "./hlc.ts";
import { NODE_ID_PATTERN, valueProblem } from "./entry.ts";
import {
  type Causality,
  type CausalVersion,
  type Dot,
  hasSiblings,
  MAX_CAUSAL_NODES,
  NO_LOSERS,
} from "./causality.ts";

/** Bit 15 of the loser count: every loser ends with its value's kind (and value). */
const LOSERS_CARRY_VALUES = 0x8000;
const VALUE_NOT_KEPT = 0;
const VALUE_DELETED = 1;
const VALUE_HELD = 2;
const VALUE_EXPIRING = 3;
/** The largest value length the format can state (u32), as for an entry's value. */
const MAX_VALUE_LENGTH = 0xffffffff;

function vectorLength(vector: readonly Dot[]): number {
  let length = 2;
  for (const dot of vector) length += 1 + dot.node.length + 8;
  return length;
}

/** Bytes encodeCausality will write. */
export function encodedCausalityLength(causality: Causality): number {
  let length = vectorLength(causality.seen) + 2;
  const values = hasSiblings(causality);
  for (const loser of causality.losers) {
    length += 1 + loser.node.length + 8 + vectorLength(loser.seen);
    if (values) length += 1 + valueLength(loser);
  }
  return length;
}

/** Bytes of a loser's value after its kind byte. */
function valueLength(loser: CausalVersion): number {
  if (typeof loser.value !== "string") return 0;
  return (loser.expiresAtMs === undefined ? 0 : 8) + 4 + loser.value.length;
}

function encodeDot(dot: Dot, buffer: Buffer, offset: number): number {
  buffer[offset++] = dot.node.length;
  offset = writeLatin1(dot.node, buffer, offset);
  buffer.writeDoubleLE(dot.hlc, offset);
  return offset + 8;
}

function encodeVector(vector: readonly Dot[], buffer: Buffer, offset: number): number {
  buffer.writeUInt16LE(vector.length, offset);
  offset += 2;
  for (const dot of vector) offset = encodeDot(dot, buffer, offset);
  return offset;
}

/** Writes the causality at `offset` (the buffer has room); returns the end offset. */
export function encodeCausality(causality: Causality, buffer: Buffer, offset: number): number {
  offset = encodeVector(causality.seen, buffer, offset);
  const values = hasSiblings(causality);
  buffer.writeUInt16LE(causality.losers.length | (values ? LOSERS_CARRY_VALUES : 0), offset);
  offset += 2;
  for (const loser of causality.losers) {
    offset = encodeDot(loser, buffer, offset);
    offset = encodeVector(loser.seen, buffer, offset);
    if (values) offset = encodeValue(loser, buffer, offset);
  }
  return offset;
}

function encodeValue(loser: CausalVersion, buffer: Buffer, offset: number): number {
  const value = loser.value;
  if (typeof value !== "string") {
    buffer[offset++] = value === null ? VALUE_DELETED : VALUE_NOT_KEPT;
    return offset;
  }
  if (loser.expiresAtMs === undefined) buffer[offset++] = VALUE_HELD;
  else {
    buffer[offset++] = VALUE_EXPIRING;
    buffer.writeDoubleLE(loser.expiresAtMs, offset);
    offset += 8;
  }
  buffer.writeUInt32LE(value.length, offset);
  return writeLatin1(value, buffer, offset + 4);
}

export type CausalityDecodeResult =
  | { ok: true; causality: Causality; end: number }
  | { ok: false; error: string };

type Read<T> = { ok: true; value: T; end: number } | { ok: false; error: string };

function decodeDot(buffer: Buffer, offset: number, end: number): Read<Dot> {
  if (offset + 1 > end) return { ok: false, error: "causality truncated" };
  const length = buffer[offset]!;
  if (offset + 1 + length + 8 > end) return { ok: false, error: "causality truncated" };
  const node = buffer.toString("latin1", offset + 1, offset + 1 + length);
  const hlc = buffer.readDoubleLE(offset + 1 + length);
  if (!NODE_ID_PATTERN.test(node)) return { ok: false, error: "causality has an invalid node id" };
  if (!isValidHlc(hlc)) return { ok: false, error: "causality has an invalid hlc" };
  return { ok: true, value: { node, hlc }, end: offset + 1 + length + 8 };
}

function decodeCount(buffer: Buffer, offset: number, end: number, flags = 0): Read<number> {
  if (offset + 2 > end) return { ok: false, error: "causality truncated" };
  const count = buffer.readUInt16LE(offset) & ~flags;
  if (count > MAX_CAUSAL_NODES) {
    return { ok: false, error: `causality lists ${count} versions, max ${MAX_CAUSAL_NODES}` };
  }
  return { ok: true, value: count, end: offset + 2 };
}

function decodeVector(buffer: Buffer, offset: number, end: number): Read<readonly Dot[]> {
  const count = decodeCount(buffer, offset, end);
  if (!count.ok) return count;
  offset = count.end;
  const vector: Dot[] = [];
  for (let i = 0; i < count.value; i++) {
    const dot = decodeDot(buffer, offset, end);
    if (!dot.ok) return dot;
    const previous = vector.at(-1);
    if (previous !== undefined && previous.node >= dot.value.node) {
      return { ok: false, error: "version vector not one component per node in order" };
    }
    vector.push(dot.value);
    offset = dot.end;
  }
  // Of exactly its length (one built by push keeps room for more): it may be kept per key.
  return { ok: true, value: vector.slice(), end: offset };
}

/**
 * Reads a causality at `offset`, never past `end`. Refuses, never throws on, what breaks its
 * rules: invalid node ids or versions, components or losers out of order, more than
 * MAX_CAUSAL_NODES of either (see causalityProblem for the rules relative to the entry).
 */
export function decodeCausality(
  buffer: Buffer,
  offset: number,
  end: number,
): CausalityDecodeResult {
  const seen = decodeVector(buffer, offset, end);
  if (!seen.ok) return seen;
  const count = decodeCount(buffer, seen.end, end, LOSERS_CARRY_VALUES);
  if (!count.ok) return count;
  const values = (buffer.readUInt16LE(seen.end) & LOSERS_CARRY_VALUES) !== 0;
  offset = count.end;
  const losers: CausalVersion[] = [];
  for (let i = 0; i < count.value; i++) {
    const dot = decodeDot(buffer, offset, end);
    if (!dot.ok) return dot;
    const vector = decodeVector(buffer, dot.end, end);
    if (!vector.ok) return vector;
    const { node, hlc } = dot.value;
    offset = vector.end;
    if (!values) {
      losers.push({ node, hlc, seen: vector.value });
      continue;
    }
    const value = decodeValue(buffer, offset, end);
    if (!value.ok) return value;
    const { kept, expiresAtMs } = value.value;
    if (kept === undefined) losers.push({ node, hlc, seen: vector.value });
    else if (expiresAtMs === 0) losers.push({ node, hlc, seen: vector.value, value: kept });
    else losers.push({ node, hlc, seen: vector.value, value: kept, expiresAtMs });
    offset = value.end;
  }
  if (values && !losers.some((x) => x.value !== undefined)) {
    return { ok: false, error: "causality says its losers carry values, and none does" };
  }
  const causality = { seen: seen.value, losers: losers.length === 0 ? NO_LOSERS : losers.slice() };
  return { ok: true, causality, end: offset };
}

/** A loser's value as decoded: undefined when not kept, null for a deletion; expiry 0: none. */
interface KeptValue {
  kept: string | null | undefined;
  expiresAtMs: number;
}

const TRUNCATED_VALUE = { ok: false, error: "causality truncated in a sibling's value" } as const;

function decodeValue(buffer: Buffer, offset: number, end: number): Read<KeptValue> {
  if (offset + 1 > end) return TRUNCATED_VALUE;
  const kind = buffer[offset++]!;
  if (kind === VALUE_NOT_KEPT) {
    return { ok: true, value: { kept: undefined, expiresAtMs: 0 }, end: offset };
  }
  if (kind === VALUE_DELETED) {
    return { ok: true, value: { kept: null, expiresAtMs: 0 }, end: offset };
  }
  if (kind !== VALUE_HELD && kind !== VALUE_EXPIRING) {
    return { ok: false, error: `unknown sibling value kind ${kind}` };
  }
  let expiresAtMs = 0;
  if (kind === VALUE_EXPIRING) {
    if (offset + 8 > end) return TRUNCATED_VALUE;
    expiresAtMs = buffer.readDoubleLE(offset);
    offset += 8;
    // As an entry's expiry (see entry_codec.ts); 0 is "none", which kind 2 says.
    if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= 0) {
      return { ok: false, error: "sibling has an invalid expiry" };
    }
  }
  if (offset + 4 > end) return TRUNCATED_VALUE;
  const length = buffer.readUInt32LE(offset);
  const start = offset + 4;
  if (start + length > end) return TRUNCATED_VALUE;
  const value = buffer.toString("latin1", start, start + length);
  const problem = valueProblem(value, MAX_VALUE_LENGTH);
  if (problem !== null) return { ok: false, error: `sibling's ${problem}` };
  return { ok: true, value: { kept: value, expiresAtMs }, end: start + length };
}
