/**
 * Command execution: one switch over the Command union. Data commands read and write the
 * store; each local write appends its resulting entry to `changes`, which the caller logs and
 * publishes. Commands that need the node's edges (INFO, SYNC, SHUTDOWN) go through Services.
 */

import { type AuthCommand, type Command, type ConfigCommand, parseInt64 } from "../protocol/mod.ts";
import * as reply from "../protocol/mod.ts";
import {
  counterOf,
  type Entry,
  incremented,
  type LiveEntry,
  restamped,
  type Store,
  valueProblem,
} from "../store/mod.ts";
import { assert } from "../assert.ts";

/** Returned instead of a reply when the connection must close after the replies so far. */
export const CLOSE_CONNECTION = Symbol("close connection");

/**
 * Replies larger than this are returned as a PiecewiseReply, which the server produces as the
 * client drains it, never whole (see docs/operations.md, Limits); smaller ones are one string.
 */
export const PIECEWISE_REPLY_MIN_BYTES = 64 * 1024;

export type ExecuteResult =
  | string
  | Promise<string>
  | reply.PiecewiseReply
  | typeof CLOSE_CONNECTION;

/** What commands need beyond the store, provided by the node. */
export interface Services {
  info(): string;
  version: string;
  /** conflicts.mode (RESOLVE needs siblings). */
  conflictsMode: string;
  /** SYNC <host> <port>: one anti-entropy session now. */
  runSync(host: string, port: number): Promise<string>;
  /** SYNC <VERB> ...: a request from a peer's anti-entropy session. */
  answerSync(verb: string, args: string): string;
  /** AUTH: OK or WRONGPASS; the node knows the connection (see sessions.ts). */
  auth(user: string | null, password: string): string;
  aclWhoami(): string;
  aclList(): string;
  /** ACL LOAD: re-reads the users file, all or nothing. */
  aclLoad(): Promise<string>;
  /** SHUTDOWN from a client; the reply (OK or ERROR) is decided by the node. */
  shutdown(): string;
  /** SNAPSHOT: OK <path> once the backup is on disk, or ERROR (see docs/backup.md). */
  snapshot(): Promise<string>;
  /** CONFIG GET, SET and RELOAD: the node holds the running config (see live_config.ts). */
  config(command: ConfigCommand): string | Promise<string>;
  /** CONFLICTS [count]: the newest records whose keys `allowed` lets through (null: all). */
  conflicts(count: number, allowed: ((key: string) => boolean) | null): string;
  /** CONFLICTS CLEAR: OK once the conflict log is empty on disk too. */
  clearConflicts(): string | Promise<string>;
}

export interface ExecuteContext {
  store: Store;
  services: Services;
  maxValueBytes: number;
  scanPageKeys: number;
  maxReplyBytes: number;
  /** Local writes made by this command are appended here. */
  changes: Entry[];
  /** SCAN and CONFLICTS list only the keys this allows (a user's key globs); null: every key. */
  scanFilter: ((key: string) => boolean) | null;
}

export function execute(command: Command, context: ExecuteContext): ExecuteResult {
  const { store, changes } = context;
  switch (command.kind) {
    case "get":
      return get(command.key, store);
    case "set":
    case "resolve":
      return set(command, context);
    case "del":
      if (!store.has(command.key)) return reply.NOT_FOUND;
      changes.push(store.write(command.key, null, 0));
      return reply.DELETED;
    case "incr":
      return increment(command.key, command.amount, context);
    case "append":
      return append(command.key, command.value, command.prepend, context);
    case "mget":
      return multiGet(command.keys, context);
    case "mset":
      return multiSet(command.keys, command.values, context);
    case "exists":
      return exists(command.keys, store);
    case "scan":
      return scan(scanKeys(command.prefix, command.after, context));
    case "dbsize":
      return reply.numberReply("DBSIZE", store.countLive());
    case "expire":
      return expire(command.key, command.seconds, context);
    case "ttl":
      return ttl(command.key, store);
    case "persist":
      return persist(command.key, context);
    case "truncate":
      return truncate(context);
    case "ping":
      return command.message === null ? reply.PONG : "PONG " + command.message + reply.CRLF;
    case "echo":
      return "ECHO " + command.message + reply.CRLF;
    case "version":
      return "VERSION " + context.services.version + reply.CRLF;
    case "hash":
      return "HASH " + store.rootHex() + reply.CRLF;
    case "quit":
      return CLOSE_CONNECTION;
    case "help":
      return reply.helpReply(reply.commandHelp(command.topic));
    case "conflicts_list":
      return context.services.conflicts(command.count, context.scanFilter);
    case "conflicts_clear":
    case "info":
    case "shutdown":
    case "snapshot":
    case "sync_run":
    case "sync_request":
    case "config_get":
    case "config_set":
    case "config_reload":
      return executeService(command, context.services);
    case "auth":
    case "acl_whoami":
    case "acl_list":
    case "acl_load":
      return executeAuth(command, context.services);
    default: {
      const unreachable: never = command;
      assert(false, `execute() handles every command kind, not ${JSON.stringify(unreachable)}`);
    }
  }
}

