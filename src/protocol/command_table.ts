/**
 * The command table (see docs/protocol.md): a row for every kind of command with its
 * permission category, whether it writes, and its words (aliases included), each with how its
 * arguments are read and what HELP says of it. The compiler names any kind left without a row.
 * Pure.
 */

import type { Command, CommandCategory, CommandKind, ParseResult } from "./command.ts";
import {
  type Args,
  buildConfigCommand,
  buildConflicts,
  buildExpire,
  buildMset,
  buildScan,
  buildSync,
  incrementBy,
  invalid,
  listOfKeys,
} from "./arguments.ts";

/** How a command's arguments are read. */
export type Shape =
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

export interface CommandSpec {
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

const ACL_SUBCOMMANDS: Record<string, Command> = {
  WHOAMI: { kind: "acl_whoami" },
  LIST: { kind: "acl_list" },
  LOAD: { kind: "acl_load" },
};

function buildAcl(args: Args): ParseResult {
  const [word = ""] = args.words;
  return ACL_SUBCOMMANDS[word.toUpperCase()] ??
    invalid(`unknown ACL subcommand "${word.slice(0, 64)}" (WHOAMI, LIST or LOAD)`);
}

const MANY = Number.MAX_SAFE_INTEGER;

/** One row of the command table: what a kind of command is, and the words that request it. */
interface CommandRow {
  /** The permission category a user needs to run it (see docs/security.md). */
  category: CommandCategory;
  /** It changes keys: refused while the log cannot take writes (see docs/durability.md). */
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
    "Adds amount (default 1) to the counter at key, summed over all nodes; replies VALUE <sum>",
  ),
};
const DEC: CommandSpec = {
  shape: "words",
  minWords: 1,
  maxWords: 2,
  build: incrementBy(-1n),
  ...help(
    "DEC key [amount]",
    "Subtracts amount (default 1) from the counter at key; replies VALUE <sum>",
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
        help(
          "GET key",
          "Replies VALUE <value>, NOT_FOUND, or SIBLINGS n then n lines `node@hlc value`",
        ),
      ),
    },
  },
  // A write like SET, refused outside conflicts mode siblings (see execute.ts).
  resolve: {
    category: "write",
    writes: true,
    words: {
      RESOLVE: {
        shape: "key_value",
        build: (a) => ({ kind: "resolve", key: a.key, value: a.value }),
        ...help("RESOLVE key value", "Stores value over every sibling of key; replies OK"),
      },
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
  snapshot: {
    category: "admin",
    writes: false,
    words: {
      SNAPSHOT: noArguments(
        { kind: "snapshot" },
        help(
          "SNAPSHOT",
          "Writes a backup of every key into data_dir; replies OK <path of the file> once durable",
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
  // CONFLICTS' builder tells CLEAR apart; reading the log is filtered by the user's key globs.
  conflicts_list: {
    category: "read",
    writes: false,
    words: {
      CONFLICTS: {
        shape: "words",
        minWords: 0,
        maxWords: 1,
        build: buildConflicts,
        ...help(
          "CONFLICTS [count] | CONFLICTS CLEAR",
          "Replies CONFLICTS n, then n lines `key winner loser ms`, newest first; empties the log",
        ),
      },
    },
  },
  conflicts_clear: { category: "admin", writes: false, words: {} },
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
  auth: {
    category: "connection",
    writes: false,
    words: {
      AUTH: {
        shape: "words",
        minWords: 1,
        maxWords: 2,
        syntax: "AUTH [user] password",
        summary: "Authenticates the connection as user (default: the default user)",
        build: ({ words: [first = "", second] }) =>
          second === undefined
            ? { kind: "auth", user: null, password: first }
            : { kind: "auth", user: first, password: second },
      },
    },
  },
  // ACL's builder tells its subcommands apart; the other rows have no word of their own.
  acl_whoami: {
    category: "connection",
    writes: false,
    words: {
      ACL: {
        shape: "words",
        minWords: 1,
        maxWords: 1,
        syntax: "ACL WHOAMI | ACL LIST | ACL LOAD",
        summary: "The connection's user; every user's rules; re-reads auth.users_file",
        build: buildAcl,
      },
    },
  },
  acl_list: { category: "admin", writes: false, words: {} },
  acl_load: { category: "admin", writes: false, words: {} },
  // CONFIG's builder tells its subcommands apart; the other rows have no word of their own.
  config_get: {
    category: "admin",
    writes: false,
    words: {
      CONFIG: {
        shape: "text",
        syntax: "CONFIG GET key | CONFIG SET key value | CONFIG RELOAD",
        summary: "A running config value (VALUE); sets a live key; re-reads the config file",
        build: buildConfigCommand,
      },
    },
  },
  config_set: { category: "admin", writes: false, words: {} },
  config_reload: { category: "admin", writes: false, words: {} },
};

/** The row of a kind of command: its category and whether it writes. */
export function commandRow(kind: CommandKind): Readonly<Omit<CommandRow, "words">> {
  return COMMAND_TABLE[kind];
}

/** Every kind of command, in table order. */
export const COMMAND_KINDS: readonly CommandKind[] = Object.keys(COMMAND_TABLE) as CommandKind[];

/** The position of each kind in COMMAND_KINDS (for counters kept in typed arrays). */
export const COMMAND_KIND_INDEX: Readonly<Record<CommandKind, number>> = Object.fromEntries(
  COMMAND_KINDS.map((kind, index) => [kind, index]),
) as Record<CommandKind, number>;

/** The words that request a kind of command (aliases included); none for kinds built by another. */
export function commandWords(kind: CommandKind): readonly string[] {
  return Object.keys(COMMAND_TABLE[kind].words);
}

/** Lookup by the word as typed first, so the usual upper- and lower-case forms cost no copy. */
export const BY_WORD = new Map<string, [string, CommandSpec]>();
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

export function unknownCommand(word: string): ParseResult {
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
