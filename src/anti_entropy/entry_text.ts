/**
 * Entries and digests as text in sync messages (see docs/anti-entropy.md, Sync protocol v2), and
 * the counter state a counter key's entry and digest carry (see docs/consistency.md, Counters),
 * and the causality of an entry that has one (see docs/causality.md).
 * Pure.
 */

import { Buffer } from "node:buffer";
import {
  type Causality,
  causalityHash,
  causalityProblem,
  counterEntryProblem,
  counterHash,
  type CounterState,
  decodeCausality,
  decodeCounter,
  encodeCausality,
  encodeCounter,
  encodedCausalityLength,
  encodedCounterLength,
  type Entry,
  hashToHex,
  isValidHlc,
  isValidKey,
  NODE_ID_PATTERN,
} from "../store/mod.ts";
import { hasLength } from "../tuple.ts";

const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const COUNTER_DIGEST_PATTERN = /^C[0-9a-f]{16}$/;
const CAUSALITY_DIGEST_PATTERN = /^~[0-9a-f]{16}$/;
import { type Digest, fail, ok, type Parsed, parseNatural, type WireLimits } from "./codec.ts";

/**
 * `<key> <hlc> <node> <expiresAtMs> -` for a tombstone, `<key> <hlc> <node> <expiresAtMs>
 * <valueLength> <value>` otherwise. The length makes any value (spaces included) safe to
 * follow with more entries on the same line. A counter key's entry has `#<state>` (its binary
 * form, counter.ts, in base64) before the value length, and an entry with a causality then has
 * `~<causality>` (its binary form, causality_codec.ts, in base64).
 */
export function formatEntry(entry: Entry): string {
  let head = entry.key + " " + entry.hlc + " " + entry.node + " " + entry.expiresAtMs + " ";
  if (entry.counter !== undefined) head += "#" + counterBase64(entry.counter) + " ";
  if (entry.causality !== undefined) head += "~" + causalityBase64(entry.causality) + " ";
  return entry.value === null ? head + "-" : head + entry.value.length + " " + entry.value;
}

function counterBase64(state: CounterState): string {
  const bytes = Buffer.allocUnsafe(encodedCounterLength(state));
  encodeCounter(state, bytes, 0);
  return bytes.toString("base64");
}

function causalityBase64(causality: Causality): string {
  const bytes = Buffer.allocUnsafe(encodedCausalityLength(causality));
  encodeCausality(causality, bytes, 0);
  return bytes.toString("base64");
}

/** The causality after `~` at the cursor, or why not. */
function parseCausalityAt(cursor: Cursor, key: string): Causality | string {
  cursor.offset++;
  const text = cursor.wordBeforeSpace();
  if (text === null || !BASE64_PATTERN.test(text)) return `invalid causality for key "${key}"`;
  const bytes = Buffer.from(text, "base64");
  const decoded = decodeCausality(bytes, 0, bytes.length);
  if (!decoded.ok) return `key "${key}": ${decoded.error}`;
  if (decoded.end !== bytes.length) return `key "${key}": text after the causality`;
  return decoded.causality;
}

/** The counter state after `#` at the cursor, or why not. */
function parseCounterAt(cursor: Cursor, key: string): CounterState | string {
  cursor.offset++;
  const text = cursor.wordBeforeSpace();
  if (text === null || !BASE64_PATTERN.test(text)) return `invalid counter for key "${key}"`;
  const bytes = Buffer.from(text, "base64");
  const decoded = decodeCounter(bytes, 0, bytes.length);
  if (!decoded.ok) return `key "${key}": ${decoded.error}`;
  if (decoded.end !== bytes.length) return `key "${key}": text after the counter`;
  return decoded.state;
}

/** Reads space-separated words of one line, keeping its position. */
export class Cursor {
  offset = 0;
  constructor(readonly text: string) {}

  /** The next word, consuming the space after it; null when that space is missing. */
  wordBeforeSpace(): string | null {
    const space = this.text.indexOf(" ", this.offset);
    if (space === -1) return null;
    const word = this.text.slice(this.offset, space);
    this.offset = space + 1;
    return word;
  }

  take(length: number): string | null {
    if (this.offset + length > this.text.length) return null;
    const taken = this.text.slice(this.offset, this.offset + length);
    this.offset += length;
    return taken;
  }

  get atEnd(): boolean {
    return this.offset === this.text.length;
  }
}

/** Checks the fields every entry and digest share; an error message or null. */
function checkVersionFields(
  key: string,
  hlcText: string,
  node: string,
  expiryText: string,
  limits: WireLimits,
): { hlc: number; expiresAtMs: number } | string {
  if (!isValidKey(key, limits.maxKeyBytes)) return `invalid key "${key.slice(0, 64)}"`;
  const hlc = parseNatural(hlcText, Number.MAX_SAFE_INTEGER);
  if (hlc === null || !isValidHlc(hlc)) return `invalid version "${hlcText.slice(0, 32)}"`;
  if (!NODE_ID_PATTERN.test(node)) return `invalid node id "${node.slice(0, 80)}"`;
  const expiresAtMs = parseNatural(expiryText, Number.MAX_SAFE_INTEGER);
  if (expiresAtMs === null) return `invalid expiry "${expiryText.slice(0, 32)}"`;
  return { hlc, expiresAtMs };
}

