/**
 * Binary form of one entry, shared by the replication change codec and the persistence
 * record codec (see docs/protocol.md, Wire formats). Little-endian:
 *
 *   u8  flags        bit 0: tombstone, bit 1: has expiry, bit 2: counter, bit 3: causality
 *   f64 hlc          an integer below 2^53, exact in a float64
 *   u8  node length, node id bytes (ASCII)
 *   u16 key length,  key bytes
 *   f64 expiresAtMs  only if bit 1
 *   u32 value length, value bytes   only if not a tombstone
 *   counter state (counter.ts)      only if bit 2 (never with bit 0)
 *   causality (causality_codec.ts)  only if bit 3
 *
 * Only a counter key's entry sets bit 2, so plain entries are the same bytes as before counters
 * existed, and a node that predates them still reads them (it refuses a counter's entry as
 * "unknown entry flags"; see docs/deployment.md, Upgrades). Bit 3 likewise: only an entry with
 * causal data beyond its own version sets it (conflicts mode record, a key written on two nodes).
 * Strings are binary strings (one code unit per byte), written with latin1.
 */

import { Buffer } from "node:buffer";
import { isValidHlc } from "./hlc.ts";
import { writeLatin1 } from "./binary.ts";
import { type Entry, isValidKey, NODE_ID_PATTERN, valueProblem } from "./entry.ts";
import {
  type CounterState,
  decodeCounter,
  encodeCounter,
  encodedCounterLength,
} from "./counter.ts";
import { counterEntryProblem } from "./counter_entry.ts";
import { type Causality, causalityProblem } from "./causality.ts";
import { decodeCausality, encodeCausality, encodedCausalityLength } from "./causality_codec.ts";

const FLAG_TOMBSTONE = 1;
const FLAG_EXPIRY = 2;
const FLAG_COUNTER = 4;
const FLAG_CAUSALITY = 8;
const MAX_KEY_LENGTH = 0xffff;

/** Bytes encodeEntry will write for this entry. */
export function encodedEntryLength(entry: Entry): number {
  return 1 + 8 + 1 + entry.node.length + 2 + entry.key.length +
    (entry.expiresAtMs !== 0 ? 8 : 0) + (entry.value === null ? 0 : 4 + entry.value.length) +
    (entry.counter === undefined ? 0 : encodedCounterLength(entry.counter)) +
    (entry.causality === undefined ? 0 : encodedCausalityLength(entry.causality));
}

/** Writes the entry at `offset` of `buffer` (which must have room); returns the end offset. */
export function encodeEntry(entry: Entry, buffer: Buffer, offset: number): number {
  let flags = entry.value === null ? FLAG_TOMBSTONE : 0;
  if (entry.expiresAtMs !== 0) flags |= FLAG_EXPIRY;
  if (entry.counter !== undefined) flags |= FLAG_COUNTER;
  if (entry.causality !== undefined) flags |= FLAG_CAUSALITY;
  buffer[offset++] = flags;
  buffer.writeDoubleLE(entry.hlc, offset);
  offset += 8;
  buffer[offset++] = entry.node.length;
  offset = writeLatin1(entry.node, buffer, offset);
  buffer.writeUInt16LE(entry.key.length, offset);
  offset += 2;
  offset = writeLatin1(entry.key, buffer, offset);
  if (entry.expiresAtMs !== 0) {
    buffer.writeDoubleLE(entry.expiresAtMs, offset);
    offset += 8;
  }
  if (entry.value !== null) {
    buffer.writeUInt32LE(entry.value.length, offset);
    offset += 4;
    offset = writeLatin1(entry.value, buffer, offset);
  }
  if (entry.counter !== undefined) offset = encodeCounter(entry.counter, buffer, offset);
  if (entry.causality !== undefined) offset = encodeCausality(entry.causality, buffer, offset);
  return offset;
}

/** Encodes one entry into a new buffer of exactly its size. */
export function entryToBytes(entry: Entry): Buffer {
  const buffer = Buffer.allocUnsafe(encodedEntryLength(entry));
  encodeEntry(entry, buffer, 0);
  return buffer;
}

/**
 * The node id last decoded. A batch of entries (a log record, a snapshot slice, a replication
 * message) mostly comes from a few nodes: reusing the string skips a decode and a pattern test
 * per entry, and entries of one node share one string.
 */
let lastNode = "";

/** The valid node id in `length` bytes at `offset`, or null. */
export function nodeAt(buffer: Buffer, offset: number, length: number): string | null {
  if (length === lastNode.length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (buffer[offset + i] !== lastNode.charCodeAt(i)) {
        same = false;
        break;
      }
    }
    if (same) return lastNode;
  }
  const node = buffer.toString("latin1", offset, offset + length);
  if (!NODE_ID_PATTERN.test(node)) return null;
  lastNode = node;
  return node;
}

