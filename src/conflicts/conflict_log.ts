/**
 * The conflict log (see docs/consistency.md, Record mode): the losing versions of concurrent
 * writes, as a bounded list of records, oldest dropped first, each (key, winner, loser) at most
 * once while it is held. Pure: the time of detection is passed in, the file is conflict_file.ts.
 *
 * A record is held as one string, its listing line without the time: `<key> <winner node>@<hlc>
 * <loser node>@<hlc>`; the same string is the member of the set that keeps records unique, so a
 * record costs its key's bytes, two node ids (64 bytes at most each), two HLCs written in
 * decimal, and a fixed overhead (see docs/consistency.md, Memory of the conflict log).
 */

import { assert } from "../assert.ts";

/** A version: the node that wrote it and its HLC timestamp (the store's Dot). */
export interface ConflictDot {
  node: string;
  hlc: number;
}

/** One concurrent pair as detected on this node. */
export interface ConflictRecord {
  key: string;
  /** The version that won by LWW (HLC, then node id). */
  winner: ConflictDot;
  /** The version that lost, kept on record here. */
  loser: ConflictDot;
  /** When this node detected it (Unix ms, wall clock). */
  detectedAtMs: number;
}

interface Held {
  /** `<key> <winner> <loser>`: the record's identity and its listing line without the time. */
  readonly identity: string;
  readonly detectedAtMs: number;
}

/** `node@hlc`, as listed and stored. */
export function formatDot(dot: ConflictDot): string {
  return dot.node + "@" + dot.hlc;
}

/** The identity of a record: `<key> <winner node>@<hlc> <loser node>@<hlc>`. */
export function conflictIdentity(key: string, winner: ConflictDot, loser: ConflictDot): string {
  return key + " " + formatDot(winner) + " " + formatDot(loser);
}

/** A listing line (no line end): the identity, a space, the time of detection in Unix ms. */
export function formatConflict(record: ConflictRecord): string {
  return conflictIdentity(record.key, record.winner, record.loser) + " " + record.detectedAtMs;
}

const DOT_PATTERN = /^([A-Za-z0-9._-]{1,64})@(0|[1-9][0-9]{0,15})$/;

/** `node@hlc`, or null when malformed. */
export function parseDot(text: string): ConflictDot | null {
  const match = DOT_PATTERN.exec(text);
  if (match === null) return null;
  const hlc = Number(match[2]);
  return Number.isSafeInteger(hlc) ? { node: match[1]!, hlc } : null;
}

/** A listing line back into its record, or null when malformed (files and tests read it). */
export function parseConflict(line: string): ConflictRecord | null {
  const words = line.split(" ");
  if (words.length !== 4) return null;
  const [key, winnerText, loserText, timeText] = words as [string, string, string, string];
  const winner = parseDot(winnerText);
  const loser = parseDot(loserText);
  const detectedAtMs = /^[0-9]{1,16}$/.test(timeText) ? Number(timeText) : NaN;
  if (key.length === 0 || winner === null || loser === null) return null;
  if (!Number.isSafeInteger(detectedAtMs)) return null;
  return { key, winner, loser, detectedAtMs };
}

export class ConflictLog {
  /** Oldest first, from #start on; the slots before #start were dropped. */
  #held: Held[] = [];
  #start = 0;
  readonly #identities = new Set<string>();
  #maxEntries: number;

  constructor(maxEntries: number) {
    assert(Number.isSafeInteger(maxEntries) && maxEntries >= 1, "a conflict log holds >= 1");
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#held.length - this.#start;
  }

  get maxEntries(): number {
    return this.#maxEntries;
  }

  /** Keeps the record unless it is held already; the oldest go past the bound. True: kept. */
  add(record: ConflictRecord): boolean {
    const identity = conflictIdentity(record.key, record.winner, record.loser);
    if (this.#identities.has(identity)) return false;
    this.#identities.add(identity);
    this.#held.push({ identity, detectedAtMs: record.detectedAtMs });
    this.#trim();
    return true;
  }

  /** conflicts.log_max_entries changed: a smaller bound drops the oldest records now. */
  setMaxEntries(maxEntries: number): void {
    assert(Number.isSafeInteger(maxEntries) && maxEntries >= 1, "a conflict log holds >= 1");
    this.#maxEntries = maxEntries;
    this.#trim();
  }

  clear(): void {
    this.#held = [];
    this.#start = 0;
    this.#identities.clear();
  }

  /** Up to `count` listing lines, newest first, of the records whose key `allowed` lets through. */
  list(count: number, allowed: ((key: string) => boolean) | null): string[] {
    const lines: string[] = [];
    for (let i = this.#held.length - 1; i >= this.#start && lines.length < count; i--) {
      const held = this.#held[i]!;
      if (allowed !== null && !allowed(held.identity.slice(0, held.identity.indexOf(" ")))) {
        continue;
      }
      lines.push(held.identity + " " + held.detectedAtMs);
    }
    return lines;
  }

  /** Every listing line, oldest first (what a rewritten file holds). */
  lines(): string[] {
    const lines: string[] = [];
    for (let i = this.#start; i < this.#held.length; i++) {
      const held = this.#held[i]!;
      lines.push(held.identity + " " + held.detectedAtMs);
    }
    return lines;
  }

  #trim(): void {
    while (this.size > this.#maxEntries) {
      const dropped = this.#held[this.#start]!;
      this.#identities.delete(dropped.identity);
      this.#start++;
    }
    // The dropped slots are reclaimed once they are half of the array: amortized O(1).
    if (this.#start > 0 && this.#start * 2 >= this.#held.length) {
      this.#held = this.#held.slice(this.#start);
      this.#start = 0;
    }
  }
}
