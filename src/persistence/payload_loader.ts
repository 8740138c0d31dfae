/**
 * Recovery's fast path (see docs/durability.md, Recovery): loads a record payload's entries into
 * the store straight from the file's bytes, with no Entry object and no value string. Pure.
 *
 * Each entry is read and checked as decodeEntry() (src/store/entry_codec.ts) does, and an
 * entry of a key not held yet goes in with Store.loadBytes(). Everything else takes the
 * general path, decodeEntry() and Store.load() (the merge): a key met before, a counter's or
 * a causality's entry, and any entry this reader would refuse, so that a refused entry gets
 * exactly decodeEntry()'s message. A payload that does not decode stops recovery, so the
 * entries of its record loaded before the refused one are never served.
 */

import type { Buffer } from "node:buffer";
import { decodeEntry, type EntryInBytes, isValidHlc, nodeAt, type Store } from "../store/mod.ts";

const ENTRY_COUNT_BYTES = 4;
/** Entry flags (entry_codec.ts): the fast path takes tombstone and expiry only. */
const FLAG_TOMBSTONE = 1;
const FLAG_EXPIRY = 2;
const FAST_FLAGS = FLAG_TOMBSTONE | FLAG_EXPIRY;
/** Flags, version and node id length: the bytes before the node id. */
const ENTRY_FIXED_BYTES = 10;
const SPACE = 0x20;
const DELETE = 0x7f;
const LINE_FEED = 0x0a;
/**
 * Entries whose keys are hinted to the store at once (Store.prefetchKeys): the index cells of a
 * snapshot's keys lie at random in a table of tens of MiB, and the loads of one short loop over
 * them wait for memory together instead of one lookup at a time (measured: see
 * docs/performance.md, Start-up).
 */
const PREFETCH_ENTRIES = 32;
const RANGES = new Int32Array(2 * PREFETCH_ENTRIES);

/**
 * The key ranges of up to `max` plain entries from `offset` into `ranges`; how many. A hint
 * only: it stops at the first entry that is not plain or does not fit, and checks nothing else.
 */
function keyRanges(bytes: Buffer, offset: number, end: number, ranges: Int32Array, max: number) {
  let n = 0;
  while (n < max && offset + ENTRY_FIXED_BYTES + 2 <= end) {
    const flags = bytes[offset]!;
    if ((flags & ~FAST_FLAGS) !== 0) break;
    const keyLengthAt = offset + ENTRY_FIXED_BYTES + bytes[offset + 9]!;
    if (keyLengthAt + 2 > end) break;
    const keyStart = keyLengthAt + 2;
    let position = keyStart + bytes.readUInt16LE(keyLengthAt);
    if (position > end) break;
    ranges[2 * n] = keyStart;
    ranges[2 * n + 1] = position;
    n++;
    if ((flags & FLAG_EXPIRY) !== 0) position += 8;
    if ((flags & FLAG_TOMBSTONE) === 0) {
      if (position + 4 > end) break;
      position += 4 + bytes.readUInt32LE(position);
    }
    offset = position;
  }
  return n;
}

/** How many entries a payload held, or why it does not decode (decodePayload()'s message). */
export type PayloadLoad = { ok: true; entries: number } | { ok: false; error: string };

/** Loads the payload `bytes[start, end)` of a record that frames and checks into `store`. */
export function loadPayload(store: Store, bytes: Buffer, start: number, end: number): PayloadLoad {
  if (end - start < ENTRY_COUNT_BYTES) return { ok: false, error: "payload truncated" };
  const count = bytes.readUInt32LE(start);
  if (count === 0) return { ok: false, error: "record without entries" };
  const reader = new EntryReader(bytes, end);
  // A plain view for the store: a Buffer's subarray() (the value heap copies from one) costs a
  // Buffer object of Deno's Node layer per value.
  const plain = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  let offset = start + ENTRY_COUNT_BYTES;
  for (let i = 0; i < count; i++) {
    if (i % PREFETCH_ENTRIES === 0) {
      const n = keyRanges(bytes, offset, end, RANGES, Math.min(PREFETCH_ENTRIES, count - i));
      store.prefetchKeys(plain, RANGES, n);
    }
    const next = reader.read(offset);
    if (next !== -1 && store.loadBytes(plain, reader.entry)) {
      offset = next;
      continue;
    }
    const decoded = decodeEntry(bytes, offset, end);
    if (!decoded.ok) return { ok: false, error: `entry ${i}: ${decoded.error}` };
    store.load(decoded.entry);
    offset = decoded.end;
  }
  if (offset !== end) return { ok: false, error: `${end - offset} bytes after the last entry` };
  return { ok: true, entries: count };
}

