/**
 * Log segment files (I/O edge): append records with one positioned writeSync per batch, make
 * them durable with fdatasync, and read them back record by record at start-up.
 */

import * as fs from "node:fs";
import { Buffer } from "node:buffer";
import type { Entry } from "../store/mod.ts";
import {
  checkLogHeader,
  decodePayload,
  encodeLogHeader,
  findValidRecord,
  LOG_HEADER_BYTES,
  MAX_RECORD_PAYLOAD_BYTES,
  RECORD_HEADER_BYTES,
  scanRecord,
} from "./record_codec.ts";
import { logPath, syncDirectory, syncDirectoryInBackground } from "./data_dir.ts";
import type { PayloadLoad } from "./payload_loader.ts";
import { assert } from "../assert.ts";

/** Files are read in slices of this size at start-up (a larger record grows the slice). */
const READ_CHUNK_BYTES = 2 * 1024 * 1024;
/**
 * Preallocation, for fsync "always" (see docs/durability.md, File layout): a segment is
 * extended with zeros ahead of its records, by its own size so far, within these bounds. An
 * fdatasync of records written over zeros already on disk commits no new file size to the
 * journal; measured here, it took 0.13-0.14 ms instead of 0.22-0.24 ms.
 */
const MIN_PREALLOCATE_BYTES = 64 * 1024;
const MAX_PREALLOCATE_BYTES = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);

