/**
 * Line framing: received bytes in, request lines out, left in the received bytes (advance(),
 * then `bytes[start, end)`) or as binary strings, one code unit per byte (next()). Accepts
 * `\r\n` and `\n`. A line longer than maxLineBytes is reported as soon as that many bytes have
 * arrived without a line end, so a client cannot make the server buffer an endless line.
 *
 * What is decoded (text(), copy()) is a new string of its own bytes. Slicing lines out of one
 * string per chunk would be cheaper, but every key and value kept in the store would then hold
 * its whole chunk alive (V8 slices reference their parent string); the decoded chunk used for
 * searching lives only as long as the chunk.
 */

import { Buffer } from "node:buffer";
import type { FramedLine } from "./parse.ts";

/** Returned by advance() and next() when the current line exceeds the limit; close. */
export const LINE_TOO_LONG = Symbol("line too long");

const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);
/**
 * The typed array's native indexOf, for short searches: Deno's Buffer.prototype.indexOf runs
 * a slower generic path (measured with Deno 2.9.6 on a 16 KiB line: 11.7 µs against 5.3 µs).
 */
const indexOfByte = Uint8Array.prototype.indexOf;
/**
 * From this many bytes on, bytes are decoded once and searched as a string: V8 searches a
 * one-byte string for one character at memchr speed (measured with Deno 2.9.6 on 16 KiB:
 * decoding 1.3 µs plus searching 0.2 µs, against 5-10 µs for the typed array's indexOf).
 */
const TEXT_SEARCH_MIN_BYTES = 1024;

/** The first LF in `bytes` at or after `from`, or -1; `text` is `bytes` decoded, if known. */
function findNewline(bytes: Buffer, text: string | null, from: number): number {
  return text !== null ? text.indexOf("\n", from) : indexOfByte.call(bytes, LF, from) as number;
}

/** `bytes` decoded for a string search if what is left from `from` is worth it, else null. */
function searchText(bytes: Buffer, from: number): string | null {
  return bytes.length - from >= TEXT_SEARCH_MIN_BYTES ? bytes.toString("latin1") : null;
}

export class LineFramer implements FramedLine {
  /** May change between lines (a lower limit before a client authenticates). */
  maxLineBytes: number;
  /** The bytes lines are taken from, from #position on. */
  #chunk: Buffer = EMPTY;
  /** #chunk decoded, for fast searching (see TEXT_SEARCH_MIN_BYTES); null until needed. */
  #text: string | null = null;
  #position = 0;
  /** Where in #chunk the current line (the last advance() found) starts and ends. */
  #lineStart = 0;
  #lineEnd = 0;
  /**
   * Earlier bytes of an unfinished line, kept apart and joined once a line end arrives:
   * joining on every push would copy the partial line each time, so a long line sent in small
   * pieces would cost time quadratic in its length.
   */
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  /**
   * No LF lies in #chunk from #position up to this offset: push() has already searched those
   * bytes, so advance() does not search a long line twice.
   */
  #searchFrom = 0;
  /** advance() returned null: no LF from #position to the end of #chunk. */
  #searchedToEnd = false;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Appends received bytes; call advance() or next() until it returns null. */
  push(bytes: Uint8Array): void {
    // Sockets hand over Buffers already; a plain Uint8Array gets a Buffer view (no copy).
    const chunk = bytes instanceof Buffer
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Bytes left unread may still hold lines unless advance() found none in them.
    const leftover = this.#position < this.#chunk.length;
    const leftoverSearched = !leftover || this.#searchedToEnd;
    if (leftover) this.#keepPartial(this.#chunk.subarray(this.#position));
    this.#chunk = EMPTY;
    this.#text = null;
    this.#position = 0;
    this.#searchedToEnd = false;
    const text = searchText(chunk, 0);
    const newline = findNewline(chunk, text, 0);
    if (newline === -1 && leftoverSearched) {
      this.#keepPartial(chunk);
      return;
    }
    if (this.#partial.length === 0) {
      this.#chunk = chunk;
      this.#text = text;
      this.#searchFrom = newline;
    } else {
      this.#searchFrom = leftoverSearched ? this.#partialBytes + newline : 0;
      this.#partial.push(chunk);
      this.#chunk = Buffer.concat(this.#partial);
      this.#partial = [];
      this.#partialBytes = 0;
    }
  }

  /** The next complete line without its line end, null if none is complete yet. */
  next(): string | null | typeof LINE_TOO_LONG {
    const framed = this.advance();
    return framed === true ? this.text() : framed;
  }

  /**
   * Moves to the next complete line without decoding it: true if there is one (its bytes are
   * then `bytes[start, end)`, see FramedLine), null if none is complete yet.
   */
  advance(): true | null | typeof LINE_TOO_LONG {
    const chunk = this.#chunk;
    const start = this.#position;
    let newline = -1;
    if (start < chunk.length) {
      const from = Math.max(start, this.#searchFrom);
      this.#text ??= searchText(chunk, from);
      newline = findNewline(chunk, this.#text, from);
    }
    if (newline === -1) {
      this.#searchedToEnd = true;
      const pending = this.pendingBytes;
      if (pending <= this.maxLineBytes) return null;
      // A trailing CR may be the first half of the CRLF that ends a line of exactly the limit.
      return pending - (this.#lastByte() === CR ? 1 : 0) > this.maxLineBytes ? LINE_TOO_LONG : null;
    }
    const end = newline > start && chunk[newline - 1] === CR ? newline - 1 : newline;
    if (end - start > this.maxLineBytes) return LINE_TOO_LONG;
    this.#position = newline + 1;
    this.#lineStart = start;
    this.#lineEnd = end;
    return true;
  }

  /** The bytes the current line lies in (valid until the next push). */
  get bytes(): Uint8Array {
    return this.#chunk;
  }

  /** Where the bytes after the current line start in `bytes` (to its end: see push()). */
  get unreadStart(): number {
    return this.#position;
  }

  /** Where the current line starts in `bytes`. */
  get start(): number {
    return this.#lineStart;
  }

  /** Where the current line ends in `bytes` (its line end excluded). */
  get end(): number {
    return this.#lineEnd;
  }

  /** The current line as a new binary string. */
  text(): string {
    return this.#chunk.toString("latin1", this.#lineStart, this.#lineEnd);
  }

  /** A new string of bytes start..end of the current line (a LineSource). */
  copy(start: number, end: number): string {
    return this.#chunk.toString("latin1", this.#lineStart + start, this.#lineStart + end);
  }

  /** Bytes received but not yet returned as a line. */
  get pendingBytes(): number {
    return this.#chunk.length - this.#position + this.#partialBytes;
  }

  #keepPartial(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#partial.push(bytes);
    this.#partialBytes += bytes.length;
  }

  /** The last byte received and not yet returned, or -1 if none. */
  #lastByte(): number {
    const bytes = this.#position < this.#chunk.length ? this.#chunk : this.#partial.at(-1);
    return bytes?.at(-1) ?? -1;
  }
}
