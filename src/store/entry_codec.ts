/**
 * Binary form of one entry, shared by the replication change codec and the persistence
 * record codec (see README, Wire formats). Little-endian:
 *
 *   u8  flags        bit 0: tombstone, bit 1: has expiry
 *   f64 hlc          an integer below 2^53, exact in a float64
 *   u8  node length, node id bytes (ASCII)
 *   u16 key length,  key bytes
 *   f64 expiresAtMs  only if bit 1
 *   u32 value length, value bytes   only if not a tombstone
 *
 * Strings are binary strings (one code unit per byte), written with latin1.
 */

import { Buffer } from "node:buffer";
import { isValidHlc } from "./hlc.ts";
import { writeLatin1 } from "./binary.ts";
import { type Entry, INVALID_VALUE_BYTE, isValidKey, NODE_ID_PATTERN } from "./entry.ts";

const FLAG_TOMBSTONE = 1;
const FLAG_EXPIRY = 2;
const MAX_KEY_LENGTH = 0xffff;

/** Bytes encodeEntry will write for this entry. */
export function encodedEntryLength(entry: Entry): number {
  return 1 + 8 + 1 + entry.node.length + 2 + entry.key.length +
    (entry.expiresAtMs !== 0 ? 8 : 0) + (entry.value === null ? 0 : 4 + entry.value.length);
}

/** Writes the entry at `offset` of `buffer` (which must have room); returns the end offset. */
export function encodeEntry(entry: Entry, buffer: Buffer, offset: number): number {
  let flags = entry.value === null ? FLAG_TOMBSTONE : 0;
  if (entry.expiresAtMs !== 0) flags |= FLAG_EXPIRY;
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
function nodeAt(buffer: Buffer, offset: number, length: number): string | null {
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
  | { ok: false; error: string };

/**
 * Reads one entry at `offset`, never past `end`. Malformed input yields an error, never an
 * exception, and never an entry that breaks the store's invariants.
 */
export function decodeEntry(buffer: Buffer, offset: number, end: number): DecodeResult {
  if (end - offset < 12) return { ok: false, error: "entry truncated" };
  const flags = buffer[offset++];
  if ((flags & ~(FLAG_TOMBSTONE | FLAG_EXPIRY)) !== 0) {
    return { ok: false, error: `unknown entry flags ${flags}` };
  }
  const hlc = buffer.readDoubleLE(offset);
  offset += 8;
  if (!isValidHlc(hlc)) return { ok: false, error: "invalid version timestamp" };
  const nodeLength = buffer[offset++];
  if (offset + nodeLength + 2 > end) return { ok: false, error: "entry truncated in node id" };
  const node = nodeAt(buffer, offset, nodeLength);
  offset += nodeLength;
  if (node === null) return { ok: false, error: "invalid node id" };
  const keyLength = buffer.readUInt16LE(offset);
  offset += 2;
  if (keyLength === 0 || keyLength > MAX_KEY_LENGTH || offset + keyLength > end) {
    return { ok: false, error: "entry truncated in key" };
  }
  const key = buffer.toString("latin1", offset, offset + keyLength);
  offset += keyLength;
  if (!isValidKey(key, MAX_KEY_LENGTH)) return { ok: false, error: "invalid key" };
  let expiresAtMs = 0;
  if ((flags & FLAG_EXPIRY) !== 0) {
    if (offset + 8 > end) return { ok: false, error: "entry truncated in expiry" };
    expiresAtMs = buffer.readDoubleLE(offset);
    offset += 8;
    if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= 0) {
      return { ok: false, error: "invalid expiry" };
    }
  }
  let value: string | null = null;
  if ((flags & FLAG_TOMBSTONE) === 0) {
    if (offset + 4 > end) return { ok: false, error: "entry truncated in value length" };
    const valueLength = buffer.readUInt32LE(offset);
    offset += 4;
    if (offset + valueLength > end) return { ok: false, error: "entry truncated in value" };
    value = buffer.toString("latin1", offset, offset + valueLength);
    offset += valueLength;
    if (INVALID_VALUE_BYTE.test(value)) return { ok: false, error: "value contains CR or LF" };
  } else if (expiresAtMs !== 0) {
    return { ok: false, error: "tombstone with expiry" };
  }
  return { ok: true, entry: { key, value, hlc, node, expiresAtMs }, end: offset };
}
