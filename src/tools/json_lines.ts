/**
 * The portable export format (see docs/backup.md, Export and import): one JSON object per line,
 *
 *   {"format":1,"key":"k","key_encoding":"utf8","value":"v","value_encoding":"utf8",
 *    "hlc":123,"node":"node-a","expires_at_ms":0}
 *
 * key and value are UTF-8 text when their bytes are valid UTF-8 ("utf8"), else base64
 * ("base64"); hlc and node are the version (null when exported through the protocol, which does
 * not show versions); expires_at_ms is the absolute expiry in Unix ms, 0 for none. Pure.
 */

import { Buffer } from "node:buffer";

export const EXPORT_FORMAT = 1;

export type TextEncoding = "utf8" | "base64";

/** One exported key: bytes as they are stored. */
export interface ExportedEntry {
  key: Uint8Array;
  value: Uint8Array;
  hlc: number | null;
  node: string | null;
  expiresAtMs: number;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function encodeBytes(bytes: Uint8Array): [string, TextEncoding] {
  try {
    return [strictUtf8.decode(bytes), "utf8"];
  } catch {
    return [Buffer.from(bytes).toString("base64"), "base64"];
  }
}

export function formatJsonLine(entry: ExportedEntry): string {
  const [key, keyEncoding] = encodeBytes(entry.key);
  const [value, valueEncoding] = encodeBytes(entry.value);
  return JSON.stringify({
    format: EXPORT_FORMAT,
    key,
    key_encoding: keyEncoding,
    value,
    value_encoding: valueEncoding,
    hlc: entry.hlc,
    node: entry.node,
    expires_at_ms: entry.expiresAtMs,
  });
}

export type ParsedLine = { ok: true; entry: ExportedEntry } | { ok: false; error: string };

/** One exported key with key and value as the wire carries them: one code unit per byte. */
export interface WireEntry {
  key: string;
  value: string;
  expiresAtMs: number;
}

export type ParsedWireLine = { ok: true; entry: WireEntry } | { ok: false; error: string };

/** Turns a field's text in its encoding into bytes, or into a binary string. */
type FieldDecoder<T> = (text: string, encoding: TextEncoding) => T;

const toBytes: FieldDecoder<Uint8Array> = (text, encoding) =>
  encoding === "utf8"
    ? new TextEncoder().encode(text)
    : new Uint8Array(Buffer.from(text, "base64"));

/** A code unit of 0x80 or above: text without one is its own binary string. */
const BEYOND_ASCII = /[\u0080-\uffff]/;

const toBinary: FieldDecoder<string> = (text, encoding) =>
  encoding === "base64"
    ? Buffer.from(text, "base64").toString("latin1")
    : BEYOND_ASCII.test(text)
    ? Buffer.from(text, "utf8").toString("latin1")
    : text;

type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

function decodeField<T>(
  record: Record<string, unknown>,
  name: string,
  decode: FieldDecoder<T>,
): Decoded<T> {
  const text = record[name];
  const encoding = record[`${name}_encoding`];
  if (typeof text !== "string") return { ok: false, error: `"${name}" must be a string` };
  if (encoding === "utf8" || encoding === "base64") {
    return { ok: true, value: decode(text, encoding) };
  }
  return { ok: false, error: `"${name}_encoding" must be "utf8" or "base64"` };
}

type Parsed<T> =
  | { ok: true; key: T; value: T; fields: Record<string, unknown>; expiresAtMs: number }
  | { ok: false; error: string };

function parseWith<T>(line: string, decode: FieldDecoder<T>): Parsed<T> {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (error) {
    return { ok: false, error: `not JSON (${(error as Error).message})` };
  }
  if (typeof record !== "object" || record === null) return { ok: false, error: "not an object" };
  const fields = record as Record<string, unknown>;
  if (fields.format !== EXPORT_FORMAT) {
    return { ok: false, error: `"format" must be ${EXPORT_FORMAT}, got ${fields.format}` };
  }
  const key = decodeField(fields, "key", decode);
  if (!key.ok) return key;
  const value = decodeField(fields, "value", decode);
  if (!value.ok) return value;
  const expiresAtMs = fields.expires_at_ms ?? 0;
  if (typeof expiresAtMs !== "number" || !Number.isSafeInteger(expiresAtMs) || expiresAtMs < 0) {
    return { ok: false, error: `"expires_at_ms" must be an integer >= 0` };
  }
  return { ok: true, key: key.value, value: value.value, fields, expiresAtMs };
}

/** One line of an export file; the error says which field is wrong. */
export function parseJsonLine(line: string): ParsedLine {
  const parsed = parseWith(line, toBytes);
  if (!parsed.ok) return parsed;
  const { key, value, fields, expiresAtMs } = parsed;
  const hlc = typeof fields.hlc === "number" ? fields.hlc : null;
  const node = typeof fields.node === "string" ? fields.node : null;
  return { ok: true, entry: { key, value, hlc, node, expiresAtMs } };
}

/** parseJsonLine() for a writer: key and value as binary strings, never copied as bytes. */
export function parseJsonLineWire(line: string): ParsedWireLine {
  const parsed = parseWith(line, toBinary);
  if (!parsed.ok) return parsed;
  const { key, value, expiresAtMs } = parsed;
  return { ok: true, entry: { key, value, expiresAtMs } };
}
