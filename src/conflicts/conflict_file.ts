/**
 * The conflict log's file in data_dir (I/O edge; the format is file_codec.ts). Records are
 * appended a batch per event-loop turn, in order, by one chain of writes; the file is
 * rewritten whole (temporary file, fsync, rename) by CONFLICTS CLEAR, after damage is found at
 * start, and once it holds more than twice conflicts.log_max_entries lines (see
 * docs/durability.md, The conflict log).
 */

import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { FsyncPolicy } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import type { ConflictRecord } from "./conflict_log.ts";
import { decodeConflictFile, encodeConflictFile, encodeConflictLine } from "./file_codec.ts";

export const CONFLICT_FILE_NAME = "conflicts.log";
const TEMPORARY_SUFFIX = ".tmp";
/** fsync = "everysec": appended records reach the disk within this. */
const EVERYSEC_INTERVAL_MS = 1000;

export class ConflictFile {
  readonly #path: string;
  readonly #fsync: FsyncPolicy;
  readonly #log: Logger;
  #handle: fs.FileHandle | null = null;
  /** Lines appended since the file was last written whole (the header aside). */
  #lines = 0;
  #pending = "";
  #flushTimer: ReturnType<typeof setTimeout> | null = null;
  #syncTimer: ReturnType<typeof setInterval> | null = null;
  #unsynced = false;
  /** Every write, in order; a failure is logged and the chain goes on. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(dir: string, fsync: FsyncPolicy, log: Logger) {
    this.#path = path.join(dir, CONFLICT_FILE_NAME);
    this.#fsync = fsync;
    this.#log = log;
  }

  /** Opens (or creates) the file and reads what it holds whole, oldest first. */
  static async open(
    dir: string,
    fsync: FsyncPolicy,
    log: Logger,
  ): Promise<{ file: ConflictFile; records: ConflictRecord[] }> {
    const file = new ConflictFile(dir, fsync, log);
    const records = await file.#read();
    file.#handle = await fs.open(file.#path, "a");
    if (fsync === "everysec") {
      file.#syncTimer = setInterval(() => file.#syncIfNeeded(), EVERYSEC_INTERVAL_MS);
    }
    return { file, records };
  }

  /** Lines in the file beyond its header. */
  get lines(): number {
    return this.#lines;
  }

  async #read(): Promise<ConflictRecord[]> {
    let text: string;
    try {
      text = await fs.readFile(this.#path, "latin1");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") {
        await this.#writeWhole([]);
        return [];
      }
      throw error;
    }
    const { records, damage } = decodeConflictFile(text);
    this.#lines = records.length;
    if (damage !== null) {
      // As with the main log's torn tail: keep what is whole, say what was cut.
      this.#log.warn("conflict_log_damaged", {
        path: this.#path,
        line: damage.line,
        reason: damage.reason,
        records_read: records.length,
      });
      await this.#writeWhole(records);
    }
    return records;
  }

  /** Queues a record; the lines of one event-loop turn go out in one write. */
  append(record: ConflictRecord): void {
    if (this.#closed) return;
    this.#pending += encodeConflictLine(record);
    this.#lines++;
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = null;
      this.#flush();
    }, 0);
  }

  #flush(): void {
    const text = this.#pending;
    this.#pending = "";
    if (text.length === 0) return;
    this.#enqueue(async () => {
      await this.#handle?.write(text, null, "latin1");
      if (this.#fsync === "always") await this.#handle?.datasync();
      else this.#unsynced = true;
    });
  }

  /**
   * Replaces the file with these records (queued writes first); resolves once durable, rejects
   * when the rewrite failed (logged as well).
   */
  rewrite(records: readonly ConflictRecord[]): Promise<void> {
    this.#flush();
    const copy = [...records];
    this.#lines = copy.length;
    return this.#enqueue(async () => {
      await this.#handle?.close();
      this.#handle = null;
      await this.#writeWhole(copy);
      this.#handle = await fs.open(this.#path, "a");
    });
  }

  /** Temporary file, fsync, rename, fsync of the directory: the old file or the new. */
  async #writeWhole(records: readonly ConflictRecord[]): Promise<void> {
    const temporary = this.#path + TEMPORARY_SUFFIX;
    const handle = await fs.open(temporary, "w");
    try {
      await handle.write(encodeConflictFile(records), null, "latin1");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, this.#path);
    const directory = await fs.open(path.dirname(this.#path), "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  #syncIfNeeded(): void {
    if (!this.#unsynced) return;
    this.#unsynced = false;
    this.#enqueue(async () => {
      await this.#handle?.datasync();
    });
  }

  /**
   * Runs `write` after the writes before it; a failure is logged and the chain goes on. The
   * promise returned rejects with the failure (handled already: callers may ignore it).
   */
  #enqueue(write: () => Promise<void>): Promise<void> {
    const done = this.#chain.then(write);
    this.#chain = done.catch((error) => {
      this.#log.error("conflict_log_write_failed", { path: this.#path, message: String(error) });
    });
    return done;
  }

  /** Writes what is queued, fsyncs it (whatever the policy: a clean stop loses nothing). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    if (this.#syncTimer !== null) clearInterval(this.#syncTimer);
    this.#flushTimer = null;
    this.#flush();
    this.#closed = true;
    await this.#enqueue(async () => {
      if (this.#fsync !== "no") await this.#handle?.datasync();
      await this.#handle?.close();
      this.#handle = null;
    });
  }
}