export type DecodeResult =
  | { ok: true; entry: Entry; end: number }
  | {
    ok: false;
    error: string;
    /**
     * Where the entry ends when its lengths frame it and only its content is refused (a
     * repair can then skip this entry alone); null when the bytes do not frame an entry.
     */
    end: number | null;
  };

/** The largest value length the format can state (u32). */
const MAX_VALUE_LENGTH = 0xffffffff;

function unframed(error: string): DecodeResult {
  return { ok: false, error, end: null };
}

/**
 * Reads one entry at `offset`, never past `end`. Malformed input yields an error, never an
 * exception, and never an entry that breaks the store's invariants. The lengths are read
 * first, so that an entry whose content is refused still says where it ends and which key it
 * holds.
 */
export function decodeEntry(buffer: Buffer, offset: number, end: number): DecodeResult {
  if (end - offset < 12) return unframed("entry truncated");
  // end <= buffer.length (the caller's framing): the 12 bytes checked above are in the buffer.
  const flags = buffer[offset]!;
  if ((flags & ~(FLAG_TOMBSTONE | FLAG_EXPIRY | FLAG_COUNTER | FLAG_CAUSALITY)) !== 0) {
    return unframed(`unknown entry flags ${flags}`);
  }
  const hlc = buffer.readDoubleLE(offset + 1);
  const nodeLength = buffer[offset + 9]!;
  const nodeStart = offset + 10;
  let position = nodeStart + nodeLength;
  if (position + 2 > end) return unframed("entry truncated in node id");
  const keyLength = buffer.readUInt16LE(position);
  const keyStart = position + 2;
  position = keyStart + keyLength;
  if (keyLength === 0 || position > end) return unframed("entry truncated in key");
  let expiresAtMs = 0;
  if ((flags & FLAG_EXPIRY) !== 0) {
    if (position + 8 > end) return unframed("entry truncated in expiry");
    expiresAtMs = buffer.readDoubleLE(position);
    position += 8;
  }
  let valueStart = -1;
  if ((flags & FLAG_TOMBSTONE) === 0) {
    if (position + 4 > end) return unframed("entry truncated in value length");
    const valueLength = buffer.readUInt32LE(position);
    valueStart = position + 4;
    position = valueStart + valueLength;
    if (position > end) return unframed("entry truncated in value");
  }
  const valueEnd = position;
  let counter: CounterState | null = null;
  if ((flags & FLAG_COUNTER) !== 0) {
    const decoded = decodeCounter(buffer, position, end);
    if (!decoded.ok) return unframed(decoded.error);
    counter = decoded.state;
    position = decoded.end;
  }
  let causality: Causality | null = null;
  if ((flags & FLAG_CAUSALITY) !== 0) {
    const decoded = decodeCausality(buffer, position, end);
    if (!decoded.ok) return unframed(decoded.error);
    causality = decoded.causality;
    position = decoded.end;
  }
  const key = buffer.toString("latin1", keyStart, keyStart + keyLength);
  if (!isValidHlc(hlc)) return refused(key, "invalid version timestamp", position);
  const node = nodeAt(buffer, nodeStart, nodeLength);
  if (node === null) return refused(key, "invalid node id", position);
  if (!isValidKey(key, MAX_KEY_LENGTH)) return refused(key, "invalid key", position);
  if (expiresAtMs !== 0 && (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= 0)) {
    return refused(key, "invalid expiry", position);
  }
  let value: string | null = null;
  if (valueStart !== -1) {
    value = buffer.toString("latin1", valueStart, valueEnd);
    const problem = valueProblem(value, MAX_VALUE_LENGTH);
    if (problem !== null) return refused(key, problem, position);
  } else if (expiresAtMs !== 0) {
    return refused(key, "tombstone with expiry", position);
  }
  const entry: Entry = { key, value, hlc, node, expiresAtMs };
  if (counter === null && causality === null) return { ok: true, entry, end: position };
  return withExtras(entry, counter, causality, position);
}

/** The entry with its counter state and causality, checked against it, ending at `end`. */
function withExtras(
  entry: Entry,
  counter: CounterState | null,
  causality: Causality | null,
  end: number,
): DecodeResult {
  if (causality !== null) {
    const problem = causalityProblem(entry, causality);
    if (problem !== null) return refused(entry.key, problem, end);
    entry.causality = causality;
  }
  if (counter === null) return { ok: true, entry, end };
  const problem = entry.value === null
    ? "counter entry is a tombstone"
    : counterEntryProblem(entry, counter);
  if (problem !== null) return refused(entry.key, problem, end);
  entry.counter = counter;
  return { ok: true, entry, end };
}

/** An entry that frames (it ends at `end`) but whose content is refused. */
function refused(key: string, why: string, end: number): DecodeResult {
  return { ok: false, error: `key ${quoteKey(key)}: ${why}`, end };
}

/** A key for a message: JSON-quoted (control bytes escaped), at most 64 characters. */
export function quoteKey(key: string): string {
  return JSON.stringify(key.length > 64 ? key.slice(0, 64) + "..." : key);
}
