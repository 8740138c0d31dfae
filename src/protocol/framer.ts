/**
 * Line framing: received bytes in, request lines out (as binary strings, one code unit per
 * byte). Accepts `\r\n` and `\n`. A line longer than maxLineBytes is reported as soon as that
 * many bytes have arrived without a line end, so a client cannot make the server buffer an
 * endless line.
 *
 * Each line is decoded on its own into a new string. Slicing lines out of one string per chunk
 * would be cheaper per line, but every key and value kept in the store would then hold its
 * whole chunk alive (V8 slices reference their parent string).
 */

import { Buffer } from "node:buffer";

/** Returned by next() when the current line exceeds the limit; the connection must close. */
export const LINE_TOO_LONG = Symbol("line too long");

const LF = 10;
const CR = 13;
const EMPTY = Buffer.alloc(0);

export class LineFramer {
  readonly maxLineBytes: number;
  /** The bytes lines are taken from, from #position on. */
  #chunk: Buffer = EMPTY;
  #position = 0;
  /** Where in #chunk the line last returned by next() starts (for copy()). */
  #lineStart = 0;
  /**
   * Earlier bytes of an unfinished line, kept apart and joined once a line end arrives:
   * joining on every push would copy the partial line each time, so a long line sent in small
   * pieces would cost time quadratic in its length.
   */
  #partial: Uint8Array[] = [];
  #partialBytes = 0;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Appends received bytes; call next() until it returns null. */
  push(bytes: Uint8Array): void {
    const chunk = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.#position < this.#chunk.length) {
      this.#keepPartial(this.#chunk.subarray(this.#position));
    }
    this.#chunk = EMPTY;
    this.#position = 0;
    if (chunk.indexOf(LF) === -1) {
      this.#keepPartial(chunk);
      return;
    }
    if (this.#partial.length === 0) this.#chunk = chunk;
    else {
      this.#partial.push(chunk);
      this.#chunk = Buffer.concat(this.#partial);
      this.#partial = [];
      this.#partialBytes = 0;
    }
  }

  /** The next complete line without its line end, null if none is complete yet. */
  next(): string | null | typeof LINE_TOO_LONG {
    const chunk = this.#chunk;
    const start = this.#position;
    const newline = start < chunk.length ? chunk.indexOf(LF, start) : -1;
    if (newline === -1) {
      // A trailing CR may be the first half of the CRLF that ends a line of exactly the limit.
      const trailingCr = this.#lastByte() === CR ? 1 : 0;
      return this.pendingBytes - trailingCr > this.maxLineBytes ? LINE_TOO_LONG : null;
    }
    const end = newline > start && chunk[newline - 1] === CR ? newline - 1 : newline;
    if (end - start > this.maxLineBytes) return LINE_TOO_LONG;
    this.#position = newline + 1;
    this.#lineStart = start;
    return chunk.toString("latin1", start, end);
  }

  /** A new string of bytes start..end of the line last returned by next() (a LineSource). */
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
    if (this.#position < this.#chunk.length) return this.#chunk[this.#chunk.length - 1];
    const last = this.#partial[this.#partial.length - 1];
    return last === undefined ? -1 : last[last.length - 1];
  }
}
