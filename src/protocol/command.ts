/**
 * The client protocol's requests, as one tagged union (see docs/protocol.md).
 *
 * Keys and values are "binary strings": every byte of the wire becomes one UTF-16 code unit
 * in 0..255 (latin1 decoding), so every byte a value may hold (any but LF; see valueProblem
 * in src/store/entry.ts) round-trips exactly and a string's length is its size in bytes.
 */

export type Command =
  | { kind: "set"; key: string; value: string }
  | { kind: "get"; key: string }
  /** RESOLVE: a write of `value` that ends the key's siblings (conflicts mode siblings). */
  | { kind: "resolve"; key: string; value: string }
  | { kind: "del"; key: string }
  /** INC/INCR (positive amount) and DEC/DECR (negated amount). */
  | { kind: "incr"; key: string; amount: bigint }
  | { kind: "append"; key: string; value: string; prepend: boolean }
  | { kind: "mget"; keys: string[] }
  /** keys[i] gets values[i]; all pairs or none. */
  | { kind: "mset"; keys: string[]; values: string[] }
  | { kind: "exists"; keys: string[] }
  /** Keys in byte order that start with prefix and sort after `after` (exclusive). */
  | { kind: "scan"; prefix: string; after: string | null }
  | { kind: "dbsize" }
  | { kind: "expire"; key: string; seconds: number }
  | { kind: "ttl"; key: string }
  | { kind: "persist"; key: string }
  | { kind: "truncate" }
  | { kind: "ping"; message: string | null }
  | { kind: "echo"; message: string }
  | { kind: "info" }
  | { kind: "version" }
  | { kind: "hash" }
  | { kind: "quit" }
  | { kind: "shutdown" }
  | { kind: "snapshot" }
  /** HELP [command]: the command table's lines, for every row or for the one named. */
  | { kind: "help"; topic: CommandKind | null }
  /** CONFLICTS [count]: the newest records of the conflict log (see docs/consistency.md). */
  | { kind: "conflicts_list"; count: number }
  /** CONFLICTS CLEAR: empties the conflict log. */
  | { kind: "conflicts_clear" }
  | SyncCommand
  | AuthCommand
  | ConfigCommand;

/** Live configuration (see docs/operations.md, Live configuration); keys as in the file. */
export type ConfigCommand =
  | { kind: "config_get"; key: string }
  /** `value` is the rest of the line, as text for the key's type (lists comma-separated). */
  | { kind: "config_set"; key: string; value: string }
  /** Re-reads the file given with --config. */
  | { kind: "config_reload" };

/**
 * Anti-entropy requests between nodes, on the ordinary client port (see docs/anti-entropy.md, Sync
 * protocol v2). `sync_run` is the operator's "SYNC <host> <port>": run one session with that peer
 * now.
 */
export type SyncCommand =
  | { kind: "sync_run"; host: string; port: number }
  /** `SYNC <VERB> <args>` between peers; the anti-entropy module parses `args`. */
  | { kind: "sync_request"; verb: string; args: string };

/** Users and permissions (see docs/security.md). */
export type AuthCommand =
  /** `AUTH <password>` (user null: `default`) or `AUTH <user> <password>`. */
  | { kind: "auth"; user: string | null; password: string }
  | { kind: "acl_whoami" }
  | { kind: "acl_list" }
  | { kind: "acl_load" };

export type CommandKind = Command["kind"];

/**
 * What a user must be granted to run a command (see docs/security.md): `connection` commands
 * (AUTH, QUIT, PING, ECHO, VERSION, HELP, ACL WHOAMI) need no grant. Each kind's category is a
 * field of the command
 * table in parse.ts.
 */
export type CommandCategory = "read" | "write" | "admin" | "sync" | "connection";

/** What parsing a line yields: a command, or the text of one `ERROR` reply. */
export type ParseResult = Command | { kind: "invalid"; message: string };