/** A failed write: how many of the bytes reached the file before the error. */
export class SegmentWriteError extends Error {
  constructor(override readonly cause: unknown, readonly path: string) {
    super(`writing ${path}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** One open log segment. Appends go to its end; nothing else writes to it. */
export class LogSegment {
  readonly sequence: number;
  readonly path: string;
  readonly #dir: string;
  /** A write or sync failed: nothing more is written, and no later fsync is trusted. */
  broken = false;
  #fd: number | null;
  /** Where the records end. */
  #size: number;
  /** Where the file ends: past #size it holds zeros written ahead (preallocated). */
  #fileSize: number;
  #syncedSize: number;
  #syncing: Promise<void> | null = null;
  /** Created, and its name not yet made durable: the first sync also syncs the directory. */
  #directoryPending = false;
  readonly #preallocates: boolean;

  private constructor(
    dir: string,
    sequence: number,
    fd: number,
    size: number,
    fileSize: number,
    preallocate: boolean,
  ) {
    this.#dir = dir;
    this.#preallocates = preallocate;
    this.sequence = sequence;
    this.path = logPath(dir, sequence);
    this.#fd = fd;
    this.#size = size;
    this.#fileSize = fileSize;
    this.#syncedSize = size;
  }

  /**
   * Creates log.<sequence> with its header. Its first syncData() (or close) also makes the
   * header and the directory entry durable, in the background, so that rotating to a new
   * segment never waits for the disk. `preallocate`: write zeros ahead of the records.
   */
  static create(dir: string, sequence: number, preallocate = false): LogSegment {
    const path = logPath(dir, sequence);
    const fd = fs.openSync(path, "w");
    try {
      const header = encodeLogHeader();
      writeAll(fd, header, 0);
      const segment = new LogSegment(
        dir,
        sequence,
        fd,
        header.length,
        header.length,
        preallocate,
      );
      segment.#syncedSize = 0;
      segment.#directoryPending = true;
      return segment;
    } catch (error) {
      fs.closeSync(fd);
      fs.rmSync(path, { force: true });
      throw error;
    }
  }

  /** Opens a recovered segment for appending after its last valid record (zeros after it). */
  static reopen(
    dir: string,
    sequence: number,
    validEnd: number,
    preallocate = false,
  ): LogSegment {
    const fd = fs.openSync(logPath(dir, sequence), "r+");
    return new LogSegment(dir, sequence, fd, validEnd, fs.fstatSync(fd).size, preallocate);
  }

  /** Bytes of header and records (the zeros preallocated after them not counted). */
  get size(): number {
    return this.#size;
  }

  /** Bytes written but not yet known to be on disk. */
  get unsyncedBytes(): number {
    return this.#size - this.#syncedSize;
  }

  get hasRecords(): boolean {
    return this.#size > LOG_HEADER_BYTES;
  }

  /**
   * Appends bytes at the end (one positioned write, repeated only after a short write). On
   * failure the bytes written by this call are cut off again where possible, and a
   * SegmentWriteError is thrown; the segment must not be written again after that.
   */
  write(bytes: Uint8Array): void {
    const fd = this.#openFd();
    const start = this.#size;
    try {
      const end = start + bytes.length;
      if (end > this.#fileSize && this.#preallocates) this.#preallocate(fd, end);
      writeAll(fd, bytes, start);
      this.#size = end;
    } catch (error) {
      this.broken = true;
      try {
        fs.ftruncateSync(fd, start);
        this.#fileSize = start;
      } catch {
        // The partial record stays; start-up cuts it off as a torn tail.
      }
      throw new SegmentWriteError(error, this.path);
    }
  }

  /** Writes zeros from the file's end to past `end`, by the segment's size within bounds. */
  #preallocate(fd: number, end: number): void {
    const ahead = Math.min(MAX_PREALLOCATE_BYTES, Math.max(MIN_PREALLOCATE_BYTES, end));
    const target = end + ahead;
    let position = this.#fileSize;
    while (position < target) {
      const length = Math.min(ZEROS.length, target - position);
      writeAll(fd, ZEROS.subarray(0, length), position);
      position += length;
    }
    this.#fileSize = target;
  }

  /** No sync of this segment is under way, and the directory needs none: see syncData(). */
  get canSyncOnLoop(): boolean {
    return this.#syncing === null && !this.#directoryPending;
  }

  /**
   * fdatasync; settles when what was written before the call is on disk. `onLoop` (only when
   * canSyncOnLoop): on the event loop's thread, blocking it; by default in the background.
   */
  syncData(onLoop = false): Promise<void> {
    const fd = this.#openFd();
    const target = this.#size;
    if (onLoop) {
      assert(this.canSyncOnLoop, `${this.path} is synced on the loop only when it can be`);
      try {
        fs.fdatasyncSync(fd);
      } catch (error) {
        return Promise.reject(error);
      }
      if (target > this.#syncedSize) this.#syncedSize = target;
      return Promise.resolve();
    }
    const previous = this.#syncing ?? Promise.resolve();
    const directory = this.#directoryPending;
    const syncing = previous.then(async () => {
      await new Promise<void>((resolve, reject) => {
        fs.fdatasync(fd, (error) => error ? reject(error) : resolve());
      });
      if (directory) await syncDirectoryInBackground(this.#dir);
      if (directory) this.#directoryPending = false;
      if (target > this.#syncedSize) this.#syncedSize = target;
    });
    this.#syncing = syncing;
    syncing.then(
      () => this.#syncing === syncing && (this.#syncing = null),
      () => this.#syncing === syncing && (this.#syncing = null),
    );
    return syncing;
  }

  /**
   * Waits for a background sync, cuts the preallocated zeros off, optionally syncs what is
   * left, and closes the file.
   */
  async close(syncFirst: boolean): Promise<void> {
    if (this.#fd === null) return;
    await this.#syncing?.catch(() => {});
    const fd = this.#fd;
    this.#fd = null;
    try {
      const cut = syncFirst && this.#fileSize > this.#size;
      if (cut) fs.ftruncateSync(fd, this.#size);
      if (cut || (syncFirst && this.#size > this.#syncedSize)) fs.fdatasyncSync(fd);
      if (syncFirst && this.#directoryPending) syncDirectory(this.#dir);
    } finally {
      fs.closeSync(fd);
    }
  }

  #openFd(): number {
    assert(this.#fd !== null, `log segment ${this.path} is written only while open`);
    return this.#fd;
  }
}

function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Bytes after the last valid record that are not valid records themselves. */
export interface Damage {
  offset: number;
  reason: string;
  /**
   * The record at `offset` has an intact frame and checksum; only its content is refused.
   * Such a record was written whole, so it is never a torn tail.
   */
  intact: boolean;
  /** Where a valid record starts again after the damage; -1 when none does (a bad tail). */
  nextValidOffset: number;
}

export interface FileScan {
  /** Offset just after the last valid record. */
  validEnd: number;
  fileBytes: number;
  records: number;
  entries: number;
  damage: Damage | null;
}

/**
 * What a scan does with each record that frames and checks: applies its payload `bytes[start,
 * end)` (the record ends at `endOffset` in the file) and says how many entries it held, or why
 * it does not decode.
 */
export type PayloadReader = (
  bytes: Buffer,
  start: number,
  end: number,
  endOffset: number,
) => PayloadLoad;

/** A PayloadReader that decodes each payload whole (decodePayload) and hands on its entries. */
export function decodingPayloads(
  onEntries: (entries: Entry[], endOffset: number) => void,
): PayloadReader {
  return (bytes, start, end, endOffset) => {
    const decoded = decodePayload(bytes, start, end);
    if (!decoded.ok) return decoded;
    onEntries(decoded.entries, endOffset);
    return { ok: true, entries: decoded.entries.length };
  };
}

/**
 * The read buffer of one file's scan, handed on to the next (recovery reads every file with
 * one): a buffer's pages are faulted in once, not once per file (see docs/performance.md,
 * Start-up). The buffer's bytes are valid only during the PayloadReader's call.
 */
export class ReadBuffer {
  #buffer: Buffer | null = null;

  /** A buffer of at least `bytes` bytes: the one kept, if that large, else a new one. */
  take(bytes: number): Buffer {
    const kept = this.#buffer;
    return kept !== null && kept.length >= bytes ? kept : Buffer.allocUnsafe(bytes);
  }

  /** Keeps `buffer` for the next take(), unless a larger one is kept. */
  keep(buffer: Buffer): void {
    if (this.#buffer === null || buffer.length > this.#buffer.length) this.#buffer = buffer;
  }
}

/** Reads a log segment: checks the header, then hands each record's payload to `onPayload`. */
export function scanLogFile(
  path: string,
  onPayload: PayloadReader,
  reads: ReadBuffer = new ReadBuffer(),
): { ok: true; scan: FileScan } | { ok: false; error: string; headerBytes: number } {
  const fd = fs.openSync(path, "r");
  try {
    const fileBytes = fs.fstatSync(fd).size;
    const header = Buffer.alloc(Math.min(fileBytes, LOG_HEADER_BYTES));
    readAll(fd, header, 0);
    const problem = checkLogHeader(header);
    if (problem !== null) return { ok: false, error: problem, headerBytes: fileBytes };
    const scan = scanRecordsInFile(fd, LOG_HEADER_BYTES, fileBytes, onPayload, reads);
    return { ok: true, scan };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Walks the records in [from, to) of an open file in slices of READ_CHUNK_BYTES. Stops at the
 * first record that is incomplete, fails its checksum or does not decode, and then looks for a
 * valid record further on, so that the caller can tell a bad tail from damage in the middle.
 */
export function scanRecordsInFile(
  fd: number,
  from: number,
  to: number,
  onPayload: PayloadReader,
  reads: ReadBuffer = new ReadBuffer(),
): FileScan {
  const scan: FileScan = { validEnd: from, fileBytes: to, records: 0, entries: 0, damage: null };
  let buffer = reads.take(Math.min(READ_CHUNK_BYTES, Math.max(to - from, 1)));
  let bufferStart = from;
  let bufferLength = readAll(fd, buffer.subarray(0, Math.min(buffer.length, to - from)), from);
  let offset = from;
  while (offset < to) {
    const local = offset - bufferStart;
    // A record's length is at least 4, so its first four bytes are never all zero: zeros to
    // the end are the space preallocated ahead (see LogSegment), not damage.
    if (buffer[local] === 0 && zeroUntil(fd, buffer.subarray(local, bufferLength), offset, to)) {
      break;
    }
    const record = scanRecord(buffer, local, bufferLength);
    if (record.kind === "incomplete" && bufferStart + bufferLength < to) {
      // The slice ends inside this record: slide it to the front, grow if needed, read more.
      const needed = Math.min(neededBytes(buffer, local, bufferLength), to - offset);
      const next = needed > buffer.length ? Buffer.allocUnsafe(needed) : buffer;
      buffer.copy(next, 0, local, bufferLength);
      buffer = next;
      bufferLength -= local;
      bufferStart = offset;
      const room = Math.min(buffer.length - bufferLength, to - bufferStart - bufferLength);
      const read = readAll(
        fd,
        buffer.subarray(bufferLength, bufferLength + room),
        bufferStart + bufferLength,
      );
      bufferLength += read;
      if (read === 0) to = bufferStart + bufferLength; // the file shrank under us
      continue;
    }
    let reason = record.kind === "record" ? "" : record.reason;
    const intact = record.kind === "record";
    if (record.kind === "record") {
      const endOffset = bufferStart + record.payloadEnd;
      const loaded = onPayload(buffer, record.payloadStart, record.payloadEnd, endOffset);
      if (loaded.ok) {
        scan.records++;
        scan.entries += loaded.entries;
        offset = bufferStart + record.payloadEnd;
        scan.validEnd = offset;
        continue;
      }
      reason = `record does not decode: ${loaded.error}`;
    }
    scan.damage = { offset, reason, intact, nextValidOffset: findValidAfter(fd, offset, to) };
    break;
  }
  reads.keep(buffer);
  return scan;
}

/** Whether the file holds only zeros from `offset` (where `start` was read from) to `to`. */
function zeroUntil(fd: number, start: Buffer, offset: number, to: number): boolean {
  if (!isZero(start)) return false;
  if (offset + start.length >= to) return true;
  const slice = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, to - offset));
  for (let position = offset + start.length; position < to;) {
    const read = readAll(fd, slice.subarray(0, Math.min(slice.length, to - position)), position);
    if (read === 0 || !isZero(slice.subarray(0, read))) return read === 0;
    position += read;
  }
  return true;
}

function isZero(bytes: Buffer): boolean {
  for (let offset = 0; offset < bytes.length; offset += ZEROS.length) {
    const part = bytes.subarray(offset, Math.min(bytes.length, offset + ZEROS.length));
    if (part.compare(ZEROS, 0, part.length) !== 0) return false;
  }
  return true;
}

/** Bytes the slice must hold for the record at `local` (its header, or all of it). */
function neededBytes(buffer: Buffer, local: number, bufferLength: number): number {
  if (bufferLength - local < RECORD_HEADER_BYTES) return RECORD_HEADER_BYTES;
  const length = buffer.readUInt32LE(local);
  return RECORD_HEADER_BYTES + Math.min(length, MAX_RECORD_PAYLOAD_BYTES);
}

/** Offset of the first valid record after a bad one at `offset`, or -1. */
function findValidAfter(fd: number, offset: number, to: number): number {
  const rest = Buffer.allocUnsafe(to - offset);
  readAll(fd, rest, offset);
  const found = findValidRecord(rest, 1, rest.length);
  return found === -1 ? -1 : offset + found;
}

export function readAll(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const read = fs.readSync(fd, into, done, into.length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return done;
}

/** Cuts a file to `size` bytes and makes the cut durable. */
export function truncateFile(path: string, size: number): void {
  const fd = fs.openSync(path, "r+");
  try {
    fs.ftruncateSync(fd, size);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
