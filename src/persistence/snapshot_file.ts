/**
 * Snapshot files (I/O edge). Written to snapshot.<N>.tmp a slice at a time, then made durable
 * and atomic: trailer, fdatasync, rename to snapshot.<N>, fsync of the directory.
 */

import * as fs from "node:fs";
import { Buffer } from "node:buffer";
import type { Entry } from "../store/mod.ts";
import {
  decodeSnapshotHeader,
  decodeSnapshotTrailer,
  encodeRecords,
  encodeSnapshotHeader,
  encodeSnapshotTrailer,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
  type SnapshotHeader,
} from "./record_codec.ts";
import { snapshotPath, syncDirectoryInBackground, TEMPORARY_SUFFIX } from "./data_dir.ts";
import {
  decodingPayloads,
  type PayloadReader,
  readAll,
  ReadBuffer,
  scanRecordsInFile,
} from "./log_file.ts";
import { assert } from "../assert.ts";

export interface SnapshotSummary {
  path: string;
  bytes: number;
  entries: number;
}

export class SnapshotWriter {
  readonly #dir: string;
  readonly #path: string;
  readonly #temporaryPath: string;
  #fd: number | null;
  #bytes = 0;
  #entries = 0;
  #records = 0;

  private constructor(dir: string, path: string, fd: number) {
    this.#dir = dir;
    this.#path = path;
    this.#temporaryPath = path + TEMPORARY_SUFFIX;
    this.#fd = fd;
  }

  /** snapshot.<sequence>, written as snapshot.<sequence>.tmp. */
  static create(dir: string, sequence: number, header: SnapshotHeader): SnapshotWriter {
    return SnapshotWriter.createAt(dir, snapshotPath(dir, sequence), header);
  }

  /** A snapshot file at `path` in `dir` (a backup), written as `path`.tmp. */
  static createAt(dir: string, path: string, header: SnapshotHeader): SnapshotWriter {
    const fd = fs.openSync(path + TEMPORARY_SUFFIX, "w");
    const writer = new SnapshotWriter(dir, path, fd);
    try {
      writer.#write(encodeSnapshotHeader(header));
    } catch (error) {
      writer.abort();
      throw error;
    }
    return writer;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get entries(): number {
    return this.#entries;
  }

  /** Appends entries as records (one write for the whole slice). */
  writeEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const { bytes, records } = encodeRecords(entries);
    this.#write(bytes);
    this.#records += records;
    this.#entries += entries.length;
  }

  /** Trailer, fdatasync (in the background), rename into place, fsync of the directory. */
  async commit(): Promise<SnapshotSummary> {
    const fd = this.#openFd();
    this.#write(encodeSnapshotTrailer({ entryCount: this.#entries, recordCount: this.#records }));
    await new Promise<void>((resolve, reject) =>
      fs.fdatasync(fd, (error) => error ? reject(error) : resolve())
    );
    this.#fd = null;
    fs.closeSync(fd);
    const path = this.#path;
    fs.renameSync(this.#temporaryPath, path);
    await syncDirectoryInBackground(this.#dir);
    return { path, bytes: this.#bytes, entries: this.#entries };
  }

  /** Closes and removes the unfinished file (errors ignored: start-up removes leftovers). */
  abort(): void {
    if (this.#fd !== null) {
      try {
        fs.closeSync(this.#fd);
      } catch {
        // already closed
      }
      this.#fd = null;
    }
    fs.rmSync(this.#temporaryPath, { force: true });
  }

  #write(bytes: Uint8Array): void {
    const fd = this.#openFd();
    let done = 0;
    while (done < bytes.length) {
      done += fs.writeSync(fd, bytes, done, bytes.length - done, this.#bytes + done);
    }
    this.#bytes += bytes.length;
  }

  #openFd(): number {
    assert(this.#fd !== null, "a snapshot writer is written only while open");
    return this.#fd;
  }
}

export type SnapshotRead =
  | { ok: true; header: SnapshotHeader; entries: number; bytes: number }
  | {
    ok: false;
    error: string;
    offset: number;
    /** The record at `offset` is intact (frame and checksum); only its content is refused. */
    intact: boolean;
  };

/** Reads a complete snapshot, handing each record's entries to `onEntries`. */
export function readSnapshotFile(
  path: string,
  onEntries: (entries: Entry[], endOffset: number) => void,
): SnapshotRead {
  return readSnapshotPayloads(path, decodingPayloads(onEntries));
}

/**
 * readSnapshotFile() handing each record's payload to `onPayload` (recovery's fast path).
 * `onTrailer`, once the header and trailer check and before any record is read, is given the
 * entry count the trailer promises (checked against the records only after they are read) and
 * the file's size.
 */
export function readSnapshotPayloads(
  path: string,
  onPayload: PayloadReader,
  onTrailer: (entryCount: number, fileBytes: number) => void = () => {},
  reads: ReadBuffer = new ReadBuffer(),
): SnapshotRead {
  const fd = fs.openSync(path, "r");
  try {
    const bytes = fs.fstatSync(fd).size;
    if (bytes < SNAPSHOT_HEADER_BYTES + SNAPSHOT_TRAILER_BYTES) {
      return { ok: false, error: `snapshot truncated (${bytes} bytes)`, offset: 0, intact: false };
    }
    const headerBytes = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
    readAll(fd, headerBytes, 0);
    const header = decodeSnapshotHeader(headerBytes);
    if (!header.ok) return { ok: false, error: header.error, offset: 0, intact: false };
    const trailerOffset = bytes - SNAPSHOT_TRAILER_BYTES;
    const trailerBytes = Buffer.alloc(SNAPSHOT_TRAILER_BYTES);
    readAll(fd, trailerBytes, trailerOffset);
    const trailer = decodeSnapshotTrailer(trailerBytes);
    if (!trailer.ok) {
      return { ok: false, error: trailer.error, offset: trailerOffset, intact: false };
    }
    onTrailer(trailer.trailer.entryCount, bytes);
    const scan = scanRecordsInFile(fd, SNAPSHOT_HEADER_BYTES, trailerOffset, onPayload, reads);
    if (scan.damage !== null) {
      const { reason, offset, intact } = scan.damage;
      return { ok: false, error: reason, offset, intact };
    }
    const { entryCount, recordCount } = trailer.trailer;
    if (scan.entries !== entryCount || scan.records !== recordCount) {
      return {
        ok: false,
        error: `trailer promises ${entryCount} entries in ${recordCount} records, ` +
          `found ${scan.entries} in ${scan.records}`,
        offset: trailerOffset,
        intact: false,
      };
    }
    return { ok: true, header: header.header, entries: scan.entries, bytes };
  } finally {
    fs.closeSync(fd);
  }
}
