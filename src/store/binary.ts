/**
 * Binary strings: keys, values and protocol lines are byte strings, held in JavaScript as
 * strings with one code unit (0..255) per byte (see docs/protocol.md). These turn them into
 * bytes quickly; Buffer's "latin1" encoder costs microseconds per call in Deno.
 */

import { Buffer } from "node:buffer";

const encoder = new TextEncoder();
/** Below this length a plain loop beats TextEncoder's call overhead. */
const SHORT_TEXT = 64;

/**
 * Writes `text` into `bytes` at `offset`, one byte per code unit; returns the end offset.
 * TextEncoder's native loop does the ASCII prefix; from the first code unit >= 0x80, where
 * UTF-8 would differ, a plain loop copies the rest.
 */
export function writeLatin1(text: string, bytes: Uint8Array, offset: number): number {
  const length = text.length;
  if (length < SHORT_TEXT) {
    for (let i = 0; i < length; i++) bytes[offset + i] = text.charCodeAt(i);
    return offset + length;
  }
  const target = bytes.subarray(offset, offset + length);
  const { read, written } = encoder.encodeInto(text, target);
  if (read !== length || written !== read) {
    // Bytes before the first multi-byte UTF-8 sequence are right as they are.
    // written <= target.length bounds the scan.
    let start = 0;
    while (start < written && target[start]! < 0x80) start++;
    for (let i = start; i < length; i++) target[i] = text.charCodeAt(i);
  }
  return offset + length;
}

/**
 * A binary string as new bytes. Buffer.allocUnsafe carves small buffers out of a shared pool:
 * a fresh Uint8Array costs about 0.8 µs in Deno whatever its size, a pooled one 0.1 µs.
 */
export function encodeLatin1(text: string): Uint8Array {
  const bytes = Buffer.allocUnsafe(text.length);
  writeLatin1(text, bytes, 0);
  return bytes;
}

/** Keys up to this length are made from a reused array of codes; longer ones by Buffer. */
const SHORT_STRING_BYTES = 64;
/** Per length, an array of that many codes for String.fromCharCode (a fixed length each). */
const CODES: number[][] = Array.from({ length: SHORT_STRING_BYTES + 1 }, (_, n) => new Array(n));

/**
 * The binary string of `bytes[start, end)`. Short strings (keys) are made with one
 * String.fromCharCode call on a reused array: measured about 3× faster than Buffer's latin1
 * decoder for 16-byte keys (see bench/HISTORY.md, 2026-12-07, recovery from the file's bytes).
 */
export function latin1String(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  const codes = CODES[length];
  if (codes === undefined) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      .toString("latin1", start, end);
  }
  // The caller's range lies in `bytes`.
  for (let i = 0; i < length; i++) codes[i] = bytes[start + i]!;
  return String.fromCharCode.apply(null, codes);
}

/** Whether `text` is the binary string of `bytes[start, end)`. */
export function isLatin1Of(text: string, bytes: Uint8Array, start: number, end: number): boolean {
  const length = text.length;
  if (length !== end - start) return false;
  for (let i = 0; i < length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false;
  return true;
}