type ServiceCommand = Extract<
  Command,
  {
    kind:
      | "info"
      | "shutdown"
      | "snapshot"
      | "sync_run"
      | "sync_request"
      | "config_get"
      | "config_set"
      | "config_reload"
      | "conflicts_clear";
  }
>;

/** Commands the node's parts answer (INFO, SHUTDOWN, SNAPSHOT, SYNC, CONFIG). */
function executeService(command: ServiceCommand, services: Services): ExecuteResult {
  switch (command.kind) {
    case "info":
      return services.info();
    case "shutdown":
      return services.shutdown();
    case "snapshot":
      return services.snapshot();
    case "sync_run":
      return services.runSync(command.host, command.port);
    case "sync_request":
      return services.answerSync(command.verb, command.args);
    case "config_get":
    case "config_set":
    case "config_reload":
      return services.config(command);
    case "conflicts_clear":
      return services.clearConflicts();
    default: {
      const unreachable: never = command;
      assert(false, `every service command is handled, not ${JSON.stringify(unreachable)}`);
    }
  }
}

function exists(keys: readonly string[], store: Store): string {
  let count = 0;
  for (const key of keys) if (store.has(key)) count++;
  return reply.numberReply("EXISTS", count);
}

/** AUTH and ACL: the node knows the connection and the users (see sessions.ts). */
function executeAuth(command: AuthCommand, services: Services): string | Promise<string> {
  switch (command.kind) {
    case "auth":
      return services.auth(command.user, command.password);
    case "acl_whoami":
      return services.aclWhoami();
    case "acl_list":
      return services.aclList();
    case "acl_load":
      return services.aclLoad();
  }
}

/** The reply to GET of a key whose live entry is `entry` (undefined: none). */
function valueOrNotFound(value: string | undefined): string {
  return value === undefined ? reply.NOT_FOUND : reply.valueReply(value);
}

/** GET: `VALUE v` or NOT_FOUND, or `SIBLINGS n` for a key with siblings. */
function get(key: string, store: Store): string {
  if (store.causality.siblingKeys === 0) return valueOrNotFound(store.readValue(key));
  const siblings = store.siblings(key);
  return siblings === undefined
    ? valueOrNotFound(store.readValue(key))
    : reply.siblingsReply(siblings);
}

/**
 * SET, and RESOLVE: a local write has seen every version the node holds, so it supersedes every
 * sibling (see docs/consistency.md, Siblings mode). RESOLVE says so, and is refused outside
 * conflicts mode siblings, where it would mean nothing more than SET.
 */
function set(command: Extract<Command, { kind: "set" | "resolve" }>, context: ExecuteContext) {
  if (command.kind === "resolve" && context.services.conflictsMode !== "siblings") {
    const mode = context.services.conflictsMode;
    return reply.errorReply(
      `RESOLVE needs conflicts.mode siblings; this node runs ${mode} (set it on every node)`,
    );
  }
  context.changes.push(context.store.write(command.key, command.value, 0));
  return reply.OK;
}

export function getReply(entry: LiveEntry | undefined): string {
  return entry === undefined ? reply.NOT_FOUND : reply.valueReply(entry.value);
}

/**
 * INC/DEC: the key becomes (or stays) a counter, and this node's own contribution grows by
 * the amount; the reply is the sum (see docs/consistency.md, Counters).
 */
function increment(key: string, amount: bigint, context: ExecuteContext): string {
  const { store } = context;
  const live = store.read(key);
  const held = live ?? store.entry(key);
  const state = counterOf(held, live !== undefined, parseInt64);
  if (state === null) return reply.errorReply("value is not a 64-bit integer");
  const next = incremented(state, store.nodeId, amount, store.hlc.tick());
  if (typeof next === "string") return reply.errorReply(next);
  const change = store.writeCounter(key, next, live?.expiresAtMs ?? 0);
  context.changes.push(change);
  return reply.valueReply(change.value as string);
}

/**
 * A new expiry for a live key: a write of its value with that expiry, or for a counter a
 * re-stamp of this node's contribution, which keeps every node's increments.
 */
