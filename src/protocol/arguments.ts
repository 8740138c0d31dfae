/**
 * How each command's arguments are read and checked: the builders the command table in
 * parse.ts names, and the key and value checks they share. Pure.
 */

import type { ParseResult } from "./command.ts";
import { INVALID_KEY_BYTE, valueProblem } from "../store/mod.ts";
import { assert } from "../assert.ts";

export interface ParseLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  maxKeysPerCommand: number;
}

/** The parsed arguments handed to a spec's build(). */
export interface Args {
  name: string;
  key: string;
  value: string;
  words: string[];
  text: string | null;
  limits: ParseLimits;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_PATTERN = /^[+-]?[0-9]{1,20}$/;

/** `CONFLICTS` without a count lists this many records (see docs/consistency.md). */
export const DEFAULT_CONFLICTS_LISTED = 100;
/** `CONFLICTS <count>` lists at most this many records; a larger count is an error. */
export const MAX_CONFLICTS_LISTED = 1000;

/** `CONFLICTS`, `CONFLICTS <count>` (1..MAX_CONFLICTS_LISTED) or `CONFLICTS CLEAR`. */
export function buildConflicts(args: Args): ParseResult {
  const [word] = args.words;
  if (word === undefined) return { kind: "conflicts_list", count: DEFAULT_CONFLICTS_LISTED };
  if (word.toUpperCase() === "CLEAR") return { kind: "conflicts_clear" };
  const count = /^[0-9]{1,7}$/.test(word) ? Number(word) : NaN;
  if (!(count >= 1 && count <= MAX_CONFLICTS_LISTED)) {
    return invalid(
      `CONFLICTS count must be 1..${MAX_CONFLICTS_LISTED} or CLEAR, got "${word.slice(0, 32)}"`,
    );
  }
  return { kind: "conflicts_list", count };
}

export function invalid(message: string): ParseResult {
  return { kind: "invalid", message };
}

/** An integer that fits in 64 bits, or null. */
export function parseInt64(text: string): bigint | null {
  if (!INTEGER_PATTERN.test(text)) return null;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

export function incrementBy(sign: 1n | -1n) {
  return (args: Args): ParseResult => {
    const [key, amountText] = args.words;
    assert(key !== undefined, "INCR's row in the command table asks for at least one word");
    const amount = amountText === undefined ? 1n : parseInt64(amountText);
    if (amount === null) {
      return invalid(`amount is not a 64-bit integer: "${amountText}"`);
    }
    return checkKeys(args, [key]) ?? { kind: "incr", key, amount: sign * amount };
  };
}

/** Beyond ~285,000 years an expiry is indistinguishable from none; refuse rather than wrap. */
const MAX_EXPIRE_SECONDS = 9_000_000_000_000n;
const SCAN_USAGE = "usage: SCAN [prefix] [AFTER key]";

/** EXPIRE's seconds, or the message of the error. */
function parseSeconds(text: string): number | { message: string } {
  const shown = text.length > 32 ? `${text.slice(0, 32)}...` : text;
  if (!/^[+-]?[0-9]+$/.test(text)) return { message: `seconds is not an integer: "${shown}"` };
  const seconds = BigInt(text);
  if (seconds > MAX_EXPIRE_SECONDS || seconds < -MAX_EXPIRE_SECONDS) {
    return {
      message: `seconds out of range: ${shown} ` +
        `(must be ${-MAX_EXPIRE_SECONDS}..${MAX_EXPIRE_SECONDS})`,
    };
  }
  return Number(seconds);
}

export function buildExpire(args: Args): ParseResult {
  const [key, secondsText] = args.words;
  assert(
    key !== undefined && secondsText !== undefined,
    "EXPIRE's row in the command table asks for two words",
  );
  const seconds = parseSeconds(secondsText);
  if (typeof seconds !== "number") return invalid(seconds.message);
  return checkKeys(args, [key]) ?? { kind: "expire", key, seconds };
}

/**
 * AFTER, in any case, is the keyword wherever it may stand: `SCAN AFTER` alone lacks its key
 * (a prefix spelled AFTER is scanned with the long form, e.g. `SCAN AFTER AFTER AFTE`; see
 * docs/protocol.md).
 */
export function buildScan(args: Args): ParseResult {
  // At most three words (the command table); the first one missing tells how many there are.
  const [first, second, third] = args.words;
  const isAfter = (word: string) => word.toUpperCase() === "AFTER";
  if (first === undefined) return { kind: "scan", prefix: "", after: null };
  if (second === undefined) {
    return isAfter(first) ? invalid(SCAN_USAGE) : { kind: "scan", prefix: first, after: null };
  }
  if (third === undefined) {
    return isAfter(first) ? { kind: "scan", prefix: "", after: second } : invalid(SCAN_USAGE);
  }
  return isAfter(second) ? { kind: "scan", prefix: first, after: third } : invalid(SCAN_USAGE);
}

export function buildMset(args: Args): ParseResult {
  const words = args.words;
  if (words.length % 2 !== 0) return invalid("wrong number of arguments for MSET");
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < words.length; i += 2) {
    const key = words[i];
    const value = words[i + 1];
    assert(key !== undefined && value !== undefined, "MSET's words come in pairs (checked above)");
    keys.push(key);
    values.push(value);
  }
  if (keys.length > args.limits.maxKeysPerCommand) {
    return invalid(`too many keys: ${keys.length}, max ${args.limits.maxKeysPerCommand}`);
  }
  for (const value of values) {
    const error = checkValue(value, args.limits);
    if (error !== null) return invalid(error);
  }
  return checkKeys(args, keys) ?? { kind: "mset", keys, values };
}

export function buildSync(args: Args): ParseResult {
  const text = args.text ?? "";
  const space = text.indexOf(" ");
  const first = space === -1 ? text : text.slice(0, space);
  const rest = space === -1 ? "" : text.slice(space + 1);
  if (first === "") return invalid("wrong number of arguments for SYNC");
  // Operator form: SYNC <host> <port>. Everything else is a peer request, SYNC <VERB> ...
  if (/^[0-9]{1,5}$/.test(rest)) {
    const port = Number(rest);
    if (port < 1 || port > 65535) return invalid(`port out of range: ${rest}`);
    return { kind: "sync_run", host: first, port };
  }
  return { kind: "sync_request", verb: first.toUpperCase(), args: rest };
}

/** `CONFIG GET key`, `CONFIG SET key value` (the rest of the line) or `CONFIG RELOAD`. */
export function buildConfigCommand(args: Args): ParseResult {
  const [sub = "", key = "", ...rest] = (args.text ?? "").split(" ");
  switch (sub.toUpperCase()) {
    case "GET":
      if (key === "" || rest.length > 0) return invalid("wrong number of arguments for CONFIG GET");
      return { kind: "config_get", key };
    case "SET":
      if (key === "" || rest.length === 0) {
        return invalid("wrong number of arguments for CONFIG SET");
      }
      return { kind: "config_set", key, value: rest.join(" ") };
    case "RELOAD":
      if (key !== "") return invalid("wrong number of arguments for CONFIG RELOAD");
      return { kind: "config_reload" };
    default:
      return invalid(`unknown CONFIG subcommand "${sub.slice(0, 64)}" (GET, SET or RELOAD)`);
  }
}

export function listOfKeys(kind: "mget" | "exists") {
  return (args: Args): ParseResult => {
    if (args.words.length > args.limits.maxKeysPerCommand) {
      return invalid(`too many keys: ${args.words.length}, max ${args.limits.maxKeysPerCommand}`);
    }
    return checkKeys(args, args.words) ?? { kind, keys: args.words };
  };
}

export function checkKey(key: string, limits: ParseLimits): string | null {
  if (key.length === 0) return "key must not be empty";
  if (key.length > limits.maxKeyBytes) {
    return `key too long: ${key.length} bytes, max ${limits.maxKeyBytes}`;
  }
  if (INVALID_KEY_BYTE.test(key)) return "key contains whitespace or control characters";
  return null;
}

export function checkValue(value: string, limits: ParseLimits): string | null {
  return valueProblem(value, limits.maxValueBytes);
}

export function checkKeys(args: Args, keys: readonly string[]): ParseResult | null {
  for (const key of keys) {
    const error = checkKey(key, args.limits);
    if (error !== null) return invalid(error);
  }
  return null;
}
