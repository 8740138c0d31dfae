/**
 * What the load client says and hears, for both servers it measures: MerkleKV protocol v1
 * lines and Redis RESP arrays (Redis clients send RESP; Redis's inline-command path is slower
 * and would flatter the comparison). Reply parsers are incremental: bytes in, replies out,
 * whatever the chunk boundaries. Keys and values are derived from a key number, so every
 * value read back can be checked exactly. Pure: no sockets, no clock.
 */

import { Buffer } from "node:buffer";
import { INFO_END, INFO_HEADER, replyLineCount } from "../../src/protocol/reply.ts";

export type Protocol = "merklekv" | "redis";

/** One reply, in the same shape for both protocols. */
export type Reply =
  /** MerkleKV `OK`, `PONG`, `DBSIZE 3`...; RESP `+OK`. */
  | { kind: "status"; text: string }
  /** MerkleKV `ERROR ...`; RESP `-ERR ...`. */
  | { kind: "error"; message: string }
  /** RESP `:n`. */
  | { kind: "integer"; value: number }
  /** MerkleKV `VALUE v`; RESP bulk string `$n`. */
  | { kind: "value"; value: string }
  /** MerkleKV `NOT_FOUND`; RESP null bulk string or null array. */
  | { kind: "missing" }
  /** MerkleKV `VALUES n` block (keys named on each line); RESP array (keys null). */
  | { kind: "array"; items: Reply[]; keys: string[] | null }
  /** MerkleKV `KEYS n`, `ENTRIES n` and `INFO ... END` blocks. */
  | { kind: "lines"; header: string; lines: string[] };

/** A stream that cannot be framed: the connection is unusable. */
export class ProtocolError extends Error {}

/** A reply larger than this is treated as a framing failure rather than buffered forever. */
export const MAX_REPLY_BYTES = 256 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

export interface ReplyParser {
  /** Appends received bytes; call next() until it returns null. */
  push(chunk: Uint8Array): void;
  /** The next complete reply, or null until more bytes arrive. Throws ProtocolError. */
  next(): Reply | null;
  /** Bytes received but not yet returned as part of a reply. */
  readonly pendingBytes: number;
}

export function createReplyParser(protocol: Protocol): ReplyParser {
  return protocol === "redis" ? new RespReplyParser() : new MerkleKVReplyParser();
}

/**
 * A line end within this many bytes is found by a plain loop; further on, the buffer is decoded
 * once and searched as a string, at memchr speed. Deno's Buffer.prototype.indexOf takes about
 * 12 µs to cross a 16 KiB line (measured with Deno 2.9.6), which made the client, not the
 * server, the cost of large MerkleKV values; RESP headers are always found by the loop.
 */
const SHORT_LINE_BYTES = 256;

/** Shared buffer handling: a Buffer and a read position. */
abstract class BufferedParser implements ReplyParser {
  protected buffer: Buffer = Buffer.alloc(0);
  protected position = 0;
  /** `buffer` decoded, once a line longer than SHORT_LINE_BYTES is searched in it. */
  #text: string | null = null;

  push(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.position >= this.buffer.length) this.buffer = bytes;
    else this.buffer = Buffer.concat([this.buffer.subarray(this.position), bytes]);
    this.position = 0;
    this.#text = null;
  }

  get pendingBytes(): number {
    return this.buffer.length - this.position;
  }

  next(): Reply | null {
    const start = this.position;
    const reply = this.parseAt();
    if (reply === null) {
      this.position = start;
      if (this.buffer.length - start > MAX_REPLY_BYTES) {
        throw new ProtocolError(`reply longer than ${MAX_REPLY_BYTES} bytes`);
      }
    }
    return reply;
  }

  /** Parses one reply at `position`, advancing it; null (position anywhere) if incomplete. */
  protected abstract parseAt(): Reply | null;

  /** The next line without its line end (CRLF or LF), or null if incomplete. */
  protected line(): string | null {
    const buffer = this.buffer;
    const start = this.position;
    const shortEnd = Math.min(buffer.length, start + SHORT_LINE_BYTES);
    let newline = start;
    while (newline < shortEnd && buffer[newline] !== LF) newline++;
    if (newline === shortEnd) {
      if (shortEnd === buffer.length) return null;
      this.#text ??= buffer.toString("latin1");
      newline = this.#text.indexOf("\n", shortEnd);
      if (newline === -1) return null;
    }
    const end = newline > start && buffer[newline - 1] === CR ? newline - 1 : newline;
    this.position = newline + 1;
    return this.#text !== null
      ? this.#text.slice(start, end)
      : buffer.toString("latin1", start, end);
  }
}

