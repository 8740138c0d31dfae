/**
 * How the CLI prints a reply (see docs/cli.md). Reply lines are binary strings (one code unit
 * per byte, see docs/protocol.md); so is what these return: the bytes to write. Pure.
 */

import { fromBinary, toBinary } from "../client/mod.ts";
import { COUNTED_REPLY_HEADERS, INFO_HEADER } from "../protocol/mod.ts";
import type { OutputFormat } from "./args.ts";

/** An `ERROR <message>` reply. */
export function isErrorReply(lines: readonly string[]): boolean {
  const header = lines[0] ?? "";
  return header === "ERROR" || header.startsWith("ERROR ");
}

/** A reply that may span several lines (`VALUES n`, `KEYS n`, `CONFLICTS n`, `INFO` ... `END`). */
function isBlock(lines: readonly string[]): boolean {
  const header = lines[0] ?? "";
  const space = header.indexOf(" ");
  return header === INFO_HEADER ||
    (space !== -1 && COUNTED_REPLY_HEADERS.has(header.slice(0, space)));
}

/** Control bytes but tab, shown as \xHH so that a value cannot steer the terminal. */
// deno-lint-ignore no-control-regex -- control bytes are exactly what this escapes
const CONTROL_BYTES = /[\x00-\x08\x0a-\x1f\x7f]/g;

function escapeControl(line: string): string {
  return line.replace(
    CONTROL_BYTES,
    (byte) => "\\x" + byte.charCodeAt(0).toString(16).padStart(2, "0"),
  );
}

/** The bytes to print for one reply, each line ended by `newline` (or CRLF for raw). */
export function formatReply(
  lines: readonly string[],
  format: OutputFormat,
  newline = "\n",
): string {
  switch (format) {
    case "raw":
      return lines.map((line) => line + "\r\n").join("");
    case "text":
      return lines.map((line) => escapeControl(line) + newline).join("");
    case "json":
      return toBinary(JSON.stringify(jsonValue(lines))) + newline;
  }
}

/**
 * A string for a one-line reply, an array of every line (header included) for a block, and
 * `{"error": message}` for ERROR. Bytes that are not UTF-8 become U+FFFD: --raw keeps them.
 */
export function jsonValue(lines: readonly string[]): string | string[] | { error: string } {
  const [first = ""] = lines;
  if (isErrorReply(lines)) return { error: fromBinary(first.slice("ERROR ".length)) };
  if (isBlock(lines)) return lines.map(fromBinary);
  return fromBinary(first);
}
