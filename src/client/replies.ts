/**
 * Reading the replies of protocol v1 (see docs/protocol.md) for the typed client: each
 * function takes one reply's lines (binary strings, header first) and returns what it says, or
 * throws a ServerError for `ERROR <message>` and a ClientError for a reply it does not expect.
 * Pure.
 */

import { ClientError, ServerError } from "./errors.ts";
import { fromBinary, show } from "./wire.ts";

const ERROR_PREFIX = "ERROR ";

/** The ServerError of an `ERROR` reply, else a ClientError naming the reply. */
function unexpected(line: string): ClientError {
  if (line.startsWith(ERROR_PREFIX)) return new ServerError(fromBinary(line.slice(6)));
  return new ClientError(`unexpected reply: ${show(fromBinary(line))}`);
}

/** The single line of a one-line reply. */
function only(reply: readonly string[]): string {
  const [line] = reply;
  if (reply.length !== 1 || line === undefined) throw unexpected(reply.join(" | "));
  return line;
}

/** The header line of a reply (a reply always has one; an empty one is unexpected). */
function headerOf(reply: readonly string[]): string {
  const [header] = reply;
  if (header === undefined) throw unexpected("");
  return header;
}

export function expectExactly(reply: readonly string[], expected: string): void {
  const line = only(reply);
  if (line !== expected) throw unexpected(line);
}

/** `OK`/`DELETED` (`yes`) -> true, `NOT_FOUND` -> false. */
export function readFound(reply: readonly string[], yes: string): boolean {
  const line = only(reply);
  if (line === yes) return true;
  if (line === "NOT_FOUND") return false;
  throw unexpected(line);
}

/** What follows `prefix` in a one-line reply. */
export function readAfter(reply: readonly string[], prefix: string): string {
  const line = only(reply);
  if (!line.startsWith(prefix)) throw unexpected(line);
  return line.slice(prefix.length);
}

/** `VALUE v` -> v, `NOT_FOUND` -> null. */
export function readValue(reply: readonly string[]): string | null {
  if (reply.length === 1 && reply[0] === "NOT_FOUND") return null;
  return readAfter(reply, "VALUE ");
}

/** `<word> <non-negative integer>` -> the integer. */
export function readCount(reply: readonly string[], word: string): number {
  const text = readAfter(reply, word + " ");
  if (!/^[0-9]{1,15}$/.test(text)) throw unexpected(headerOf(reply));
  return Number(text);
}

/** `VALUE <64-bit integer>` (INC, DEC) -> the integer. */
export function readInteger(reply: readonly string[]): bigint {
  const text = readAfter(reply, "VALUE ");
  if (!/^-?[0-9]{1,19}$/.test(text)) throw unexpected(headerOf(reply));
  return BigInt(text);
}

/** `TTL n` -> n seconds, `TTL -1` (no expiry) -> Infinity, `NOT_FOUND` -> null. */
export function readTtl(reply: readonly string[]): number | null {
  if (reply.length === 1 && reply[0] === "NOT_FOUND") return null;
  const text = readAfter(reply, "TTL ");
  if (text === "-1") return Infinity;
  if (!/^[0-9]{1,16}$/.test(text)) throw unexpected(headerOf(reply));
  return Number(text);
}

/** A header `<word> n` followed by exactly n lines: those lines. */
function counted(reply: readonly string[], word: string): readonly string[] {
  const lines = reply.slice(1);
  if (readCount([headerOf(reply)], word) !== lines.length) throw unexpected(headerOf(reply));
  return lines;
}

/** One version of a key with siblings (see readSiblings); value null: deleted, or expired. */
export interface Sibling {
  node: string;
  hlc: number;
  value: string | null;
}

/**
 * `SIBLINGS n` then n lines `<node>@<hlc> <value>` (`<node>@<hlc>` alone: deleted) -> the
 * versions, values as binary strings; `VALUE v` and `NOT_FOUND` (no siblings) -> null.
 */
export function readSiblings(reply: readonly string[]): Sibling[] | null {
  if (!headerOf(reply).startsWith("SIBLINGS ")) {
    readValue(reply);
    return null;
  }
  return counted(reply, "SIBLINGS").map((line) => {
    const space = line.indexOf(" ");
    const version = space === -1 ? line : line.slice(0, space);
    const at = version.lastIndexOf("@");
    const hlc = Number(version.slice(at + 1));
    if (at < 1 || !Number.isSafeInteger(hlc) || hlc < 0) throw unexpected(line);
    const value = space === -1 ? null : line.slice(space + 1);
    return { node: version.slice(0, at), hlc, value };
  });
}

/** `KEYS n` then n keys -> the keys (binary strings). */
export function readKeys(reply: readonly string[]): string[] {
  return [...counted(reply, "KEYS")];
}

/** Stands for an MGET answer `key NOT_FOUND` (see readValues). */
export const MAYBE_MISSING: unique symbol = Symbol("maybe missing");

/**
 * `VALUES n` then `key value` or `key NOT_FOUND` per requested key (binary strings) -> the
 * values, in request order. The protocol writes a missing key and a key whose value is the text
 * `NOT_FOUND` alike: those come back as MAYBE_MISSING, for the caller to ask again by GET.
 */
export function readValues(
  reply: readonly string[],
  keys: readonly string[],
): (string | typeof MAYBE_MISSING)[] {
  const lines = counted(reply, "VALUES");
  if (lines.length !== keys.length) throw unexpected(headerOf(reply));
  return lines.map((line, index) => {
    const key = keys[index] ?? "";
    if (!line.startsWith(key) || line.charCodeAt(key.length) !== 32) throw unexpected(line);
    const value = line.slice(key.length + 1);
    return value === "NOT_FOUND" ? MAYBE_MISSING : value;
  });
}

/** `INFO`, `name:value` lines, `END` -> name -> value. */
export function readInfo(reply: readonly string[]): Map<string, string> {
  if (reply[0] !== "INFO" || reply.at(-1) !== "END") throw unexpected(headerOf(reply));
  const fields = new Map<string, string>();
  for (const line of reply.slice(1, -1)) {
    const colon = line.indexOf(":");
    if (colon === -1) throw unexpected(line);
    fields.set(fromBinary(line.slice(0, colon)), fromBinary(line.slice(colon + 1)));
  }
  return fields;
}
