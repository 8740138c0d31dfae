/**
 * The hot path: the one deliberate second route through the parser (see docs/development.md,
 * The request path). `GET key` and `SET key value`, which clients send most, are read straight
 * from the received bytes, and a pipelined chunk's keys are found for the store's prefetch
 * before its lines run. Every line this does not take as it is goes to the table parser
 * (parse.ts), which gives the same result for GET and SET; a differential test
 * (tests/protocol/parse_test.ts) holds the two routes to that. Pure.
 */

import type { Command, ParseResult } from "./command.ts";
import { type FramedLine, parseCommand, type ParseLimits } from "./parse.ts";

const SPACE = 0x20;
const DELETE = 0x7f;
const LF = 10;
/** The typed array's native indexOf (Deno's Buffer.prototype.indexOf is slower; framer.ts). */
const indexOfByte = Uint8Array.prototype.indexOf;
/** "get" and "set": a byte ORed with 0x20 is lower case for letters and only for them. */
const LOWER_G = 0x67;
const LOWER_S = 0x73;
const LOWER_E = 0x65;
const LOWER_T = 0x74;

/**
 * Parses a framed line. The two commands clients send most, `GET key` and `SET key value`,
 * are read from the bytes: only the key and the value are decoded, each once, and the key is
 * checked byte by byte. Any other line, and any GET or SET this does not take as it is (odd
 * spacing, a bad key, a limit passed), is decoded whole and parsed by parseCommand, which
 * gives the same result for those two and the error message for the rest.
 */
export function parseFramed(line: FramedLine, limits: ParseLimits): ParseResult | Command {
  return parseGetOrSet(line, limits) ?? parseCommand(line.text(), limits, line);
}

/**
 * For a line `bytes[start, end)` that begins with `GET ` or `SET ` (any case): where its key
 * ends (the key starts at start + 4 and may be empty). -1 for any other line.
 */
function getOrSetKeyEnd(bytes: Uint8Array, start: number, end: number): number {
  // Every index read here is below `end`, which lies in `bytes`: no check per byte.
  if (end - start < 5 || bytes[start + 3] !== SPACE) return -1;
  const first = bytes[start]! | 0x20;
  if (
    (first !== LOWER_G && first !== LOWER_S) || (bytes[start + 1]! | 0x20) !== LOWER_E ||
    (bytes[start + 2]! | 0x20) !== LOWER_T
  ) {
    return -1;
  }
  let keyEnd = start + 4;
  while (keyEnd < end) {
    const byte = bytes[keyEnd]!;
    if (byte <= SPACE || byte === DELETE) break;
    keyEnd++;
  }
  return keyEnd;
}

/**
 * The longest line the key hint looks through. The line end is searched with the typed array's
 * indexOf, which has no end bound and crosses a 16 KiB value in 5-10 µs (Deno 2.9.6), about a
 * tenth of the node's whole time for an unpipelined 16 KiB SET, for a hint that is only used
 * when two or more lines wait. So the search runs in windows of this many bytes, and a line
 * longer than that ends the hint: what is long to scan is long to parse and run too, and the
 * store's cache misses the hint overlaps are small beside it.
 */
export const HINT_MAX_LINE_BYTES = 1024;

/**
 * The keys (of at most maxKeyBytes) of the GET and SET lines among the complete lines in
 * `bytes[start, end)`, as pairs of start and end offsets in `ranges`, as many as fit, up to the
 * first line longer than HINT_MAX_LINE_BYTES; returns how many pairs. A hint for the store
 * (Store.prefetchKeys) before the lines run: nothing is checked but the form.
 */
export function getAndSetKeys(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxKeyBytes: number,
  ranges: Int32Array,
): number {
  let count = 0;
  let position = start;
  // The bytes searched, up to windowEnd: a view from offset 0, so offsets are the same in both.
  let windowEnd = Math.min(end, start + HINT_MAX_LINE_BYTES);
  let window = windowEnd === bytes.length ? bytes : bytes.subarray(0, windowEnd);
  while (position < end && 2 * count < ranges.length) {
    let newline = indexOfByte.call(window, LF, position) as number;
    if (newline === -1) {
      // No line end within the window: stop at a long line, else move the window on.
      if (windowEnd === end || windowEnd - position >= HINT_MAX_LINE_BYTES) break;
      const searched = windowEnd;
      windowEnd = Math.min(end, position + HINT_MAX_LINE_BYTES);
      window = windowEnd === bytes.length ? bytes : bytes.subarray(0, windowEnd);
      newline = indexOfByte.call(window, LF, searched) as number;
      if (newline === -1) continue;
    }
    const keyEnd = getOrSetKeyEnd(bytes, position, newline);
    if (keyEnd > position + 4 && keyEnd - (position + 4) <= maxKeyBytes) {
      ranges[2 * count] = position + 4;
      ranges[2 * count + 1] = keyEnd;
      count++;
    }
    position = newline + 1;
  }
  return count;
}

/**
 * Where the key of a line ends if the line is a GET with a valid key (which starts at
 * start + 4), so that it can be looked up in the bytes, undecoded; -1 for any other line.
 * Such a line parses to `{kind: "get"}` with that key.
 */
export function getKeyEnd(line: FramedLine, limits: ParseLimits): number {
  const { bytes, start, end } = line;
  // A framed line is followed by its LF in `bytes`, so even an empty one has a byte at start.
  if ((bytes[start]! | 0x20) !== LOWER_G) return -1;
  const keyEnd = getOrSetKeyEnd(bytes, start, end);
  const keyBytes = keyEnd - (start + 4);
  return keyEnd === end && keyBytes > 0 && keyBytes <= limits.maxKeyBytes ? keyEnd : -1;
}

/**
 * Where the key of a line ends if the line is a `SET key value` that parseFramed() reads from
 * the bytes (the key starts at start + 4, the value after the returned offset); -1 for any
 * other line. setCommand() then gives what parseFramed() would.
 */
export function setKeyEnd(line: FramedLine, limits: ParseLimits): number {
  const { bytes, start, end } = line;
  if ((bytes[start]! | 0x20) !== LOWER_S) return -1;
  const keyEnd = getOrSetKeyEnd(bytes, start, end);
  const keyBytes = keyEnd - (start + 4);
  if (keyEnd === -1 || keyBytes === 0 || keyBytes > limits.maxKeyBytes) return -1;
  if (keyEnd === end || bytes[keyEnd] !== SPACE) return -1;
  // The rest of valueProblem's rule, no LF, holds by framing: a framed line has none.
  if (end - keyEnd - 1 > limits.maxValueBytes) return -1;
  return keyEnd;
}

/** The command of a SET line whose key ends at `keyEnd` (from setKeyEnd()). */
export function setCommand(line: FramedLine, keyEnd: number): Command {
  const start = line.start;
  return {
    kind: "set",
    key: line.copy(4, keyEnd - start),
    value: line.copy(keyEnd + 1 - start, line.end - start),
  };
}

function parseGetOrSet(line: FramedLine, limits: ParseLimits): Command | null {
  if ((line.bytes[line.start]! | 0x20) === LOWER_G) {
    const keyEnd = getKeyEnd(line, limits);
    return keyEnd === -1 ? null : { kind: "get", key: line.copy(4, keyEnd - line.start) };
  }
  const keyEnd = setKeyEnd(line, limits);
  return keyEnd === -1 ? null : setCommand(line, keyEnd);
}
