/**
 * MerkleKVClient: a typed, pipelined client for protocol v1 (see docs/protocol.md, and
 * docs/client.md).
 *
 * Typed methods take text (sent as UTF-8) or bytes, check every key and value against the
 * server's rules and limits before anything is sent (a ClientError otherwise), and read each
 * reply into a typed result; an `ERROR` reply becomes a ServerError with the server's message.
 * `request` and `pipeline` send raw lines (binary strings) for tools, tests and the
 * anti-entropy peer link.
 */

import { AUTH_WORD_RULE, DEFAULT_CONFIG } from "../config/mod.ts";
import { type ClientTls, Connection, type ConnectionOptions } from "./connection.ts";
import { ClientError } from "./errors.ts";
import {
  expectExactly,
  MAYBE_MISSING,
  readAfter,
  readCount,
  readFound,
  readInfo,
  readInteger,
  readKeys,
  readSiblings,
  readTtl,
  readValue,
  readValues,
  type Sibling,
} from "./replies.ts";
import {
  amountToWire,
  binaryToBytes,
  checkLine,
  fromBinary,
  keysToWire,
  keyToWire,
  messageToWire,
  prefixToWire,
  secondsToWire,
  syncTargetToWire,
  type Value,
  valueToWire,
  type WireLimits,
  wordValueToWire,
} from "./wire.ts";

/** How to reach a node, and the server's limits the client checks requests against. */
export interface ClientOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** The node's client port (bind_port, 7878 by default). */
  port: number;
  /** Connect and per-request timeout; a request not answered within it rejects. */
  timeoutMs?: number;
  /**
   * Largest reply accepted, in bytes; a larger one fails every outstanding request and closes
   * the connection (a peer cannot make the client buffer without bound). Default 64 MiB.
   */
  maxReplyBytes?: number;
  /**
   * A request on a closed connection (closed by the server, QUIT, a timeout or a network
   * error) first opens a new one. Requests in flight when it closed still fail: they may have
   * run. Default false. close() ends the client for good either way.
   */
  reconnect?: boolean;
  /** The server's limits.max_key_bytes: longer keys are refused before sending. */
  maxKeyBytes?: number;
  /** The server's limits.max_value_bytes. */
  maxValueBytes?: number;
  /** The server's limits.max_line_bytes (a longer line makes the server close the connection). */
  maxLineBytes?: number;
  /** The server's limits.max_keys_per_command (MGET, MSET, EXISTS). */
  maxKeysPerCommand?: number;
  /**
   * The user to authenticate as (`AUTH <username> <password>`); needs `password`. Unset with a
   * password: the node's `default` user (`AUTH <password>`). See docs/security.md.
   */
  username?: string;
  /**
   * Sent in `AUTH` first on every connection (also each one `reconnect` opens), before any other
   * request; connect() rejects with the server's refusal (a ServerError, `WRONGPASS ...`).
   * Never shown in messages.
   */
  password?: string;
  /**
   * Connect with TLS (a node with tls.cert_file set): PEM text of the CA, and of a client
   * certificate and key for mutual TLS (see docs/client.md, TLS). Unset: plain TCP.
   */
  tls?: ClientTls;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** The limits as the client uses them: each option or the server's default. */
function limitsOf(options: ClientOptions): WireLimits {
  const defaults = DEFAULT_CONFIG.limits;
  const limits: WireLimits = {
    maxKeyBytes: options.maxKeyBytes ?? defaults.maxKeyBytes,
    maxValueBytes: options.maxValueBytes ?? defaults.maxValueBytes,
    maxLineBytes: options.maxLineBytes ?? defaults.maxLineBytes,
    maxKeysPerCommand: options.maxKeysPerCommand ?? defaults.maxKeysPerCommand,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ClientError(`Invalid client option ${name}: must be an integer >= 1, got ${value}`);
    }
  }
  return limits;
}

/**
 * The AUTH line for the options, or null without a password. Refuses a word the server would
 * not take; the message names the option, never its value.
 */
function authLineOf(options: ClientOptions): string | null {
  const { username, password } = options;
  for (const [name, value] of [["username", username], ["password", password]] as const) {
    if (value !== undefined && (typeof value !== "string" || !AUTH_WORD_RULE.test(value))) {
      throw new ClientError(`Invalid client option ${name}: must be ${AUTH_WORD_RULE.expected}`);
    }
  }
  if (password === undefined) {
    if (username !== undefined) {
      throw new ClientError("Invalid client option username: needs a password as well");
    }
    return null;
  }
  return username === undefined ? `AUTH ${password}` : `AUTH ${username} ${password}`;
}

