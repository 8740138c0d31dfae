/**
 * The conflict log's file, `conflicts.log` in data_dir (see docs/durability.md, File layout).
 * Pure: text in, records out. Latin1 text, one line per record, LF-terminated:
 *
 *   MERKLEKV-CONFLICTS 1                                   header: format version 1
 *   <key> <winner node>@<hlc> <loser node>@<hlc> <unix ms> <crc>
 *
 * where <crc> is the CRC-32 of the line before its last space, as 8 lower-case hex digits. A
 * file is read up to its first line that is torn (no LF) or damaged; what follows is dropped.
 */

import { crc32 } from "node:zlib";
import { Buffer } from "node:buffer";
import { type ConflictRecord, formatConflict, parseConflict } from "./conflict_log.ts";

export const CONFLICT_FILE_HEADER = "MERKLEKV-CONFLICTS 1";

export interface DecodedConflictFile {
  /** Whole records, oldest first. */
  records: ConflictRecord[];
  /** Why reading stopped before the end (torn or damaged), with the 1-based line; else null. */
  damage: { line: number; reason: string } | null;
}

function checksum(line: string): string {
  return (crc32(Buffer.from(line, "latin1")) >>> 0).toString(16).padStart(8, "0");
}

/** One record's line, LF included. */
export function encodeConflictLine(record: ConflictRecord): string {
  const line = formatConflict(record);
  return line + " " + checksum(line) + "\n";
}

/** A whole file: the header, then the records' lines. */
export function encodeConflictFile(records: readonly ConflictRecord[]): string {
  let text = CONFLICT_FILE_HEADER + "\n";
  for (const record of records) text += encodeConflictLine(record);
  return text;
}

/** Reads what is whole; an empty text is an empty log (a file created but never written). */
export function decodeConflictFile(text: string): DecodedConflictFile {
  const records: ConflictRecord[] = [];
  if (text.length === 0) return { records, damage: null };
  const lines = text.split("\n");
  // After the last LF comes "" for a whole file; anything else is a torn line.
  const torn = lines.pop() ?? "";
  if (lines[0] !== CONFLICT_FILE_HEADER) {
    const reason = lines.length === 0 ? "torn header" : "not a conflict log (format 1) header";
    return { records, damage: { line: 1, reason } };
  }
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const space = line.lastIndexOf(" ");
    const body = line.slice(0, space);
    if (space === -1 || line.slice(space + 1) !== checksum(body)) {
      return { records, damage: { line: i + 1, reason: "checksum mismatch" } };
    }
    const record = parseConflict(body);
    if (record === null) return { records, damage: { line: i + 1, reason: "malformed record" } };
    records.push(record);
  }
  if (torn.length > 0) return { records, damage: { line: lines.length + 1, reason: "torn line" } };
  return { records, damage: null };
}
