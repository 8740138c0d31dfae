/** Writing to stdout and stderr whole (a write may take only part of its bytes). */

import { encodeLatin1 } from "../store/mod.ts";

const encoder = new TextEncoder();

interface Writer {
  write(bytes: Uint8Array): Promise<number>;
}

async function writeAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await writer.write(bytes.subarray(written));
}

/** A binary string (one code unit per byte), written as those bytes. */
export function writeBytes(binary: string): Promise<void> {
  return writeAll(Deno.stdout, encodeLatin1(binary));
}

/** Unicode text, written as UTF-8. */
export function writeText(text: string): Promise<void> {
  return writeAll(Deno.stdout, encoder.encode(text));
}

/** One line of UTF-8 text on stderr. */
export function writeError(text: string): Promise<void> {
  return writeAll(Deno.stderr, encoder.encode(text + "\n"));
}
