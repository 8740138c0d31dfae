/**
 * Request parsing: one line (binary string, no line end) -> Command or an error message.
 * Pure. Arity and aliases live in one table, COMMANDS.
 */

import type { Command, CommandCategory, CommandKind, ParseResult } from "./command.ts";
import { INVALID_KEY_BYTE, valueProblem } from "../store/mod.ts";
import { assert } from "../assert.ts";

export interface ParseLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  maxKeysPerCommand: number;
}

/** How a command's arguments are read. */
type Shape =
  /** No arguments. */
  | "none"
  /** Exactly one key. */
  | "key"
  /** A key, one space, then every remaining byte is the value. */
  | "key_value"
  /** Space-separated words, their count checked against min/max. */
  | "words"
  /** Everything after the command word and one space, unchanged (may be absent). */
  | "text";

interface CommandSpec {
  shape: Shape;
  minWords?: number;
  maxWords?: number;
  /** The store keeps these words (MSET): take them as copies, not slices of the line. */
  keepsWords?: boolean;
  build: (args: Args) => ParseResult;
}

/** The parsed arguments handed to a spec's build(). */
/**
 * Where a line came from, so that the strings a command keeps (keys and values it writes) can
 * be fresh copies of the received bytes rather than slices of the line: a slice keeps its
 * whole line alive in V8, about 50 bytes more per stored key.
 */
export interface LineSource {
  /** A new string of bytes start..end (offsets in the line just framed). */
  copy(start: number, end: number): string;
}

const SLICING: LineSource = { copy: () => "" };

/** A framed line still in the received bytes: `bytes[start, end)`, line end excluded. */
export interface FramedLine extends LineSource {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  /** The whole line as a new binary string. */
  text(): string;
}

interface Args {
  name: string;
  key: string;
  value: string;
  words: string[];
  text: string | null;
  limits: ParseLimits;
}

