/**
 * The on-disk formats of the append-only log and of snapshots (see docs/durability.md). Pure:
 * bytes in, bytes or entries out; the files live in log_file.ts and snapshot_file.ts.
 *
 * Both files start with a header (magic + format version + CRC32 of the header) and then hold
 * records. A record, little-endian:
 *
 *   u32 payload length   4 .. MAX_RECORD_PAYLOAD_BYTES
 *   u32 CRC32            of the payload bytes
 *   payload:  u32 entry count (>= 1), then that many entries (src/store/entry_codec.ts)
 *
 * A snapshot ends with a trailer that says how many records and entries precede it; a snapshot
 * without a valid trailer is incomplete and never used.
 */

import { Buffer } from "node:buffer";
import { crc32 } from "node:zlib";
import { decodeEntry, encodedEntryLength, encodeEntry, type Entry } from "../store/mod.ts";
import { assert } from "../assert.ts";

export const FORMAT_VERSION = 1;

export const LOG_MAGIC = "MKV-LOG\n";
export const SNAPSHOT_MAGIC = "MKV-SNP\n";
export const TRAILER_MAGIC = "MKV-END\n";

export const LOG_HEADER_BYTES = 16;
export const SNAPSHOT_HEADER_BYTES = 32;
export const SNAPSHOT_TRAILER_BYTES = 24;
export const RECORD_HEADER_BYTES = 8;
const ENTRY_COUNT_BYTES = 4;

/** Payloads are cut near this size; a single larger entry gets a record of its own. */
export const RECORD_TARGET_PAYLOAD_BYTES = 1024 * 1024;
/** The largest entry (512 MiB value, 64 KiB key) plus room; anything longer is corruption. */
export const MAX_RECORD_PAYLOAD_BYTES = 600 * 1024 * 1024;