/**
 * A connection to one node: typed methods for every command of protocol v1 (text as UTF-8,
 * bytes as they are), and raw `request`/`pipeline`. Calls made without awaiting are pipelined
 * and answered in call order.
 *
 * ```ts
 * const client = await MerkleKVClient.connect({ port: 7878 });
 * await client.set("user:1", "jane");
 * await client.get("user:1"); // "jane"
 * await client.close();
 * ```
 */
export class MerkleKVClient {
  readonly #connectionOptions: ConnectionOptions;
  readonly #limits: WireLimits;
  readonly #reconnect: boolean;
  #connection: Connection;
  #closed = false;

  private constructor(connection: Connection, options: ConnectionOptions, client: ClientOptions) {
    this.#connection = connection;
    this.#connectionOptions = options;
    this.#limits = limitsOf(client);
    this.#reconnect = client.reconnect ?? false;
  }

  /**
   * Connects, and with a password authenticates before anything else is sent; rejects when the
   * node cannot be reached within timeoutMs, or refuses the AUTH (a ServerError: `WRONGPASS ...`).
   */
  static async connect(options: ClientOptions): Promise<MerkleKVClient> {
    limitsOf(options);
    const connectionOptions: ConnectionOptions = {
      host: options.host ?? "127.0.0.1",
      port: options.port,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxReplyBytes: options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES,
      authLine: authLineOf(options),
      tls: options.tls ?? null,
    };
    const connection = await Connection.open(connectionOptions);
    return new MerkleKVClient(connection, connectionOptions, options);
  }

  // Raw lines: binary strings in and out, nothing checked but LF.

  /** Sends one request line; resolves to its reply lines (header first). */
  request(line: string): Promise<string[]> {
    return this.pipeline([line]).then(([reply]) => reply ?? []);
  }