function writeExpiry(entry: LiveEntry, expiresAtMs: number, store: Store): Entry {
  if (entry.counter === undefined) return store.write(entry.key, entry.value, expiresAtMs);
  const state = restamped(entry.counter, store.nodeId, store.hlc.tick());
  return store.writeCounter(entry.key, state, expiresAtMs);
}

function append(key: string, value: string, prepend: boolean, context: ExecuteContext): string {
  const entry = context.store.read(key);
  const current = entry === undefined ? "" : entry.value;
  const next = prepend ? value + current : current + value;
  const problem = valueProblem(next, context.maxValueBytes);
  if (problem !== null) return reply.errorReply(problem);
  context.changes.push(context.store.write(key, next, entry?.expiresAtMs ?? 0));
  return reply.valueReply(next);
}

/** MSET: keys[i] gets values[i]. */
function multiSet(
  keys: readonly string[],
  values: readonly string[],
  context: ExecuteContext,
): string {
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = values[i];
    assert(key !== undefined && value !== undefined, "MSET's keys and values pair up");
    context.changes.push(context.store.write(key, value, 0));
  }
  return reply.OK;
}

/** MGET: the values as read now, in one reply or, if large, a reply made piece by piece. */
function multiGet(
  keys: readonly string[],
  context: ExecuteContext,
): string | reply.PiecewiseReply {
  const values: (string | undefined)[] = [];
  let replyBytes = 0;
  context.store.prefetchKeyStrings(keys);
  for (const key of keys) {
    const value = context.store.readValue(key);
    values.push(value);
    replyBytes += key.length + (value === undefined ? 11 : value.length + 3);
  }
  if (replyBytes > context.maxReplyBytes) {
    return reply.errorReply(
      `reply too large: ${replyBytes} bytes, max ${context.maxReplyBytes} (ask for fewer keys)`,
    );
  }
  if (replyBytes > PIECEWISE_REPLY_MIN_BYTES) return new reply.PiecewiseReply(keys, values);
  return reply.valuesReply(keys, values);
}

/**
 * A page of SCAN: with a filter, pages are read until one is full of allowed keys or the
 * store has no more, so that a short page still means the last (see docs/protocol.md, SCAN).
 */
function scanKeys(prefix: string, after: string | null, context: ExecuteContext): string[] {
  const { store, scanPageKeys, scanFilter } = context;
  if (scanFilter === null) return store.scan(prefix, after, scanPageKeys);
  const keys: string[] = [];
  let from = after;
  for (;;) {
    const page = store.scan(prefix, from, scanPageKeys);
    for (const key of page) {
      if (scanFilter(key)) keys.push(key);
      if (keys.length === scanPageKeys) return keys;
    }
    if (page.length < scanPageKeys) return keys;
    from = page.at(-1) ?? null;
  }
}

function scan(keys: readonly string[]): string | reply.PiecewiseReply {
  let replyBytes = 0;
  for (const key of keys) replyBytes += key.length + 2;
  if (replyBytes > PIECEWISE_REPLY_MIN_BYTES) return new reply.PiecewiseReply(keys, null);
  return reply.keysReply(keys);
}

function expire(key: string, seconds: number, context: ExecuteContext): string {
  const { store } = context;
  const entry = store.read(key);
  if (entry === undefined) return reply.NOT_FOUND;
  // A non-positive expiry deletes at once, as in Redis.
  if (seconds <= 0) context.changes.push(store.write(key, null, 0));
  else context.changes.push(writeExpiry(entry, store.nowMs() + seconds * 1000, store));
  return reply.OK;
}

function persist(key: string, context: ExecuteContext): string {
  const entry = context.store.read(key);
  if (entry === undefined) return reply.NOT_FOUND;
  if (entry.expiresAtMs !== 0) context.changes.push(writeExpiry(entry, 0, context.store));
  return reply.OK;
}

function ttl(key: string, store: Store): string {
  const entry = store.read(key);
  if (entry === undefined) return reply.NOT_FOUND;
  if (entry.expiresAtMs === 0) return "TTL -1\r\n";
  return reply.numberReply("TTL", Math.ceil((entry.expiresAtMs - store.nowMs()) / 1000));
}

function truncate(context: ExecuteContext): string {
  const { store, changes } = context;
  const nowMs = store.nowMs();
  const live: string[] = [];
  for (const entry of store.entries()) {
    if (entry.value !== null && (entry.expiresAtMs === 0 || entry.expiresAtMs > nowMs)) {
      live.push(entry.key);
    }
  }
  for (const key of live) changes.push(store.write(key, null, 0));
  return reply.OK;
}
