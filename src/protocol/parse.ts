/**
 * Request parsing: one line (binary string, no line end) -> Command or an error message.
 * Pure. Arity, aliases and what HELP says of each word live in one table, COMMAND_TABLE; how
 * each command's arguments are read is in arguments.ts.
 */

import type { Command, CommandCategory, CommandKind, ParseResult } from "./command.ts";
import {
  type Args,
  buildExpire,
  buildMset,
  buildScan,
  buildSync,
  checkKey,
  checkValue,
  incrementBy,
  invalid,
  listOfKeys,
  type ParseLimits,
} from "./arguments.ts";
import { assert } from "../assert.ts";

export { parseInt64, type ParseLimits } from "./arguments.ts";

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
  /** The word with its arguments, for HELP: `SET key value`. */
  syntax: string;
  /** What the word does and what it replies, one line, for HELP (ASCII: replies are latin1). */
  summary: string;
}

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

/** Copies text[start, end) from the source; `offset` is where text starts in the line. */
function copier(text: string, offset: number, source: LineSource) {
  return source === SLICING
    ? (start: number, end: number) => text.slice(start, end)
    : (start: number, end: number) => source.copy(offset + start, offset + end);
}

const MANY = Number.MAX_SAFE_INTEGER;

/** One row of the command table: what a kind of command is, and the words that request it. */
interface CommandRow {
  /** The permission category a user needs to run it (see README, Security). */
  category: CommandCategory;
  /** It changes keys: refused while the log cannot take writes (see README, Durability). */
  writes: boolean;
  /** Each command word (aliases included) with how its arguments are read. */
  words: Record<string, CommandSpec>;
}

/** What HELP says of a word: its syntax and a one-line summary. */
type Help = Pick<CommandSpec, "syntax" | "summary">;

function help(syntax: string, summary: string): Help {
  return { syntax, summary };
}

function keyCommand(build: (key: string) => Command, about: Help): CommandSpec {
  return { shape: "key", build: (a) => build(a.key), ...about };
}

function noArguments(command: Command, about: Help): CommandSpec {
  return { shape: "none", build: () => command, ...about };
}

/** Another word for `spec`: it reads the same, and HELP calls it the same as `word`. */
function alias(spec: CommandSpec, syntax: string, word: string): CommandSpec {
  return { ...spec, syntax, summary: `Same as ${word}` };
}

const INC: CommandSpec = {
  shape: "words",
  minWords: 1,
  maxWords: 2,
  build: incrementBy(1n),
  ...help(
    "INC key [amount]",
    "Adds amount (default 1) to the integer at key (missing: 0); replies VALUE <new>",
  ),
};
const DEC: CommandSpec = {
  shape: "words",
  minWords: 1,
  maxWords: 2,
  build: incrementBy(-1n),
  ...help(
    "DEC key [amount]",
    "Subtracts amount (default 1) from the integer at key; replies VALUE <new>",
  ),
};
const TRUNCATE = noArguments(
  { kind: "truncate" },
  help("TRUNCATE", "Deletes every key (replicated as tombstones); replies OK"),
);
const INFO = noArguments(
  { kind: "info" },
  help("INFO", "Replies INFO, then name:value lines about the node, then END"),
);
const DEL = keyCommand(
  (key) => ({ kind: "del", key }),
  help("DEL key", "Deletes key; replies DELETED or NOT_FOUND"),
);

/**
 * The command table: a row for every kind of command, so the compiler names any kind left
 * without its category, its write flag or its words.
 */