/** MerkleKV protocol v1: one line per reply, or a header line that counts the lines after it. */
export class MerkleKVReplyParser extends BufferedParser {
  protected parseAt(): Reply | null {
    const header = this.line();
    if (header === null) return null;
    if (header === "OK") return { kind: "status", text: "OK" };
    if (header.startsWith("VALUE ")) return { kind: "value", value: header.slice(6) };
    if (header === "NOT_FOUND") return { kind: "missing" };
    if (header.startsWith("ERROR")) return { kind: "error", message: header.slice(6) };
    if (header.startsWith("VALUES ")) return this.#values(header);
    if (header === INFO_HEADER) return this.#untilEnd(header);
    const count = replyLineCount(header);
    if (count > 0) return this.#counted(header, count);
    return { kind: "status", text: header };
  }

  #values(header: string): Reply | null {
    const count = Number(header.slice(7));
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new ProtocolError(`Cannot frame reply "${header}": count is not an integer`);
    }
    const keys: string[] = [];
    const items: Reply[] = [];
    for (let i = 0; i < count; i++) {
      const line = this.line();
      if (line === null) return null;
      const space = line.indexOf(" ");
      if (space === -1) {
        throw new ProtocolError(`Cannot frame VALUES line "${line}": no space after the key`);
      }
      keys.push(line.slice(0, space));
      const rest = line.slice(space + 1);
      items.push(rest === "NOT_FOUND" ? { kind: "missing" } : { kind: "value", value: rest });
    }
    return { kind: "array", items, keys };
  }

  #counted(header: string, count: number): Reply | null {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const line = this.line();
      if (line === null) return null;
      lines.push(line);
    }
    return { kind: "lines", header, lines };
  }

  #untilEnd(header: string): Reply | null {
    const lines: string[] = [];
    for (;;) {
      const line = this.line();
      if (line === null) return null;
      if (line === INFO_END) return { kind: "lines", header, lines };
      lines.push(line);
    }
  }
}

/** RESP2 replies: + - : $ * (bulk strings framed by length, so any bytes may appear in them). */
export class RespReplyParser extends BufferedParser {
  protected parseAt(): Reply | null {
    if (this.position >= this.buffer.length) return null;
    const type = this.buffer[this.position];
    const header = this.line();
    if (header === null) return null;
    const body = header.slice(1);
    switch (type) {
      case 0x2b: // +
        return { kind: "status", text: body };
      case 0x2d: // -
        return { kind: "error", message: body };
      case 0x3a: // :
        return { kind: "integer", value: this.#length(header) };
      case 0x24: // $
        return this.#bulk(header);
      case 0x2a: // *
        return this.#array(header);
      default:
        throw new ProtocolError(`Cannot frame RESP reply "${header.slice(0, 40)}": unknown type`);
    }
  }

  #length(header: string): number {
    const value = Number(header.slice(1));
    if (!Number.isSafeInteger(value) || header.length < 2) {
      throw new ProtocolError(`Cannot frame RESP reply "${header.slice(0, 40)}": bad number`);
    }
    return value;
  }

  #bulk(header: string): Reply | null {
    const length = this.#length(header);
    if (length < 0) return { kind: "missing" };
    const end = this.position + length;
    if (end + 2 > this.buffer.length) return null;
    if (this.buffer[end] !== CR || this.buffer[end + 1] !== LF) {
      throw new ProtocolError(`Cannot frame RESP bulk string of ${length} bytes: no CRLF after`);
    }
    const value = this.buffer.toString("latin1", this.position, end);
    this.position = end + 2;
    return { kind: "value", value };
  }

  #array(header: string): Reply | null {
    const count = this.#length(header);
    if (count < 0) return { kind: "missing" };
    const items: Reply[] = [];
    for (let i = 0; i < count; i++) {
      const item = this.parseAt();
      if (item === null) return null;
      items.push(item);
    }
    return { kind: "array", items, keys: null };
  }
}

/** Request text (binary string) for one protocol. */
export interface RequestEncoder {
  set(key: string, value: string): string;
  /** A SET up to its value, which follows (valueBytes bytes), then SET_END. */
  setHead(key: string, valueBytes: number): string;
  get(key: string): string;
  mget(keys: readonly string[]): string;
  mset(keys: readonly string[], values: readonly string[]): string;
  ping(): string;
}

export function createRequestEncoder(protocol: Protocol): RequestEncoder {
  return protocol === "redis" ? RESP_ENCODER : MERKLEKV_ENCODER;
}

