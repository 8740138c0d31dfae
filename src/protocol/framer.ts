/**
 * Line framing: bytes (as a binary string) in, request lines out. Accepts `\r\n` and `\n`.
 * A line longer than maxLineBytes is reported as soon as that many bytes have arrived without
 * a line end, so a client cannot make the server buffer an endless line.
 */

/** Returned by next() when the current line exceeds the limit; the connection must close. */
export const LINE_TOO_LONG = Symbol("line too long");

export class LineFramer {
  readonly maxLineBytes: number;
  #buffer = "";
  #position = 0;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
  }

  /** Appends a received chunk; call next() until it returns null. */
  push(chunk: string): void {
    if (this.#position >= this.#buffer.length) this.#buffer = chunk;
    else this.#buffer = this.#buffer.slice(this.#position) + chunk;
    this.#position = 0;
  }

  /** The next complete line without its line end, null if none is complete yet. */
  next(): string | null | typeof LINE_TOO_LONG {
    const buffer = this.#buffer;
    const start = this.#position;
    const newline = buffer.indexOf("\n", start);
    if (newline === -1) {
      return buffer.length - start > this.maxLineBytes ? LINE_TOO_LONG : null;
    }
    const end = newline > start && buffer.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
    if (end - start > this.maxLineBytes) return LINE_TOO_LONG;
    this.#position = newline + 1;
    return buffer.slice(start, end);
  }

  /** Bytes received but not yet returned as a line. */
  get pendingBytes(): number {
    return this.#buffer.length - this.#position;
  }
}
