/**
 * replication.signing_key_file (I/O edge): reads the keys once, at start, and warns when others
 * than the owner may read the file. No message here ever contains a key, only the file, the line
 * and what is wrong (see docs/replication-security.md, Key file).
 */

import type { Logger } from "../log.ts";
import { hex, keyIdOf, type SigningKey } from "./signing.ts";

/** A shorter key is refused: 32 characters (e.g. 64 hex digits of `openssl rand -hex 32`). */
export const MIN_SIGNING_KEY_CHARACTERS = 32;
/** HMAC hashes a longer key first, so more adds nothing; a longer line is a mistake. */
export const MAX_SIGNING_KEY_CHARACTERS = 1024;
/** Keys in one file: the one that signs plus the ones still accepted during a rotation. */
export const MAX_SIGNING_KEYS = 16;
/** The file is a short list of keys; anything bigger is the wrong file. */
const MAX_KEY_FILE_BYTES = 64 * 1024;
/** Permission bits for group and others. */
const GROUP_OR_OTHER_MODE = 0o077;

/**
 * The keys of the file, in order: the first signs. Throws an Error naming the file and line
 * (never the key) when a line is not a usable key.
 */
export function readSigningKeyFile(path: string, log: Logger): SigningKey[] {
  let text: string;
  try {
    const info = Deno.statSync(path);
    if (info.size > MAX_KEY_FILE_BYTES) throw new Error(`larger than ${MAX_KEY_FILE_BYTES} bytes`);
    text = Deno.readTextFileSync(path);
    warnIfReadableByOthers(path, info.mode, log);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot read replication.signing_key_file "${path}": ${reason}`);
  }
  return parseSigningKeys(text, path);
}

/**
 * One key per line, used as written (leading and trailing spaces and tabs aside); blank lines
 * and lines starting with "#" are skipped.
 */
export function parseSigningKeys(text: string, path: string): SigningKey[] {
  const encoder = new TextEncoder();
  const keys: SigningKey[] = [];
  const lineById = new Map<string, number>();
  const fail = (line: number, problem: string): never => {
    throw new Error(`Invalid replication.signing_key_file "${path}" line ${line}: ${problem}`);
  };
  for (const [index, raw] of text.split("\n").entries()) {
    const line = index + 1;
    const key = raw.replace(/^[ \t]+|[ \t\r]+$/g, "");
    if (key === "" || key.startsWith("#")) continue;
    if (key.length < MIN_SIGNING_KEY_CHARACTERS) {
      fail(
        line,
        `a key needs at least ${MIN_SIGNING_KEY_CHARACTERS} characters, got ${key.length}`,
      );
    }
    if (key.length > MAX_SIGNING_KEY_CHARACTERS) {
      fail(line, `a key has at most ${MAX_SIGNING_KEY_CHARACTERS} characters, got ${key.length}`);
    }
    if (keys.length === MAX_SIGNING_KEYS) fail(line, `more than ${MAX_SIGNING_KEYS} keys`);
    const secret = encoder.encode(key);
    const id = keyIdOf(secret);
    const earlier = lineById.get(hex(id));
    if (earlier !== undefined) fail(line, `the same key as line ${earlier}`);
    lineById.set(hex(id), line);
    keys.push({ id, secret });
  }
  if (keys.length === 0) {
    throw new Error(`Invalid replication.signing_key_file "${path}": the file holds no key`);
  }
  return keys;
}

function warnIfReadableByOthers(path: string, mode: number | null, log: Logger): void {
  if (mode === null || (mode & GROUP_OR_OTHER_MODE) === 0) return;
  log.warn("signing_key_file_readable_by_others", {
    path,
    mode: (mode & 0o777).toString(8).padStart(3, "0"),
    hint: `chmod 600 ${path}`,
  });
}