const MERKLEKV_ENCODER: RequestEncoder = {
  set: (key, value) => "SET " + key + " " + value + "\r\n",
  setHead: (key) => "SET " + key + " ",
  get: (key) => "GET " + key + "\r\n",
  mget: (keys) => "MGET " + keys.join(" ") + "\r\n",
  mset: (keys, values) => {
    let line = "MSET";
    for (let i = 0; i < keys.length; i++) line += " " + keys[i] + " " + values[i];
    return line + "\r\n";
  },
  ping: () => "PING\r\n",
};

/** A RESP array of bulk strings: what Redis clients send. Lengths are bytes (binary strings). */
export function respCommand(words: readonly string[]): string {
  let text = "*" + words.length + "\r\n";
  for (const word of words) text += "$" + word.length + "\r\n" + word + "\r\n";
  return text;
}

const RESP_ENCODER: RequestEncoder = {
  set: (key, value) =>
    "*3\r\n$3\r\nSET\r\n$" + key.length + "\r\n" + key + "\r\n$" + value.length + "\r\n" + value +
    "\r\n",
  setHead: (key, valueBytes) =>
    "*3\r\n$3\r\nSET\r\n$" + key.length + "\r\n" + key + "\r\n$" + valueBytes + "\r\n",
  get: (key) => "*2\r\n$3\r\nGET\r\n$" + key.length + "\r\n" + key + "\r\n",
  mget: (keys) => respCommand(["MGET", ...keys]),
  mset: (keys, values) => {
    const words = ["MSET"];
    // One value per key (the encoder's contract): no check per key on the load client.
    for (let i = 0; i < keys.length; i++) words.push(keys[i]!, values[i]!);
    return respCommand(words);
  },
  ping: () => "*1\r\n$4\r\nPING\r\n",
};

/** What ends a SET after its value, in both protocols. */
export const SET_END = "\r\n";

const FILLER_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * Key number -> key, and key -> value. A key is `v<valueBytes>_` then the number zero-padded to
 * keyBytes, so runs with different value sizes never read each other's keys. A value is its
 * key, `=`, then a fixed filler, cut to valueBytes: every writer of a key writes the same
 * bytes, so any read can be checked whatever the concurrency. No spaces anywhere.
 */
export class KeySpace {
  readonly keyBytes: number;
  readonly valueBytes: number;
  readonly #prefix: string;
  readonly #digits: number;
  readonly #filler: string;
  /** The filler as bytes, copied into requests instead of encoding a long string each time. */
  readonly fillerBytes: Uint8Array;

  constructor(keyBytes: number, valueBytes: number, keyCount: number) {
    this.keyBytes = keyBytes;
    this.valueBytes = valueBytes;
    this.#prefix = "v" + valueBytes + "_";
    this.#digits = keyBytes - this.#prefix.length;
    const largest = String(Math.max(0, keyCount - 1)).length;
    if (this.#digits < largest) {
      throw new RangeError(
        `key_bytes ${keyBytes} too small for ${keyCount} keys with prefix "${this.#prefix}"`,
      );
    }
    const fillerBytes = Math.max(0, valueBytes - keyBytes - 1);
    const filler = FILLER_ALPHABET.repeat(Math.ceil(fillerBytes / FILLER_ALPHABET.length))
      .slice(0, fillerBytes);
    this.fillerBytes = new TextEncoder().encode(filler);
    // Decoded back: one flat string, not a slice of the repeat's result, for matches().
    this.#filler = new TextDecoder().decode(this.fillerBytes);
  }

  key(index: number): string {
    return this.#prefix + String(index).padStart(this.#digits, "0");
  }

  value(key: string): string {
    if (this.valueBytes <= key.length) return key.slice(0, this.valueBytes);
    return key + "=" + this.#filler;
  }

  /** The start of a key's value (the rest is fillerBytes), or the whole value if short. */
  valueHead(key: string): string {
    return this.valueBytes <= key.length ? key.slice(0, this.valueBytes) : key + "=";
  }

  /**
   * Whether `value` is the key's value, without building the value: a 16 KiB value built per
   * read is a 16 KiB string to flatten and collect on every GET. The filler is compared with
   * `===` on the value's tail, which V8 runs as a block compare: `endsWith` compares code unit
   * by code unit, 12-14 µs for a 16 KiB value (Deno 2.9.6, 2026-12-07), which was 37% of the
   * load client's busy time against Redis on the 16 KiB row; the slice and `===` take 0.8 µs.
   */
  matches(key: string, value: string): boolean {
    if (this.valueBytes <= key.length) return value === key.slice(0, this.valueBytes);
    const filler = this.#filler;
    return value.length === this.valueBytes && value.startsWith(key) &&
      value.charCodeAt(key.length) === 0x3d &&
      value.slice(value.length - filler.length) === filler;
  }
}
