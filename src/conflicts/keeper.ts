/**
 * The conflict log as the node keeps it (see docs/consistency.md, Record mode): the records
 * in memory (conflict_log.ts) and, with data_dir, in their file (conflict_file.ts), which is
 * rewritten once it holds more than twice conflicts.log_max_entries lines.
 */

import type { ConflictsConfig, FsyncPolicy } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import { ConflictFile } from "./conflict_file.ts";
import { type ConflictDot, ConflictLog, parseConflict } from "./conflict_log.ts";

export interface ConflictKeeperOptions {
  conflicts: ConflictsConfig;
  /** null: the records live in memory only. */
  dataDir: string | null;
  fsync: FsyncPolicy;
  log: Logger;
}

/** How many lines past the bound the file may grow before it is rewritten: 2x the bound. */
const REWRITE_FACTOR = 2;

export class ConflictKeeper {
  readonly #log: ConflictLog;
  readonly #file: ConflictFile | null;
  #rewriting = false;

  private constructor(log: ConflictLog, file: ConflictFile | null) {
    this.#log = log;
    this.#file = file;
  }

  /** Reads the file in data_dir (if any) into a log of conflicts.log_max_entries records. */
  static async open(options: ConflictKeeperOptions): Promise<ConflictKeeper> {
    const log = new ConflictLog(options.conflicts.logMaxEntries);
    if (options.dataDir === null) return new ConflictKeeper(log, null);
    const opened = await ConflictFile.open(options.dataDir, options.fsync, options.log);
    for (const record of opened.records) log.add(record);
    const keeper = new ConflictKeeper(log, opened.file);
    keeper.#rewriteIfLong();
    return keeper;
  }

  get size(): number {
    return this.#log.size;
  }

  /** A concurrent pair detected now (store.onConflict): kept unless held already. */
  record(key: string, winner: ConflictDot, loser: ConflictDot, detectedAtMs: number): void {
    const record = { key, winner: { ...winner }, loser: { ...loser }, detectedAtMs };
    if (!this.#log.add(record)) return;
    this.#file?.append(record);
    this.#rewriteIfLong();
  }

  /** Listing lines, newest first (see ConflictLog.list). */
  list(count: number, allowed: ((key: string) => boolean) | null): string[] {
    return this.#log.list(count, allowed);
  }

  /** CONFLICTS CLEAR: empty in memory now, and on disk when this resolves (rejects: it failed). */
  async clear(): Promise<void> {
    this.#log.clear();
    await this.#file?.rewrite([]);
  }

  /** conflicts.log_max_entries changed: a smaller bound drops the oldest now. */
  setMaxEntries(maxEntries: number): void {
    this.#log.setMaxEntries(maxEntries);
    this.#rewriteIfLong();
  }

  #rewriteIfLong(): void {
    const file = this.#file;
    if (file === null || this.#rewriting) return;
    if (file.lines <= REWRITE_FACTOR * this.#log.maxEntries) return;
    this.#rewriting = true;
    const records = this.#log.lines().map((line) => parseConflict(line)!);
    // A failure is logged by the file; the next record past the bound tries again.
    file.rewrite(records).catch(() => {}).finally(() => this.#rewriting = false);
  }

  close(): Promise<void> {
    return this.#file?.close() ?? Promise.resolve();
  }
}