/** Reads plain entries (no counter, no causality) of one payload into one reused object. */
class EntryReader {
  readonly entry: EntryInBytes = {
    keyStart: 0,
    keyEnd: 0,
    valueStart: -1,
    valueEnd: -1,
    hlc: 0,
    node: "",
    expiresAtMs: 0,
  };
  readonly #bytes: Buffer;
  /** For the doubles: DataView reads them inline, where Buffer.readDoubleLE is a call each. */
  readonly #view: DataView;
  readonly #end: number;

  constructor(bytes: Buffer, end: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    this.#end = end;
  }

  /**
   * Fills `entry` from the entry at `offset` and returns where it ends; -1 when the entry is
   * not a plain one this reader takes whole (the general path decides then).
   */
  read(offset: number): number {
    const bytes = this.#bytes;
    const end = this.#end;
    const entry = this.entry;
    if (end - offset < ENTRY_FIXED_BYTES + 2) return -1;
    // end <= bytes.length (the record's framing): every offset read below is checked first.
    const flags = bytes[offset]!;
    if ((flags & ~FAST_FLAGS) !== 0) return -1;
    const hlc = this.#view.getFloat64(offset + 1, true);
    if (!isValidHlc(hlc)) return -1;
    const nodeLength = bytes[offset + 9]!;
    const nodeStart = offset + ENTRY_FIXED_BYTES;
    let position = nodeStart + nodeLength;
    if (position + 2 > end) return -1;
    const node = nodeAt(bytes, nodeStart, nodeLength);
    if (node === null) return -1;
    const keyStart = position + 2;
    const keyEnd = keyStart + bytes.readUInt16LE(position);
    if (keyEnd === keyStart || keyEnd > end || !isValidKeyBytes(bytes, keyStart, keyEnd)) {
      return -1;
    }
    position = keyEnd;
    let expiresAtMs = 0;
    if ((flags & FLAG_EXPIRY) !== 0) {
      if (position + 8 > end) return -1;
      expiresAtMs = this.#view.getFloat64(position, true);
      position += 8;
      if (expiresAtMs !== 0 && !(Number.isSafeInteger(expiresAtMs) && expiresAtMs > 0)) return -1;
    }
    let valueStart = -1;
    if ((flags & FLAG_TOMBSTONE) === 0) {
      if (position + 4 > end) return -1;
      valueStart = position + 4;
      position = valueStart + bytes.readUInt32LE(position);
      if (position > end || hasLineFeed(bytes, this.#view, valueStart, position)) return -1;
    } else if (expiresAtMs !== 0) {
      return -1;
    }
    entry.keyStart = keyStart;
    entry.keyEnd = keyEnd;
    entry.valueStart = valueStart;
    entry.valueEnd = position;
    entry.hlc = hlc;
    entry.node = node;
    entry.expiresAtMs = expiresAtMs;
    return position;
  }
}

/** isValidKey() of the key's bytes (its length is 1 to 65,535 by the format). */
function isValidKeyBytes(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    if (byte <= SPACE || byte === DELETE) return false;
  }
  return true;
}

/** Four LF bytes, and the masks of the word test below. */
const LINE_FEEDS = 0x0a0a0a0a;
const LOW_BITS = 0x01010101;
const HIGH_BITS = 0x80808080;

/**
 * valueProblem()'s test: a value holds any byte but LF. Four bytes per step: a word XORed with
 * four LFs has a zero byte where it held an LF, and (w - 0x01010101) & ~w & 0x80808080 is not
 * zero exactly when w has a zero byte. `view` is a DataView of `bytes`.
 */
function hasLineFeed(bytes: Buffer, view: DataView, start: number, end: number): boolean {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const word = view.getUint32(i, true) ^ LINE_FEEDS;
    if (((word - LOW_BITS) & ~word & HIGH_BITS) !== 0) return true;
  }
  for (; i < end; i++) if (bytes[i] === LINE_FEED) return true;
  return false;
}