/** Copies text[start, end) from the source; `offset` is where text starts in the line. */
function copier(text: string, offset: number, source: LineSource) {
  return source === SLICING
    ? (start: number, end: number) => text.slice(start, end)
    : (start: number, end: number) => source.copy(offset + start, offset + end);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_PATTERN = /^[+-]?[0-9]{1,20}$/;

function invalid(message: string): ParseResult {
  return { kind: "invalid", message };
}

/** An integer that fits in 64 bits, or null. */
export function parseInt64(text: string): bigint | null {
  if (!INTEGER_PATTERN.test(text)) return null;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

function incrementBy(sign: 1n | -1n) {
  return (args: Args): ParseResult => {
    const [key, amountText] = args.words;
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

function buildExpire(args: Args): ParseResult {
  const [key, secondsText] = args.words;
  const seconds = parseSeconds(secondsText);
  if (typeof seconds !== "number") return invalid(seconds.message);
  return checkKeys(args, [key]) ?? { kind: "expire", key, seconds };
}

/**
 * AFTER, in any case, is the keyword wherever it may stand: `SCAN AFTER` alone lacks its key
 * (a prefix spelled AFTER is scanned with the long form, e.g. `SCAN AFTER AFTER AFTE`; see
 * docs/protocol.md).
 */
function buildScan(args: Args): ParseResult {
  const words = args.words;
  const isAfter = (word: string | undefined) => word?.toUpperCase() === "AFTER";
  switch (words.length) {
    case 0:
      return { kind: "scan", prefix: "", after: null };
    case 1:
      return isAfter(words[0])
        ? invalid(SCAN_USAGE)
        : { kind: "scan", prefix: words[0], after: null };
    case 2:
      return isAfter(words[0])
        ? { kind: "scan", prefix: "", after: words[1] }
        : invalid(SCAN_USAGE);
    default:
      return isAfter(words[1])
        ? { kind: "scan", prefix: words[0], after: words[2] }
        : invalid(SCAN_USAGE);
  }
}

function buildMset(args: Args): ParseResult {
  const words = args.words;
  if (words.length % 2 !== 0) return invalid("wrong number of arguments for MSET");
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < words.length; i += 2) {
    keys.push(words[i]);
    values.push(words[i + 1]);
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

function buildSync(args: Args): ParseResult {
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

function listOfKeys(kind: "mget" | "exists") {
  return (args: Args): ParseResult => {
    if (args.words.length > args.limits.maxKeysPerCommand) {
      return invalid(`too many keys: ${args.words.length}, max ${args.limits.maxKeysPerCommand}`);
    }
    return checkKeys(args, args.words) ?? { kind, keys: args.words };
  };
}

const MANY = Number.MAX_SAFE_INTEGER;

/** One row of the command table: what a kind of command is, and the words that request it. */
interface CommandRow {
  /** The permission category a user needs to run it (see README, Security). */
  category: CommandCategory;
  /** It changes keys: refused while the log cannot take writes (see docs/durability.md). */
  writes: boolean;
  /** Each command word (aliases included) with how its arguments are read. */
  words: Record<string, CommandSpec>;
}

function keyCommand(build: (key: string) => Command): CommandSpec {
  return { shape: "key", build: (a) => build(a.key) };
}

function noArguments(command: Command): CommandSpec {
  return { shape: "none", build: () => command };
}

const INC: CommandSpec = { shape: "words", minWords: 1, maxWords: 2, build: incrementBy(1n) };
const DEC: CommandSpec = { shape: "words", minWords: 1, maxWords: 2, build: incrementBy(-1n) };
const TRUNCATE = noArguments({ kind: "truncate" });
const INFO = noArguments({ kind: "info" });

/**
 * The command table: a row for every kind of command, so the compiler names any kind left
 * without its category, its write flag or its words.
 */
const COMMAND_TABLE: { readonly [K in CommandKind]: CommandRow } = {
  set: {
    category: "write",
    writes: true,
    words: {
      SET: { shape: "key_value", build: (a) => ({ kind: "set", key: a.key, value: a.value }) },
    },
  },
  get: {
    category: "read",
    writes: false,
    words: { GET: keyCommand((key) => ({ kind: "get", key })) },
  },
  del: {
    category: "write",
    writes: true,
    words: {
      DEL: keyCommand((key) => ({ kind: "del", key })),
      DELETE: keyCommand((key) => ({ kind: "del", key })),
    },
  },
  incr: { category: "write", writes: true, words: { INC, INCR: INC, DEC, DECR: DEC } },
  append: {
    category: "write",
    writes: true,
    words: {
      APPEND: {
        shape: "key_value",
        build: (a) => ({ kind: "append", key: a.key, value: a.value, prepend: false }),
      },
      PREPEND: {
        shape: "key_value",
        build: (a) => ({ kind: "append", key: a.key, value: a.value, prepend: true }),
      },
    },
  },
  mget: {
    category: "read",
    writes: false,
    words: { MGET: { shape: "words", minWords: 1, maxWords: MANY, build: listOfKeys("mget") } },
  },
  mset: {
    category: "write",
    writes: true,
    words: {
      MSET: { shape: "words", minWords: 2, maxWords: MANY, keepsWords: true, build: buildMset },
    },
  },
  exists: {
    category: "read",
    writes: false,
    words: { EXISTS: { shape: "words", minWords: 1, maxWords: MANY, build: listOfKeys("exists") } },
  },
  scan: {
    category: "read",
    writes: false,
    words: { SCAN: { shape: "words", minWords: 0, maxWords: 3, build: buildScan } },
  },
  dbsize: { category: "read", writes: false, words: { DBSIZE: noArguments({ kind: "dbsize" }) } },
  expire: {
    category: "write",
    writes: true,
    words: { EXPIRE: { shape: "words", minWords: 2, maxWords: 2, build: buildExpire } },
  },
  ttl: {
    category: "read",
    writes: false,
    words: { TTL: keyCommand((key) => ({ kind: "ttl", key })) },
  },
  persist: {
    category: "write",
    writes: true,
    words: { PERSIST: keyCommand((key) => ({ kind: "persist", key })) },
  },
  truncate: { category: "admin", writes: true, words: { TRUNCATE, FLUSHDB: TRUNCATE } },
  ping: {
    category: "connection",
    writes: false,
    words: { PING: { shape: "text", build: (a) => ({ kind: "ping", message: a.text }) } },
  },
  echo: {
    category: "connection",
    writes: false,
    words: {
      ECHO: {
        shape: "text",
        build: (a) =>
          a.text === null
            ? invalid("wrong number of arguments for ECHO")
            : { kind: "echo", message: a.text },
      },
    },
  },
  info: { category: "admin", writes: false, words: { INFO, STATS: INFO } },
  version: {
    category: "connection",
    writes: false,
    words: { VERSION: noArguments({ kind: "version" }) },
  },
  hash: { category: "read", writes: false, words: { HASH: noArguments({ kind: "hash" }) } },
  quit: { category: "connection", writes: false, words: { QUIT: noArguments({ kind: "quit" }) } },
  shutdown: {
    category: "admin",
    writes: false,
    words: { SHUTDOWN: noArguments({ kind: "shutdown" }) },
  },
  // The operator's `SYNC <host> <port>` has no word of its own: SYNC's builder tells the forms
  // apart by their arguments.
  sync_run: { category: "admin", writes: false, words: {} },
  // Entries a peer pushes are merged by version, not written as this node's changes.
  sync_request: {
    category: "sync",
    writes: false,
    words: { SYNC: { shape: "text", build: buildSync } },
  },
};

/** The row of a kind of command: its category and whether it writes. */
export function commandRow(kind: CommandKind): Readonly<Omit<CommandRow, "words">> {
  return COMMAND_TABLE[kind];
}

/** Lookup by the word as typed first, so the usual upper- and lower-case forms cost no copy. */
const BY_WORD = new Map<string, [string, CommandSpec]>();
for (const row of Object.values(COMMAND_TABLE) as CommandRow[]) {
  for (const [name, spec] of Object.entries(row.words)) {
    BY_WORD.set(name, [name, spec]);
    BY_WORD.set(name.toLowerCase(), [name, spec]);
  }
}

/** Names of every command and alias, for the docs and tests. */
export const COMMAND_NAMES: readonly string[] = (Object.values(COMMAND_TABLE) as CommandRow[])
  .flatMap((row) => Object.keys(row.words));

function checkKey(key: string, limits: ParseLimits): string | null {
  if (key.length === 0) return "key must not be empty";
  if (key.length > limits.maxKeyBytes) {
    return `key too long: ${key.length} bytes, max ${limits.maxKeyBytes}`;
  }
  if (INVALID_KEY_BYTE.test(key)) return "key contains whitespace or control characters";
  return null;
}

function checkValue(value: string, limits: ParseLimits): string | null {
  return valueProblem(value, limits.maxValueBytes);
}

function checkKeys(args: Args, keys: readonly string[]): ParseResult | null {
  for (const key of keys) {
    const error = checkKey(key, args.limits);
    if (error !== null) return invalid(error);
  }
  return null;
}

/** splitWords, but each word a copy (for words the store keeps: MSET's keys and values). */
function copyWords(text: string, copy: (start: number, end: number) => string): string[] {
  const words: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(" ", start);
    if (end === -1) end = text.length;
    if (end > start) words.push(copy(start, end));
    start = end + 1;
  }
  return words;
}

function splitWords(text: string): string[] {
  return text.split(" ").filter((word) => word.length > 0);
}

/** Parses one request line (without its line end). */
export function parseCommand(
  line: string,
  limits: ParseLimits,
  source: LineSource = SLICING,
): ParseResult | Command {
  const space = line.indexOf(" ");
  const word = space === -1 ? line : line.slice(0, space);
  let found = BY_WORD.get(word);
  if (found === undefined) found = BY_WORD.get(word.toUpperCase());
  if (found === undefined) {
    if (word.length === 0) {
      return invalid(line.length === 0 ? "empty command" : 'unknown command ""');
    }
    // ASCII "...": replies are written as latin1, where "…" would become "&".
    return invalid(`unknown command "${word.length > 64 ? word.slice(0, 64) + "..." : word}"`);
  }
  const [name, spec] = found;
  const text = space === -1 ? null : line.slice(space + 1);
  return parseArguments(name, spec, text, limits, source, space + 1);
}

function parseArguments(
  name: string,
  spec: CommandSpec,
  text: string | null,
  limits: ParseLimits,
  source: LineSource,
  textOffset: number,
): ParseResult {
  const args: Args = { name, key: "", value: "", words: [], text, limits };
  const arityError = () => invalid(`wrong number of arguments for ${name}`);
  switch (spec.shape) {
    case "none":
      if (text !== null && text.trim() !== "") return arityError();
      break;
    case "key": {
      if (text === null) return arityError();
      // The common case, one key and nothing else, costs no split.
      if (text.indexOf(" ") === -1) args.key = text;
      else {
        const words = splitWords(text);
        if (words.length !== 1) return arityError();
        args.key = words[0];
      }
      break;
    }
    case "key_value": {
      if (text === null) return arityError();
      const start = skipSpaces(text, 0);
      const space = text.indexOf(" ", start);
      if (space === -1) return arityError();
      const copy = copier(text, textOffset, source);
      args.key = copy(start, space);
      args.value = copy(space + 1, text.length);
      const valueError = checkValue(args.value, limits);
      if (valueError !== null) return invalid(valueError);
      break;
    }
    case "words": {
      const words = text === null
        ? []
        : spec.keepsWords
        ? copyWords(text, copier(text, textOffset, source))
        : splitWords(text);
      if (words.length < (spec.minWords ?? 0) || words.length > (spec.maxWords ?? 0)) {
        return arityError();
      }
      args.words = words;
      break;
    }
    case "text":
      break;
    default: {
      const unreachable: never = spec.shape;
      assert(false, `every argument shape is read, not ${unreachable}`);
    }
  }
  if (spec.shape === "key" || spec.shape === "key_value") {
    const keyError = checkKey(args.key, limits);
    if (keyError !== null) return invalid(keyError);
  }
  return spec.build(args);
}

function skipSpaces(text: string, start: number): number {
  while (start < text.length && text.charCodeAt(start) === 32) start++;
  return start;
}
