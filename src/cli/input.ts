/**
 * Lines from a byte stream (stdin when it is not a terminal): each a binary string, its LF and
 * one CR before it removed. Memory stays bounded: a line longer than maxLineBytes is an error,
 * never buffered whole.
 */

import { Buffer } from "node:buffer";

/** Anything read like Deno.stdin. */
export interface ByteReader {
  read(buffer: Uint8Array): Promise<number | null>;
}

const READ_CHUNK_BYTES = 64 * 1024;
const LF = 0x0a;
const CR = 0x0d;

export class InputLineTooLong extends Error {}

/** Bytes -> binary string, one code unit per byte (true latin1, not windows-1252). */
function binary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

function tooLong(lineNumber: number, maxLineBytes: number): InputLineTooLong {
  return new InputLineTooLong(`line ${lineNumber} of stdin is over ${maxLineBytes} bytes`);
}

function withoutCr(line: string): string {
  return line.length > 0 && line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
}

/** Yields every line, the last one too if it has no LF. */
export async function* readLines(
  reader: ByteReader,
  maxLineBytes: number,
): AsyncGenerator<string> {
  const chunk = new Uint8Array(READ_CHUNK_BYTES);
  /** The start of a line whose LF has not arrived yet. */
  let partial: string[] = [];
  let partialBytes = 0;
  let lineNumber = 1;
  for (;;) {
    const count = await reader.read(chunk);
    if (count === null) break;
    const bytes = chunk.subarray(0, count);
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(LF, start);
      const lineBytes = partialBytes + (end === -1 ? count : end) - start;
      if (lineBytes > maxLineBytes) throw tooLong(lineNumber, maxLineBytes);
      if (end === -1) break;
      partial.push(binary(bytes.subarray(start, end)));
      yield withoutCr(partial.join(""));
      partial = [];
      partialBytes = 0;
      lineNumber++;
      start = end + 1;
    }
    if (start < count) {
      partial.push(binary(bytes.subarray(start)));
      partialBytes += count - start;
    }
  }
  if (partialBytes > 0) yield withoutCr(partial.join(""));
}