  /** Sends many request lines in one write; resolves to their replies, in order. */
  pipeline(lines: readonly string[]): Promise<string[][]> {
    if (this.#closed) return Promise.reject(new ClientError("client closed"));
    return this.#current().pipeline(lines);
  }

  /** Writes raw bytes (binary string) without waiting for anything: for tests of framing. */
  writeRaw(bytes: string): void {
    this.#current().writeRaw(bytes);
  }

  /** Reply lines that arrived with no request outstanding (should stay empty). */
  get unexpected(): readonly string[] {
    return this.#connection.unexpected;
  }

  // Keys and values.

  /** The value of `key` as UTF-8 text, or null when it does not exist. */
  async get(key: string): Promise<string | null> {
    const value = readValue(await this.#send(`GET ${this.#key(key)}`));
    return value === null ? null : fromBinary(value);
  }

  /** The value of `key` as its bytes, or null when it does not exist. */
  async getBytes(key: string): Promise<Uint8Array | null> {
    const value = readValue(await this.#send(`GET ${this.#key(key)}`));
    return value === null ? null : binaryToBytes(value);
  }

  /** Stores `value` (text as UTF-8, or bytes) under `key`, clearing any expiry. */
  async set(key: string, value: Value): Promise<void> {
    const line = `SET ${this.#key(key)} ${valueToWire(key, value, this.#limits)}`;
    expectExactly(await this.#send(line), "OK");
  }

  /**
   * The versions of `key` when it holds siblings (conflicts mode siblings; see
   * docs/consistency.md), the LWW winner first, values as UTF-8 text (null: that version
   * deleted the key, or its value has expired); null when it has none (then get() reads it).
   * get() of a key with siblings throws.
   */
  async siblings(key: string): Promise<Sibling[] | null> {
    const versions = readSiblings(await this.#send(`GET ${this.#key(key)}`));
    if (versions === null) return null;
    return versions.map((x) => ({ ...x, value: x.value === null ? null : fromBinary(x.value) }));
  }

  /** Stores `value` over every sibling of `key` (conflicts mode siblings only). */
  async resolve(key: string, value: Value): Promise<void> {
    const line = `RESOLVE ${this.#key(key)} ${valueToWire(key, value, this.#limits)}`;
    expectExactly(await this.#send(line), "OK");
  }

  /** Deletes `key`; false when it did not exist. */
  async del(key: string): Promise<boolean> {
    return readFound(await this.#send(`DEL ${this.#key(key)}`), "DELETED");
  }

  /** Adds `by` (default 1) to the 64-bit integer at `key` (missing: 0); the new value. */
  async incr(key: string, by: bigint | number = 1n): Promise<bigint> {
    return readInteger(await this.#send(`INC ${this.#key(key)} ${amountToWire(by)}`));
  }

  /** Subtracts `by` (default 1) from the 64-bit integer at `key`; the new value. */
  async decr(key: string, by: bigint | number = 1n): Promise<bigint> {
    return readInteger(await this.#send(`DEC ${this.#key(key)} ${amountToWire(by)}`));
  }

  /** Appends `value` to the value at `key` (missing: empty); the new value as text. */
  async append(key: string, value: Value): Promise<string> {
    const line = `APPEND ${this.#key(key)} ${valueToWire(key, value, this.#limits)}`;
    return fromBinary(readAfter(await this.#send(line), "VALUE "));
  }

  /** Puts `value` before the value at `key` (missing: empty); the new value as text. */
  async prepend(key: string, value: Value): Promise<string> {
    const line = `PREPEND ${this.#key(key)} ${valueToWire(key, value, this.#limits)}`;
    return fromBinary(readAfter(await this.#send(line), "VALUE "));
  }

  /** The values of `keys` as text (null: missing), by key. No keys: nothing is sent. */
  mget(keys: string | Iterable<string>): Promise<Map<string, string | null>> {
    return this.#mget(keys, fromBinary);
  }

  /** The values of `keys` as bytes (null: missing), by key. */
  mgetBytes(keys: string | Iterable<string>): Promise<Map<string, Uint8Array | null>> {
    return this.#mget(keys, binaryToBytes);
  }

  /**
   * Stores every pair at once (all or none). MSET splits at spaces: a value here holds no space
   * and is not empty (set() takes any). No pairs: nothing is sent.
   */
  async mset(entries: Iterable<readonly [string, Value]> | Record<string, Value>): Promise<void> {
    const pairs = Symbol.iterator in entries ? [...entries] : Object.entries(entries);
    if (pairs.length === 0) return;
    if (pairs.length > this.#limits.maxKeysPerCommand) {
      throw new ClientError(
        `too many keys: ${pairs.length}, max ${this.#limits.maxKeysPerCommand}`,
      );
    }
    const words = pairs.map(([key, value]) =>
      `${this.#key(key)} ${wordValueToWire(key, value, this.#limits)}`
    );
    expectExactly(await this.#send(`MSET ${words.join(" ")}`), "OK");
  }

  /** How many of `keys` exist (a key named twice counts twice). No keys: 0, nothing sent. */
  async exists(keys: string | Iterable<string>): Promise<number> {
    const list = typeof keys === "string" ? [keys] : [...keys];
    if (list.length === 0) return 0;
    const line = `EXISTS ${keysToWire(list, this.#limits).join(" ")}`;
    return readCount(await this.#send(line), "EXISTS");
  }

  /**
   * Every key that starts with `prefix` (default: every key), in byte order, page after page
   * (`SCAN prefix AFTER last`). Keys written during the scan may or may not appear.
   */
  async *scan(prefix = ""): AsyncGenerator<string, void, undefined> {
    const wirePrefix = prefixToWire(prefix, this.#limits);
    let after: string | null = null;
    let fullPage = 0;
    for (;;) {
      const keys = readKeys(await this.#send(scanLine(wirePrefix, after)));
      for (const key of keys) yield fromBinary(key);
      // Every page but the last is full (scan_page_keys long): a shorter or empty one ends it.
      if (keys.length === 0 || keys.length < fullPage) return;
      fullPage = keys.length;
      after = keys.at(-1) ?? null;
    }
  }

  /** Live keys on the node (deleted and expired not counted). */
  async dbsize(): Promise<number> {
    return readCount(await this.#send("DBSIZE"), "DBSIZE");
  }

  // Expiry.

  /** Expires `key` in `seconds` (<= 0: deletes it now); false when it does not exist. */
  async expire(key: string, seconds: number): Promise<boolean> {
    return readFound(await this.#send(`EXPIRE ${this.#key(key)} ${secondsToWire(seconds)}`), "OK");
  }

  /** Seconds left (rounded up), Infinity when `key` has no expiry, null when it does not exist. */
  async ttl(key: string): Promise<number | null> {
    return readTtl(await this.#send(`TTL ${this.#key(key)}`));
  }

  /** Removes the expiry of `key`; false when it does not exist. */
  async persist(key: string): Promise<boolean> {
    return readFound(await this.#send(`PERSIST ${this.#key(key)}`), "OK");
  }

  // The node.

  /** Deletes every key (as tombstones that replicate). */
  async truncate(): Promise<void> {
    expectExactly(await this.#send("TRUNCATE"), "OK");
  }

  /** "PONG", or `message` back when one is given. */
  async ping(message?: string): Promise<string> {
    if (message === undefined) {
      expectExactly(await this.#send("PING"), "PONG");
      return "PONG";
    }
    const line = `PING ${messageToWire(message, "ping message")}`;
    return fromBinary(readAfter(await this.#send(line), "PONG "));
  }

  /** `message` back. */
  async echo(message: string): Promise<string> {
    const line = `ECHO ${messageToWire(message, "echo message")}`;
    return fromBinary(readAfter(await this.#send(line), "ECHO "));
  }

  /** INFO as name -> value (see docs/operations.md, INFO fields). */
  async info(): Promise<Map<string, string>> {
    return readInfo(await this.#send("INFO"));
  }

  /** The node's version (semver). */
  async version(): Promise<string> {
    return readAfter(await this.#send("VERSION"), "VERSION ");
  }

  /** The Merkle root, 16 hex digits: equal on two nodes exactly when their entries are. */
  async hash(): Promise<string> {
    return readAfter(await this.#send("HASH"), "HASH ");
  }

  /** Runs one anti-entropy session with that peer now; its summary (`pulled=… pushed=…`). */
  async sync(host: string, port: number): Promise<string> {
    return fromBinary(readAfter(await this.#send(`SYNC ${syncTargetToWire(host, port)}`), "OK "));
  }

  /** Asks the node to exit gracefully (loopback clients only, unless the node allows it). */
  async shutdown(): Promise<void> {
    expectExactly(await this.#send("SHUTDOWN"), "OK");
  }

  // The connection.

  /**
   * Sends QUIT and resolves once the server has closed the connection; earlier requests get
   * their replies first. With `reconnect`, the next request opens a new connection.
   */
  quit(): Promise<void> {
    return this.#connection.quit();
  }

  /** Closes the connection for good (also with `reconnect`); twice is fine. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#connection.close();
  }

  /**
   * The connection to write to: a new one when the last has closed and `reconnect` is on (it
   * sends AUTH first, when there is a password).
   */
  #current(): Connection {
    if (this.#reconnect && !this.#closed && !this.#connection.isOpen) {
      this.#connection = new Connection(this.#connectionOptions);
    }
    return this.#connection;
  }

  /** One checked request line; its reply. Writes before the first await, so calls keep order. */
  #send(line: string): Promise<string[]> {
    return this.request(checkLine(line, this.#limits));
  }

  #key(key: string): string {
    return keyToWire(key, this.#limits);
  }

  async #mget<T>(
    keys: string | Iterable<string>,
    decode: (binary: string) => T,
  ): Promise<Map<string, T | null>> {
    const list = typeof keys === "string" ? [keys] : [...keys];
    const result = new Map<string, T | null>();
    if (list.length === 0) return result;
    const wireKeys = keysToWire(list, this.#limits);
    const values = readValues(await this.#send(`MGET ${wireKeys.join(" ")}`), wireKeys);
    // `key NOT_FOUND` is also how MGET shows the value "NOT_FOUND": GET tells them apart.
    const unsure = list.flatMap((_, index) => values[index] === MAYBE_MISSING ? [index] : []);
    const again = unsure.length === 0
      ? []
      : await this.pipeline(unsure.map((index) => `GET ${wireKeys[index]}`));
    unsure.forEach((index, i) => values[index] = readValue(again[i] ?? []) ?? MAYBE_MISSING);
    list.forEach((key, index) => {
      const value = values[index];
      result.set(key, value === MAYBE_MISSING || value === undefined ? null : decode(value));
    });
    return result;
  }
}

/**
 * A SCAN line. A prefix spelled AFTER (any case) would read as the keyword, so it takes the
 * long form with a key that sorts before every key it prefixes (see docs/protocol.md).
 */
function scanLine(prefix: string, after: string | null): string {
  if (prefix === "") return after === null ? "SCAN" : `SCAN AFTER ${after}`;
  const from = after ?? (prefix.toUpperCase() === "AFTER" ? prefix.slice(0, -1) : null);
  return from === null ? `SCAN ${prefix}` : `SCAN ${prefix} AFTER ${from}`;
}