export function parseEntryAt(cursor: Cursor, limits: WireLimits): Parsed<Entry> {
  const key = cursor.wordBeforeSpace();
  const hlcText = cursor.wordBeforeSpace();
  const node = cursor.wordBeforeSpace();
  const expiryText = cursor.wordBeforeSpace();
  if (key === null || hlcText === null || node === null || expiryText === null) {
    return fail("entry truncated");
  }
  const fields = checkVersionFields(key, hlcText, node, expiryText, limits);
  if (typeof fields === "string") return fail(fields);
  const { hlc, expiresAtMs } = fields;
  let counter: CounterState | string | null = null;
  if (cursor.text.charCodeAt(cursor.offset) === 0x23 /* # */) {
    counter = parseCounterAt(cursor, key);
    if (typeof counter === "string") return fail(counter);
  }
  let causality: Causality | string | null = null;
  if (cursor.text.charCodeAt(cursor.offset) === 0x7e /* ~ */) {
    causality = parseCausalityAt(cursor, key);
    if (typeof causality === "string") return fail(causality);
  }
  let entry: Entry;
  if (cursor.text.charCodeAt(cursor.offset) === 0x2d /* - */) {
    cursor.offset++;
    if (expiresAtMs !== 0) return fail(`tombstone with an expiry for key "${key}"`);
    if (counter !== null) return fail(`counter entry is a tombstone for key "${key}"`);
    entry = { key, value: null, hlc, node, expiresAtMs };
  } else {
    const lengthText = cursor.wordBeforeSpace();
    const length = lengthText === null ? null : parseNatural(lengthText, limits.maxValueBytes);
    if (length === null) return fail(`invalid value length for key "${key}"`);
    const value = cursor.take(length);
    if (value === null) return fail(`value of key "${key}" truncated`);
    entry = { key, value, hlc, node, expiresAtMs };
  }
  const problem = (counter === null ? null : counterEntryProblem(entry, counter)) ??
    (causality === null ? null : causalityProblem(entry, causality));
  if (problem !== null) return fail(`key "${key}": ${problem}`);
  if (counter !== null) entry.counter = counter;
  if (causality !== null) entry.causality = causality;
  return ok(entry);
}

/** One entry that must fill the whole line (an ENTRIES reply line). */
export function parseEntryLine(line: string, limits: WireLimits): Parsed<Entry> {
  const cursor = new Cursor(line);
  const parsed = parseEntryAt(cursor, limits);
  if (parsed.ok && !cursor.atEnd) return fail("text after the entry");
  return parsed;
}

/**
 * `<key> <hlc> <node> <expiresAtMs> <T|V|C...>`: T for a tombstone, V for a value, C and the 16
 * hex digits of the counter's hash (counterHash) for a counter key's entry; then, for an entry
 * with a causality, ` ~` and the 16 hex digits of its hash (causalityHash).
 */
export function formatDigest(entry: Entry): string {
  const head = entry.key + " " + entry.hlc + " " + entry.node + " " + entry.expiresAtMs + " " +
    (entry.value === null
      ? "T"
      : entry.counter === undefined
      ? "V"
      : "C" + counterDigest(entry.counter));
  return entry.causality === undefined ? head : head + " ~" + causalityDigest(entry.causality);
}

/** The hex of a causality's hash: what a digest says of it. */
export function causalityDigest(causality: Causality): string {
  const [low, high] = causalityHash(causality);
  return hashToHex(low, high);
}

/** The hex of a counter's hash: what a digest says of it. */
export function counterDigest(state: CounterState): string {
  const [low, high] = counterHash(state);
  return hashToHex(low, high);
}

export function parseDigestLine(line: string, limits: WireLimits): Parsed<Digest> {
  const words = line.split(" ");
  let causality: string | null = null;
  if (hasLength(words, 6)) {
    const word = words.pop()!;
    if (!CAUSALITY_DIGEST_PATTERN.test(word)) {
      return fail(`digest causality must be ~<hash>, got "${word.slice(0, 20)}"`);
    }
    causality = word.slice(1);
  }
  if (!hasLength(words, 5)) return fail(`digest needs 5 or 6 words, got ${words.length}`);
  const [key, hlcText, node, expiryText, kind] = words;
  const fields = checkVersionFields(key, hlcText, node, expiryText, limits);
  if (typeof fields === "string") return fail(fields);
  const counter = COUNTER_DIGEST_PATTERN.test(kind) ? kind.slice(1) : null;
  if (kind !== "T" && kind !== "V" && counter === null) {
    return fail(`digest kind must be T, V or C<hash>, got "${kind.slice(0, 20)}"`);
  }
  const tombstone = kind === "T";
  if (tombstone && fields.expiresAtMs !== 0) return fail(`tombstone with an expiry for "${key}"`);
  const { hlc, expiresAtMs } = fields;
  return ok({ key, hlc, node, tombstone, expiresAtMs, counter, causality });
}