/** CRC32 (IEEE, as zlib and gzip) of bytes [start, end). */
export function checksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32(bytes.subarray(start, end)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Headers and trailer

export interface SnapshotHeader {
  /** Wall time at which the snapshot began, Unix ms. */
  createdAtMs: number;
  /** The node's hybrid clock when the snapshot began: recovery resumes at or above it. */
  hlc: number;
}

export function encodeLogHeader(): Buffer {
  const header = Buffer.alloc(LOG_HEADER_BYTES);
  header.write(LOG_MAGIC, 0, "latin1");
  header.writeUInt16LE(FORMAT_VERSION, 8);
  header.writeUInt16LE(0, 10); // flags, none defined in version 1
  header.writeUInt32LE(checksum(header, 0, 12), 12);
  return header;
}

/** null when the header is valid, else why not. */
export function checkLogHeader(bytes: Uint8Array): string | null {
  return checkHeader(bytes, LOG_MAGIC, LOG_HEADER_BYTES, "log");
}

export function encodeSnapshotHeader(header: SnapshotHeader): Buffer {
  const bytes = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  bytes.write(SNAPSHOT_MAGIC, 0, "latin1");
  bytes.writeUInt16LE(FORMAT_VERSION, 8);
  bytes.writeUInt16LE(0, 10);
  bytes.writeDoubleLE(header.createdAtMs, 12);
  bytes.writeDoubleLE(header.hlc, 20);
  bytes.writeUInt32LE(checksum(bytes, 0, 28), 28);
  return bytes;
}

export function decodeSnapshotHeader(
  bytes: Uint8Array,
): { ok: true; header: SnapshotHeader } | { ok: false; error: string } {
  const problem = checkHeader(bytes, SNAPSHOT_MAGIC, SNAPSHOT_HEADER_BYTES, "snapshot");
  if (problem !== null) return { ok: false, error: problem };
  const buffer = asBuffer(bytes);
  const createdAtMs = buffer.readDoubleLE(12);
  const hlc = buffer.readDoubleLE(20);
  if (!Number.isSafeInteger(createdAtMs) || !Number.isSafeInteger(hlc) || hlc < 0) {
    return { ok: false, error: "invalid snapshot header fields" };
  }
  return { ok: true, header: { createdAtMs, hlc } };
}

export interface SnapshotTrailer {
  entryCount: number;
  recordCount: number;
}

export function encodeSnapshotTrailer(trailer: SnapshotTrailer): Buffer {
  const bytes = Buffer.alloc(SNAPSHOT_TRAILER_BYTES);
  bytes.write(TRAILER_MAGIC, 0, "latin1");
  bytes.writeDoubleLE(trailer.entryCount, 8);
  bytes.writeUInt32LE(trailer.recordCount, 16);
  bytes.writeUInt32LE(checksum(bytes, 0, 20), 20);
  return bytes;
}

export function decodeSnapshotTrailer(
  bytes: Uint8Array,
): { ok: true; trailer: SnapshotTrailer } | { ok: false; error: string } {
  if (bytes.length < SNAPSHOT_TRAILER_BYTES) return { ok: false, error: "trailer truncated" };
  const buffer = asBuffer(bytes);
  if (buffer.toString("latin1", 0, 8) !== TRAILER_MAGIC) {
    return { ok: false, error: "no trailer (snapshot incomplete)" };
  }
  if (buffer.readUInt32LE(20) !== checksum(buffer, 0, 20)) {
    return { ok: false, error: "trailer checksum mismatch" };
  }
  const entryCount = buffer.readDoubleLE(8);
  if (!Number.isSafeInteger(entryCount) || entryCount < 0) {
    return { ok: false, error: "invalid trailer entry count" };
  }
  return { ok: true, trailer: { entryCount, recordCount: buffer.readUInt32LE(16) } };
}

function checkHeader(
  bytes: Uint8Array,
  magic: string,
  length: number,
  what: string,
): string | null {
  if (bytes.length < length) return `${what} header truncated`;
  const buffer = asBuffer(bytes);
  if (buffer.toString("latin1", 0, 8) !== magic) return `not a MerkleKV ${what} file (bad magic)`;
  if (buffer.readUInt32LE(length - 4) !== checksum(buffer, 0, length - 4)) {
    return `${what} header checksum mismatch`;
  }
  const version = buffer.readUInt16LE(8);
  if (version !== FORMAT_VERSION) {
    return `${what} format version ${version} is not supported (this build reads ${FORMAT_VERSION})`;
  }
  return null;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return bytes instanceof Buffer
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

// ---------------------------------------------------------------------------------------------
// Records

/** Bytes encodeRecords will produce for these entries. */
export function encodedRecordsLength(entries: readonly Entry[]): number {
  let total = 0;
  let payload = 0;
  for (const entry of entries) {
    if (payload === 0) payload = ENTRY_COUNT_BYTES;
    payload += encodedEntryLength(entry);
    if (payload >= RECORD_TARGET_PAYLOAD_BYTES) {
      total += RECORD_HEADER_BYTES + payload;
      payload = 0;
    }
  }
  return payload === 0 ? total : total + RECORD_HEADER_BYTES + payload;
}

/**
 * Encodes entries as one or more records (a new one starts once a payload reaches
 * RECORD_TARGET_PAYLOAD_BYTES). Returns the bytes and how many records they hold.
 */
export function encodeRecords(entries: readonly Entry[]): { bytes: Buffer; records: number } {
  const bytes = Buffer.allocUnsafe(encodedRecordsLength(entries));
  let records = 0;
  let recordStart = 0;
  let offset = 0;
  let count = 0;
  const close = () => {
    const payloadStart = recordStart + RECORD_HEADER_BYTES;
    bytes.writeUInt32LE(count, payloadStart);
    bytes.writeUInt32LE(offset - payloadStart, recordStart);
    bytes.writeUInt32LE(checksum(bytes, payloadStart, offset), recordStart + 4);
    records++;
    count = 0;
    recordStart = offset;
  };
  for (const entry of entries) {
    if (count === 0) offset = recordStart + RECORD_HEADER_BYTES + ENTRY_COUNT_BYTES;
    offset = encodeEntry(entry, bytes, offset);
    count++;
    if (offset - recordStart - RECORD_HEADER_BYTES >= RECORD_TARGET_PAYLOAD_BYTES) close();
  }
  if (count > 0) close();
  assert(offset === bytes.length, "encodeRecords() writes exactly encodedRecordsLength() bytes");
  return { bytes, records };
}

/** What lies at an offset: a whole record, a record the bytes end inside, or garbage. */
export type RecordScan =
  | { kind: "record"; payloadStart: number; payloadEnd: number }
  | { kind: "incomplete"; reason: string }
  | { kind: "corrupt"; reason: string };

/** Reads the record framing at `offset` (not past `end`) and checks its CRC. */
export function scanRecord(bytes: Buffer, offset: number, end: number): RecordScan {
  if (end - offset < RECORD_HEADER_BYTES) {
    return { kind: "incomplete", reason: `record header truncated (${end - offset} bytes)` };
  }
  const length = bytes.readUInt32LE(offset);
  if (length < ENTRY_COUNT_BYTES || length > MAX_RECORD_PAYLOAD_BYTES) {
    return { kind: "corrupt", reason: `invalid record length ${length}` };
  }
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const payloadEnd = payloadStart + length;
  if (payloadEnd > end) {
    return {
      kind: "incomplete",
      reason: `record of ${length} bytes truncated at ${end - payloadStart} bytes`,
    };
  }
  if (bytes.readUInt32LE(offset + 4) !== checksum(bytes, payloadStart, payloadEnd)) {
    return { kind: "corrupt", reason: "checksum mismatch" };
  }
  return { kind: "record", payloadStart, payloadEnd };
}

export type PayloadDecode = { ok: true; entries: Entry[] } | { ok: false; error: string };

/** Decodes a record payload: the entry count, then exactly that many entries. */
export function decodePayload(bytes: Buffer, start: number, end: number): PayloadDecode {
  if (end - start < ENTRY_COUNT_BYTES) return { ok: false, error: "payload truncated" };
  const count = bytes.readUInt32LE(start);
  if (count === 0) return { ok: false, error: "record without entries" };
  const entries: Entry[] = new Array(count);
  let offset = start + ENTRY_COUNT_BYTES;
  for (let i = 0; i < count; i++) {
    const decoded = decodeEntry(bytes, offset, end);
    if (!decoded.ok) return { ok: false, error: `entry ${i}: ${decoded.error}` };
    entries[i] = decoded.entry;
    offset = decoded.end;
  }
  if (offset !== end) return { ok: false, error: `${end - offset} bytes after the last entry` };
  return { ok: true, entries };
}

/** A record that frames, checks and decodes; null otherwise. */
export function readRecord(
  bytes: Buffer,
  offset: number,
  end: number,
): { entries: Entry[]; next: number } | null {
  const scan = scanRecord(bytes, offset, end);
  if (scan.kind !== "record") return null;
  const decoded = decodePayload(bytes, scan.payloadStart, scan.payloadEnd);
  return decoded.ok ? { entries: decoded.entries, next: scan.payloadEnd } : null;
}

/** What a payload that frames holds: the entries that decode, and why each other was refused. */
export interface PayloadSalvage {
  entries: Entry[];
  /** One message per refused entry, naming its key. */
  refused: string[];
}

/**
 * Reads a payload entry by entry, skipping entries whose lengths frame them but whose content
 * is refused. null when the payload does not frame: the count is zero, an entry's lengths run
 * past the payload, or bytes follow the last entry.
 */
export function salvagePayload(bytes: Buffer, start: number, end: number): PayloadSalvage | null {
  if (end - start < ENTRY_COUNT_BYTES) return null;
  const count = bytes.readUInt32LE(start);
  if (count === 0) return null;
  const salvage: PayloadSalvage = { entries: [], refused: [] };
  let offset = start + ENTRY_COUNT_BYTES;
  for (let i = 0; i < count; i++) {
    const decoded = decodeEntry(bytes, offset, end);
    if (decoded.ok) {
      salvage.entries.push(decoded.entry);
      offset = decoded.end;
    } else if (decoded.end !== null) {
      salvage.refused.push(`entry ${i}: ${decoded.error}`);
      offset = decoded.end;
    } else {
      return null;
    }
  }
  return offset === end ? salvage : null;
}

/**
 * A record whose frame and checksum are intact and whose entries all frame (their content may
 * still be refused): what a valid record looks like to a search through damaged bytes.
 */
function isIntactRecord(bytes: Buffer, offset: number, end: number): boolean {
  const scan = scanRecord(bytes, offset, end);
  return scan.kind === "record" &&
    salvagePayload(bytes, scan.payloadStart, scan.payloadEnd) !== null;
}

/**
 * The first offset in [from, end) where an intact record starts, or -1. Used after a bad
 * record to tell a torn tail (nothing intact follows) from damage in the middle of a file.
 */
export function findValidRecord(bytes: Buffer, from: number, end: number): number {
  for (let offset = from; offset + RECORD_HEADER_BYTES <= end; offset++) {
    const length = bytes.readUInt32LE(offset);
    // Cheap rejections first: most garbage offsets fail on the length alone.
    if (length < ENTRY_COUNT_BYTES || offset + RECORD_HEADER_BYTES + length > end) continue;
    if (isIntactRecord(bytes, offset, end)) return offset;
  }
  return -1;
}

/** A record whose frame and checksum are intact but some of whose entries were refused. */
export interface RewrittenRecord {
  /** [start, end) of the record in the file. */
  range: [number, number];
  /** The entries that decode, to be written as a record of their own. */
  entries: Entry[];
  refused: string[];
}

/** The valid records of a damaged file and the byte ranges between them that are not. */
export interface Salvage {
  /** [start, end) of each valid record, in file order. */
  records: [number, number][];
  /** Intact records with refused entries: only those entries are dropped. */
  rewritten: RewrittenRecord[];
  /** [start, end) of each damaged range. */
  damaged: [number, number][];
  /** Entries kept: those of the valid records and the kept entries of the rewritten ones. */
  entryCount: number;
}

/** Walks all records from `from`, skipping damaged ranges (for scripts/repair_log.ts). */
export function salvageRecords(bytes: Buffer, from: number, end: number): Salvage {
  const salvage: Salvage = { records: [], rewritten: [], damaged: [], entryCount: 0 };
  let offset = from;
  while (offset < end) {
    const scan = scanRecord(bytes, offset, end);
    const payload = scan.kind === "record"
      ? salvagePayload(bytes, scan.payloadStart, scan.payloadEnd)
      : null;
    if (scan.kind === "record" && payload !== null) {
      const range: [number, number] = [offset, scan.payloadEnd];
      if (payload.refused.length === 0) salvage.records.push(range);
      else salvage.rewritten.push({ range, entries: payload.entries, refused: payload.refused });
      salvage.entryCount += payload.entries.length;
      offset = scan.payloadEnd;
      continue;
    }
    const next = findValidRecord(bytes, offset + 1, end);
    const damagedEnd = next === -1 ? end : next;
    salvage.damaged.push([offset, damagedEnd]);
    offset = damagedEnd;
  }
  return salvage;
}