const COMMAND_TABLE: { readonly [K in CommandKind]: CommandRow } = {
  set: {
    category: "write",
    writes: true,
    words: {
      SET: {
        shape: "key_value",
        build: (a) => ({ kind: "set", key: a.key, value: a.value }),
        ...help("SET key value", "Stores value (every byte after the key's space); replies OK"),
      },
    },
  },
  get: {
    category: "read",
    writes: false,
    words: {
      GET: keyCommand(
        (key) => ({ kind: "get", key }),
        help("GET key", "Replies VALUE <value>, or NOT_FOUND"),
      ),
    },
  },
  del: {
    category: "write",
    writes: true,
    words: { DEL, DELETE: alias(DEL, "DELETE key", "DEL") },
  },
  incr: {
    category: "write",
    writes: true,
    words: {
      INC,
      INCR: alias(INC, "INCR key [amount]", "INC"),
      DEC,
      DECR: alias(DEC, "DECR key [amount]", "DEC"),
    },
  },
  append: {
    category: "write",
    writes: true,
    words: {
      APPEND: {
        shape: "key_value",
        build: (a) => ({ kind: "append", key: a.key, value: a.value, prepend: false }),
        ...help(
          "APPEND key value",
          "Adds value after key's value (created if missing); replies VALUE <new>",
        ),
      },
      PREPEND: {
        shape: "key_value",
        build: (a) => ({ kind: "append", key: a.key, value: a.value, prepend: true }),
        ...help(
          "PREPEND key value",
          "Adds value before key's value (created if missing); replies VALUE <new>",
        ),
      },
    },
  },
  mget: {
    category: "read",
    writes: false,
    words: {
      MGET: {
        shape: "words",
        minWords: 1,
        maxWords: MANY,
        build: listOfKeys("mget"),
        ...help(
          "MGET key [key ...]",
          "Replies VALUES n, then a line per key: key value, or key NOT_FOUND",
        ),
      },
    },
  },
  mset: {
    category: "write",
    writes: true,
    words: {
      MSET: {
        shape: "words",
        minWords: 2,
        maxWords: MANY,
        keepsWords: true,
        build: buildMset,
        ...help(
          "MSET key value [key value ...]",
          "Stores every pair (values without spaces), all or none; replies OK",
        ),
      },
    },
  },
  exists: {
    category: "read",
    writes: false,
    words: {
      EXISTS: {
        shape: "words",
        minWords: 1,
        maxWords: MANY,
        build: listOfKeys("exists"),
        ...help("EXISTS key [key ...]", "Replies EXISTS <how many of the keys exist>"),
      },
    },
  },
  scan: {
    category: "read",
    writes: false,
    words: {
      SCAN: {
        shape: "words",
        minWords: 0,
        maxWords: 3,
        build: buildScan,
        ...help(
          "SCAN [prefix] [AFTER key]",
          "Replies KEYS n, then up to scan_page_keys keys in byte order",
        ),
      },
    },
  },
  dbsize: {
    category: "read",
    writes: false,
    words: {
      DBSIZE: noArguments(
        { kind: "dbsize" },
        help("DBSIZE", "Replies DBSIZE <live keys>"),
      ),
    },
  },
  expire: {
    category: "write",
    writes: true,
    words: {
      EXPIRE: {
        shape: "words",
        minWords: 2,
        maxWords: 2,
        build: buildExpire,
        ...help(
          "EXPIRE key seconds",
          "Deletes key after seconds (<= 0: now); replies OK or NOT_FOUND",
        ),
      },
    },
  },
  ttl: {
    category: "read",
    writes: false,
    words: {
      TTL: keyCommand(
        (key) => ({ kind: "ttl", key }),
        help("TTL key", "Replies TTL <seconds left>, TTL -1 (no expiry) or NOT_FOUND"),
      ),
    },
  },
  persist: {
    category: "write",
    writes: true,
    words: {
      PERSIST: keyCommand(
        (key) => ({ kind: "persist", key }),
        help("PERSIST key", "Removes key's expiry; replies OK or NOT_FOUND"),
      ),
    },
  },
  truncate: {
    category: "admin",
    writes: true,
    words: { TRUNCATE, FLUSHDB: alias(TRUNCATE, "FLUSHDB", "TRUNCATE") },
  },
  ping: {
    category: "connection",
    writes: false,
    words: {
      PING: {
        shape: "text",
        build: (a) => ({ kind: "ping", message: a.text }),
        ...help("PING [message]", "Replies PONG, or PONG message"),
      },
    },
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
        ...help("ECHO message", "Replies ECHO message"),
      },
    },
  },
  info: { category: "admin", writes: false, words: { INFO, STATS: alias(INFO, "STATS", "INFO") } },
  version: {
    category: "connection",
    writes: false,
    words: {
      VERSION: noArguments(
        { kind: "version" },
        help("VERSION", "Replies VERSION <semver>"),
      ),
    },
  },
  hash: {
    category: "read",
    writes: false,
    words: {
      HASH: noArguments(
        { kind: "hash" },
        help("HASH", "Replies HASH <16 hex digits>: the Merkle root of every entry"),
      ),
    },
  },
  quit: {
    category: "connection",
    writes: false,
    words: {
      QUIT: noArguments(
        { kind: "quit" },
        help("QUIT", "Closes the connection after the replies to earlier requests"),
      ),
    },
  },
  shutdown: {
    category: "admin",
    writes: false,
    words: {
      SHUTDOWN: noArguments(
        { kind: "shutdown" },
        help(
          "SHUTDOWN",
          "Replies OK, then the node stops gracefully (from loopback clients only, by default)",
        ),
      ),
    },
  },
  help: {
    category: "connection",
    writes: false,
    words: {
      HELP: {
        shape: "words",
        minWords: 0,
        maxWords: 1,
        build: buildHelp,
        ...help(
          "HELP [command]",
          "Replies HELP n, then n lines `syntax - summary`: every command's, or one's",
        ),
      },
    },
  },
  // The operator's `SYNC <host> <port>` has no word of its own: SYNC's builder tells the forms
  // apart by their arguments.
  sync_run: { category: "admin", writes: false, words: {} },
  // Entries a peer pushes are merged by version, not written as this node's changes.
  sync_request: {
    category: "sync",
    writes: false,
    words: {
      SYNC: {
        shape: "text",
        build: buildSync,
        ...help(
          "SYNC host port",
          "Runs one anti-entropy session now with that (configured or discovered) peer",
        ),
      },
    },
  },
};

