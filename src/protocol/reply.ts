/**
 * Reply formatting for protocol v1. Every reply line ends with CRLF; multi-line replies start
 * with a header that says how many lines follow (see docs/protocol.md).
 */

export const CRLF = "\r\n";
export const OK = "OK\r\n";
export const NOT_FOUND = "NOT_FOUND\r\n";
export const DELETED = "DELETED\r\n";
export const PONG = "PONG\r\n";

export function errorReply(message: string): string {
  // A message must stay one line whatever it quotes.
  return "ERROR " + message.replace(/[\r\n]/g, " ") + CRLF;
}

export function valueReply(value: string): string {
  return "VALUE " + value + CRLF;
}

export function numberReply(word: string, value: number | bigint): string {
  return word + " " + value + CRLF;
}

/** `VALUES n` then one `key value` or `key NOT_FOUND` line per key, in request order. */
export function valuesReply(keys: readonly string[], values: readonly (string | undefined)[]) {
  let reply = "VALUES " + keys.length + CRLF;
  for (let i = 0; i < keys.length; i++) {
    const value = values[i];
    reply += value === undefined ? keys[i] + " NOT_FOUND\r\n" : keys[i] + " " + value + CRLF;
  }
  return reply;
}

/** `KEYS n` then n keys. */
export function keysReply(keys: readonly string[]): string {
  let reply = "KEYS " + keys.length + CRLF;
  for (const key of keys) reply += key + CRLF;
  return reply;
}

/** `CONFLICTS n` then n records of the conflict log, `<key> <winner> <loser> <unix ms>`. */
export function conflictsReply(lines: readonly string[]): string {
  let reply = "CONFLICTS " + lines.length + CRLF;
  for (const line of lines) reply += line + CRLF;
  return reply;
}

/** One version of a key with siblings, as GET lists it (null value: deleted, or expired). */
export interface SiblingLine {
  readonly node: string;
  readonly hlc: number;
  readonly value: string | null;
}

/**
 * `SIBLINGS n` then n lines `<node>@<hlc> <value>`, in the order given; a version that deleted
 * the key is `<node>@<hlc>` alone, with no space (a value line always has one, even empty).
 */
export function siblingsReply(siblings: readonly SiblingLine[]): string {
  let reply = "SIBLINGS " + siblings.length + CRLF;
  for (const { node, hlc, value } of siblings) {
    reply += node + "@" + hlc + (value === null ? "" : " " + value) + CRLF;
  }
  return reply;
}

/** `HELP n` then n lines, `<syntax> - <summary>` (see commandHelp() in parse.ts). */
export function helpReply(lines: readonly string[]): string {
  let reply = "HELP " + lines.length + CRLF;
  for (const line of lines) reply += line + CRLF;
  return reply;
}

/** One `name:value` line of INFO; every part of the node contributes its own. */
export type InfoField = readonly [string, string | number];

/**
 * A `VALUES` or `KEYS` reply produced a piece at a time, as the connection's socket drains,
 * so that a large reply is never held whole for a client that does not read (see
 * docs/operations.md, Limits). It holds the keys and values it was made from (the store's own
 * strings, read when the command ran, so the reply is the same as valuesReply()/keysReply() would
 * have been).
 */
export class PiecewiseReply {
  readonly #keys: readonly string[];
  /** null: a KEYS reply (keys only). */
  readonly #values: readonly (string | undefined)[] | null;
  #header: string | null;
  #next = 0;

  constructor(keys: readonly string[], values: readonly (string | undefined)[] | null) {
    this.#keys = keys;
    this.#values = values;
    this.#header = (values === null ? "KEYS " : "VALUES ") + keys.length + CRLF;
  }

  get done(): boolean {
    return this.#header === null && this.#next === this.#keys.length;
  }

  /** The next lines: at least one, and no more once they reach `targetBytes`. */
  next(targetBytes: number): string {
    let piece = this.#header ?? "";
    this.#header = null;
    const keys = this.#keys;
    const values = this.#values;
    let next = this.#next;
    while (next < keys.length && (piece.length === 0 || piece.length < targetBytes)) {
      if (values === null) piece += keys[next] + CRLF;
      else {
        const value = values[next];
        piece += value === undefined
          ? keys[next] + " NOT_FOUND\r\n"
          : keys[next] + " " + value + CRLF;
      }
      next++;
    }
    this.#next = next;
    return piece;
  }
}

/** `INFO`, then `name:value` lines, then `END`. */
export function infoReply(fields: readonly InfoField[]): string {
  let reply = "INFO\r\n";
  for (const [name, value] of fields) {
    reply += name + ":" + String(value).replace(/[\r\n]/g, " ") + CRLF;
  }
  return reply + "END\r\n";
}

/**
 * Replies that span several lines start with one of these words and a count of the lines that
 * follow (`VALUES 3`); `INFO` runs until a line `END`. Clients frame replies by this table.
 */
export const COUNTED_REPLY_HEADERS: ReadonlySet<string> = new Set([
  "VALUES",
  "KEYS",
  "ENTRIES",
  "SEGMENTS",
  "DIGESTS",
  "HELP",
  "USERS",
  "CONFLICTS",
  "SIBLINGS",
]);
export const INFO_HEADER = "INFO";
export const INFO_END = "END";

/** Lines in the reply that starts with `header`: a count, or -1 for "until END". */
export function replyLineCount(header: string): number {
  if (header === INFO_HEADER) return -1;
  const space = header.indexOf(" ");
  if (space === -1 || !COUNTED_REPLY_HEADERS.has(header.slice(0, space))) return 0;
  const count = Number(header.slice(space + 1));
  return Number.isSafeInteger(count) && count >= 0 ? count : 0;
}