/** The row of a kind of command: its category and whether it writes. */
export function commandRow(kind: CommandKind): Readonly<Omit<CommandRow, "words">> {
  return COMMAND_TABLE[kind];
}

/** Every kind of command in table order: a kind's position numbers it (metrics count by it). */
export const COMMAND_KINDS: readonly CommandKind[] = Object.keys(COMMAND_TABLE) as CommandKind[];

/** The position of each kind in COMMAND_KINDS. */
export const COMMAND_KIND_INDEX: Readonly<Record<CommandKind, number>> = Object.fromEntries(
  COMMAND_KINDS.map((kind, index) => [kind, index]),
) as Record<CommandKind, number>;

/** Lookup by the word as typed first, so the usual upper- and lower-case forms cost no copy. */
const BY_WORD = new Map<string, [string, CommandSpec]>();
for (const row of Object.values(COMMAND_TABLE) as CommandRow[]) {
  for (const [name, spec] of Object.entries(row.words)) {
    BY_WORD.set(name, [name, spec]);
    BY_WORD.set(name.toLowerCase(), [name, spec]);
  }
}

/** Names of every command and alias, for the README and tests. */
export const COMMAND_NAMES: readonly string[] = (Object.values(COMMAND_TABLE) as CommandRow[])
  .flatMap((row) => Object.keys(row.words));

/** The kind of command each word requests (upper case), for `HELP <command>`. */
const KIND_BY_WORD = new Map<string, CommandKind>();
for (const [kind, row] of Object.entries(COMMAND_TABLE) as [CommandKind, CommandRow][]) {
  for (const name of Object.keys(row.words)) KIND_BY_WORD.set(name, kind);
}

function unknownCommand(word: string): ParseResult {
  // ASCII "...": replies are written as latin1, where "…" would become "&".
  return invalid(`unknown command "${word.length > 64 ? word.slice(0, 64) + "..." : word}"`);
}

/** `HELP [command]`: the command named may be any of its words (aliases too), in any case. */
function buildHelp(args: Args): ParseResult {
  const [word] = args.words;
  if (word === undefined) return { kind: "help", topic: null };
  const topic = KIND_BY_WORD.get(word.toUpperCase());
  return topic === undefined ? unknownCommand(word) : { kind: "help", topic };
}

/**
 * HELP's lines, `<syntax> - <summary>`, in table order: every word's, or the words of one kind
 * of command (a command and its aliases).
 */
export function commandHelp(topic: CommandKind | null): string[] {
  const rows = topic === null ? Object.values(COMMAND_TABLE) as CommandRow[] : [
    COMMAND_TABLE[topic],
  ];
  return rows.flatMap((row) =>
    Object.values(row.words).map((spec) => `${spec.syntax} - ${spec.summary}`)
  );
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
    return unknownCommand(word);
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
        const [key, extra] = splitWords(text);
        if (key === undefined || extra !== undefined) return arityError();
        args.key = key;
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
