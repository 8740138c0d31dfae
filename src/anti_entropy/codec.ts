/**
 * Sync protocol v2 on the wire: every request and reply, formatted and parsed (see
 * docs/anti-entropy.md, Sync protocol v2). Pure. Parsing never throws on bad input: it returns an
 * error message, and nothing it returns breaks the store's rules (keys, values, node ids,
 * versions).
 *
 * Requests are one line each, `SYNC <VERB> <version> ...`; replies are one line or a counted
 * block (`SEGMENTS n`, `DIGESTS n`, `ENTRIES n` followed by n lines).
 */

import { Buffer } from "node:buffer";
import {
  BRANCH_COUNT,
  type Entry,
  isValidKey,
  NODE_ID_PATTERN,
  SEGMENT_COUNT,
  SEGMENTS_PER_BRANCH,
  SUB_BUCKETS,
} from "../store/mod.ts";
import {
  MAX_BRANCHES_PER_REQUEST,
  MAX_ENTRIES_PER_PUSH,
  MAX_KEYS_PER_GET,
  MAX_SEGMENTS_PER_REQUEST,
  SYNC_PROTOCOL_VERSION,
} from "./limits.ts";
import { assert } from "../assert.ts";
import { hasLength } from "../tuple.ts";
import {
  Cursor,
  formatDigest,
  formatEntry,
  parseDigestLine,
  parseEntryAt,
  parseEntryLine,
} from "./entry_text.ts";

export { formatDigest, formatEntry, parseDigestLine, parseEntryLine } from "./entry_text.ts";

/** What a parser checks keys and values against (the node's config.limits). */
export interface WireLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

/**
 * 64-bit hashes as two lanes: 256 (branches of the root, or segments of one branch), or
 * SUB_BUCKETS (the sub-buckets of one segment).
 */
export interface HashList {
  low: Int32Array;
  high: Int32Array;
}

/** What the tree knows of an entry: key, version, tombstone flag and expiry; no value. */
export interface Digest {
  key: string;
  hlc: number;
  node: string;
  tombstone: boolean;
  expiresAtMs: number;
  /** A counter key's: the hex of its state's hash (see entry_text.ts); null for other keys. */
  counter: string | null;
  /** The hex of the entry's causality's hash (see entry_text.ts); null when it has none. */
  causality: string | null;
}

export type SyncRequest =
  /** conflictsMode: stated by nodes not in lww mode only (absent: lww; see ModeAgreement). */
  | { verb: "HELLO"; nodeId: string; rootHex: string; conflictsMode?: string }
  | { verb: "SEGMENTS"; branches: number[] }
  | { verb: "DIGESTS"; queries: DigestsQuery[] }
  | { verb: "GET"; keys: string[] }
  | { verb: "PUSH"; entries: Entry[] };

export interface HelloReply {
  nodeId: string;
  /** The peer's limits.max_line_bytes: GET and PUSH lines sent to it stay below. */
  maxLineBytes: number;
  rootHex: string;
  /** The peer's conflicts.mode, stated when not lww (absent: lww; see ModeAgreement). */
  conflictsMode?: string;
  /** The peer's 256 branch hashes; null when the roots were equal. */
  branches: HashList | null;
}

export interface BranchSegments {
  branch: number;
  segments: HashList;
}

/**
 * One segment of a DIGESTS request. With the asker's sub-bucket hashes, the peer lists only
 * the keys of the sub-buckets whose hash differs from these; without, every key.
 */
export interface DigestsQuery {
  segment: number;
  subHashes: HashList | null;
}

/** `listed` of a block that lists the whole segment. */
export const ALL_SUB_BUCKETS = (1 << SUB_BUCKETS) - 1;

export interface SegmentDigests {
  segment: number;
  /** The newest version purged from this segment on the peer (store.purgeHorizon); 0 if none. */
  horizonHlc: number;
  /** The sub-buckets listed (bit b for sub-bucket b): the peer holds no other key of these. */
  listed: number;
  digests: Digest[];
}

export interface PushCounts {
  applied: number;
  stale: number;
  future: number;
  /**
   * Not merged: malformed, or older than a tombstone the peer purged (see docs/anti-entropy.md).
   */
  refused: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const CRLF = "\r\n";
/** Characters of a hash list of `count` hashes in base64. */
function hashListBase64Length(count: number): number {
  return 4 * Math.ceil(count * 8 / 3);
}
export const SUB_HASHES_BASE64_LENGTH = hashListBase64Length(SUB_BUCKETS);
const LISTED_PATTERN = /^[0-9a-f]{4}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const ROOT_HEX_PATTERN = /^[0-9a-f]{16}$/;
const NATURAL_PATTERN = /^(0|[1-9][0-9]{0,15})$/;
/** Line budget for ignoring absurd max_line_bytes claims (2 GiB). */
const MAX_STATED_LINE_BYTES = 2 ** 31;

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

/** A decimal integer in 0..max without sign or leading zeros, or null. */
export function parseNatural(text: string, max: number): number | null {
  if (!NATURAL_PATTERN.test(text)) return null;
  const value = Number(text);
  return value <= max && Number.isSafeInteger(value) ? value : null;
}

// ---------------------------------------------------------------------------------------------
// Hash lists and entries

/** Base64 of the hashes, 8 bytes each, high lane first (big-endian), as HASH prints them. */
export function formatHashList(list: HashList): string {
  const count = list.low.length;
  const bytes = Buffer.allocUnsafe(count * 8);
  // i < count, the length of both lanes of a HashList.
  for (let i = 0; i < count; i++) {
    bytes.writeInt32BE(list.high[i]!, i * 8);
    bytes.writeInt32BE(list.low[i]!, i * 8 + 4);
  }
  return bytes.toString("base64");
}

/** A hash list of exactly `count` hashes (256 unless said), or null. */
export function parseHashList(text: string, count = 256): HashList | null {
  if (text.length !== hashListBase64Length(count) || !BASE64_PATTERN.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== count * 8) return null;
  const list = { low: new Int32Array(count), high: new Int32Array(count) };
  for (let i = 0; i < count; i++) {
    list.high[i] = bytes.readInt32BE(i * 8);
    list.low[i] = bytes.readInt32BE(i * 8 + 4);
  }
  return list;
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The request line, without its line end. */
export function formatRequest(request: SyncRequest): string {
  const head = "SYNC " + request.verb + " " + SYNC_PROTOCOL_VERSION + " ";
  switch (request.verb) {
    case "HELLO":
      return head + request.nodeId + " " + request.rootHex + modeWord(request.conflictsMode);
    case "SEGMENTS":
      return head + request.branches.join(" ");
    case "DIGESTS":
      return head + request.queries.map(formatDigestsQuery).join(" ");
    case "GET":
      return head + request.keys.join(" ");
    case "PUSH":
      return head + request.entries.length + " " + request.entries.map(formatEntry).join(" ");
    default: {
      const unreachable: never = request;
      assert(false, `every sync request verb is formatted, not ${JSON.stringify(unreachable)}`);
    }
  }
}

/**
 * Parses `SYNC <verb> <args>` as received by the peer (verb upper-cased by the command parser,
 * args the rest of the line unchanged).
 */
export function parseRequest(verb: string, args: string, limits: WireLimits): Parsed<SyncRequest> {
  const space = args.indexOf(" ");
  const versionText = space === -1 ? args : args.slice(0, space);
  const rest = space === -1 ? "" : args.slice(space + 1);
  if (!KNOWN_VERBS.has(verb)) {
    return fail(`unknown sync request "${verb.slice(0, 32)}" (use SYNC <host> <port>)`);
  }
  const version = parseNatural(versionText, Number.MAX_SAFE_INTEGER);
  if (version === null) return fail(`SYNC ${verb}: missing protocol version`);
  if (version !== SYNC_PROTOCOL_VERSION) {
    return fail(
      `unsupported sync protocol version ${version} (this node speaks ${SYNC_PROTOCOL_VERSION})`,
    );
  }
  switch (verb) {
    case "HELLO":
      return parseHello(rest);
    case "SEGMENTS": {
      const parsed = parseNumberList(rest, "SEGMENTS", BRANCH_COUNT - 1, MAX_BRANCHES_PER_REQUEST);
      return parsed.ok ? ok({ verb: "SEGMENTS", branches: parsed.value }) : parsed;
    }
    case "DIGESTS":
      return parseDigests(rest);
    case "GET":
      return parseGet(rest, limits);
    default:
      return parsePush(rest, limits);
  }
}

const KNOWN_VERBS: ReadonlySet<string> = new Set(["HELLO", "SEGMENTS", "DIGESTS", "GET", "PUSH"]);

/** ` conflicts=<mode>` after HELLO's fields, when a mode is stated. */
const MODE_WORD_PATTERN = /^conflicts=([a-z]{1,16})$/;

function modeWord(conflictsMode: string | undefined): string {
  return conflictsMode === undefined ? "" : " conflicts=" + conflictsMode;
}

/** The optional last word of HELLO: {} when absent, null when malformed. */
function parseModeWord(word: string | undefined): { conflictsMode?: string } | null {
  if (word === undefined) return {};
  const match = MODE_WORD_PATTERN.exec(word);
  return match === null ? null : { conflictsMode: match[1]! };
}

function parseHello(rest: string): Parsed<SyncRequest> {
  const words = rest.split(" ");
  const mode = parseModeWord(words[2]);
  if ((!hasLength(words, 2) && !hasLength(words, 3)) || mode === null) {
    return fail(
      `SYNC HELLO: usage SYNC HELLO ${SYNC_PROTOCOL_VERSION} <node-id> <root-hex> [conflicts=<mode>]`,
    );
  }
  const [nodeId, rootHex] = words;
  if (!NODE_ID_PATTERN.test(nodeId)) return fail(`SYNC HELLO: invalid node id "${nodeId}"`);
  if (!ROOT_HEX_PATTERN.test(rootHex)) return fail("SYNC HELLO: root must be 16 hex digits");
  return ok({ verb: "HELLO", nodeId, rootHex, ...mode });
}

function parseNumberList(
  text: string,
  verb: string,
  max: number,
  maxCount: number,
): Parsed<number[]> {
  const words = text === "" ? [] : text.split(" ");
  if (words.length === 0 || words.length > maxCount) {
    return fail(`SYNC ${verb}: needs 1..${maxCount} numbers, got ${words.length}`);
  }
  const numbers: number[] = [];
  for (const word of words) {
    const value = parseNatural(word, max);
    if (value === null) return fail(`SYNC ${verb}: "${word.slice(0, 16)}" is not in 0..${max}`);
    numbers.push(value);
  }
  return ok(numbers);
}

/** `<segment>`, or `<segment>:<base64 of its SUB_BUCKETS sub-bucket hashes>`. */
function formatDigestsQuery(query: DigestsQuery): string {
  if (query.subHashes === null) return String(query.segment);
  return query.segment + ":" + formatHashList(query.subHashes);
}

function parseDigests(rest: string): Parsed<SyncRequest> {
  const words = rest === "" ? [] : rest.split(" ");
  if (words.length === 0 || words.length > MAX_SEGMENTS_PER_REQUEST) {
    return fail(`SYNC DIGESTS: needs 1..${MAX_SEGMENTS_PER_REQUEST} segments, got ${words.length}`);
  }
  const queries: DigestsQuery[] = [];
  for (const word of words) {
    const colon = word.indexOf(":");
    const segmentText = colon === -1 ? word : word.slice(0, colon);
    const segment = parseNatural(segmentText, SEGMENT_COUNT - 1);
    if (segment === null) {
      return fail(`SYNC DIGESTS: "${segmentText.slice(0, 16)}" is not in 0..${SEGMENT_COUNT - 1}`);
    }
    const subHashes = colon === -1 ? null : parseHashList(word.slice(colon + 1), SUB_BUCKETS);
    if (colon !== -1 && subHashes === null) {
      return fail(
        `SYNC DIGESTS: segment ${segment}: sub-bucket hashes must be ` +
          `${SUB_HASHES_BASE64_LENGTH} characters of base64`,
      );
    }
    queries.push({ segment, subHashes });
  }
  return ok({ verb: "DIGESTS", queries });
}

function parseGet(rest: string, limits: WireLimits): Parsed<SyncRequest> {
  const keys = rest === "" ? [] : rest.split(" ");
  if (keys.length === 0 || keys.length > MAX_KEYS_PER_GET) {
    return fail(`SYNC GET: needs 1..${MAX_KEYS_PER_GET} keys, got ${keys.length}`);
  }
  for (const key of keys) {
    if (!isValidKey(key, limits.maxKeyBytes)) return fail("SYNC GET: invalid key");
  }
  return ok({ verb: "GET", keys });
}

function parsePush(rest: string, limits: WireLimits): Parsed<SyncRequest> {
  const cursor = new Cursor(rest);
  const countText = cursor.wordBeforeSpace();
  const count = countText === null ? null : parseNatural(countText, MAX_ENTRIES_PER_PUSH);
  if (count === null || count === 0) {
    return fail(`SYNC PUSH: needs a count of 1..${MAX_ENTRIES_PER_PUSH} entries`);
  }
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0 && cursor.take(1) !== " ") return fail(`SYNC PUSH: entry ${i + 1} missing`);
    const parsed = parseEntryAt(cursor, limits);
    if (!parsed.ok) return fail(`SYNC PUSH: entry ${i + 1}: ${parsed.error}`);
    entries.push(parsed.value);
  }
  if (!cursor.atEnd) return fail(`SYNC PUSH: text after ${count} entries`);
  return ok({ verb: "PUSH", entries });
}

// ---------------------------------------------------------------------------------------------
// Replies: format (the answering node) and parse (the session). Lines come without line ends.

export function formatHelloReply(reply: HelloReply): string {
  const branches = reply.branches === null ? "-" : formatHashList(reply.branches);
  return `HELLO ${SYNC_PROTOCOL_VERSION} ${reply.nodeId} ${reply.maxLineBytes} ${reply.rootHex} ` +
    branches + modeWord(reply.conflictsMode) + CRLF;
}

export function parseHelloReply(lines: readonly string[]): Parsed<HelloReply> {
  const words = (lines[0] ?? "").split(" ");
  const mode = parseModeWord(words[6]);
  if ((!hasLength(words, 6) && !hasLength(words, 7)) || words[0] !== "HELLO") {
    return fail("expected HELLO with 5 fields");
  }
  if (mode === null) return fail("malformed conflicts mode");
  const [, versionText, nodeId, lineBytesText, rootHex, branchesText] = words;
  if (versionText !== String(SYNC_PROTOCOL_VERSION)) {
    return fail(`peer answered in sync protocol version "${versionText.slice(0, 16)}"`);
  }
  if (!NODE_ID_PATTERN.test(nodeId)) return fail(`invalid node id "${nodeId.slice(0, 80)}"`);
  const maxLineBytes = parseNatural(lineBytesText, MAX_STATED_LINE_BYTES);
  if (maxLineBytes === null || maxLineBytes < 64) return fail("invalid max line bytes");
  if (!ROOT_HEX_PATTERN.test(rootHex)) return fail("root is not 16 hex digits");
  if (branchesText === "-") return ok({ nodeId, maxLineBytes, rootHex, branches: null, ...mode });
  const branches = parseHashList(branchesText);
  if (branches === null) return fail("branch hashes are not base64 of 256 x 8 bytes");
  return ok({ nodeId, maxLineBytes, rootHex, branches, ...mode });
}

export function formatSegmentsReply(replies: readonly BranchSegments[]): string {
  let text = "SEGMENTS " + replies.length + CRLF;
  for (const reply of replies) text += reply.branch + " " + formatHashList(reply.segments) + CRLF;
  return text;
}

export function parseSegmentsReply(lines: readonly string[]): Parsed<BranchSegments[]> {
  const count = countedHeader(lines, "SEGMENTS");
  if (typeof count === "string") return fail(count);
  const replies: BranchSegments[] = [];
  // countedHeader checked that `count` lines follow the header.
  for (let i = 1; i <= count; i++) {
    const words = lines[i]!.split(" ");
    const branch = hasLength(words, 2) ? parseNatural(words[0], BRANCH_COUNT - 1) : null;
    const segments = hasLength(words, 2) ? parseHashList(words[1]) : null;
    if (branch === null || segments === null) return fail(`SEGMENTS line ${i} malformed`);
    replies.push({ branch, segments });
  }
  return ok(replies);
}

/**
 * One segment's block of a DIGESTS reply: `S <segment> <horizon> <count>`, then digests. When
 * it lists only some sub-buckets, the header ends with them: ` <listed>`, 4 hex digits.
 */
export function segmentDigestLines(
  segment: number,
  horizonHlc: number,
  listed: number,
  entries: readonly Entry[],
): string[] {
  let header = "S " + segment + " " + horizonHlc + " " + entries.length;
  if (listed !== ALL_SUB_BUCKETS) header += " " + listed.toString(16).padStart(4, "0");
  const lines = [header];
  for (const entry of entries) lines.push(formatDigest(entry));
  return lines;
}

/** `DIGESTS n` (n = lines that follow), then the segments' blocks. */
export function formatDigestsReply(blocks: readonly string[][]): string {
  let lineCount = 0;
  for (const block of blocks) lineCount += block.length;
  let text = "DIGESTS " + lineCount + CRLF;
  for (const block of blocks) for (const line of block) text += line + CRLF;
  return text;
}

export function parseDigestsReply(
  lines: readonly string[],
  limits: WireLimits,
): Parsed<SegmentDigests[]> {
  const lineCount = countedHeader(lines, "DIGESTS");
  if (typeof lineCount === "string") return fail(lineCount);
  const segments: SegmentDigests[] = [];
  // countedHeader checked that `lineCount` lines follow the header, and a block's count is at
  // most the lines left after its header: every line read below is there.
  let i = 1;
  while (i <= lineCount) {
    const header = parseSegmentHeader(lines[i]!, lineCount - i);
    if (header === null) {
      return fail(`DIGESTS line ${i}: expected "S <segment> <horizon> <count> [<listed>]"`);
    }
    const { segment, horizonHlc, count, listed } = header;
    const digests: Digest[] = [];
    for (let j = i + 1; j <= i + count; j++) {
      const digest = parseDigestLine(lines[j]!, limits);
      if (!digest.ok) return fail(`DIGESTS line ${j}: ${digest.error}`);
      digests.push(digest.value);
    }
    segments.push({ segment, horizonHlc, listed, digests });
    i += 1 + count;
  }
  return ok(segments);
}

/** A block's header line, `S <segment> <horizon> <count> [<listed>]`; null if malformed. */
function parseSegmentHeader(
  line: string,
  maxCount: number,
): { segment: number; horizonHlc: number; count: number; listed: number } | null {
  const words = line.split(" ");
  if (!(hasLength(words, 4) || hasLength(words, 5)) || words[0] !== "S") return null;
  const segment = parseNatural(words[1], SEGMENT_COUNT - 1);
  const horizonHlc = parseNatural(words[2], Number.MAX_SAFE_INTEGER);
  const count = parseNatural(words[3], maxCount);
  const listedText = words.at(4);
  const listed = listedText === undefined
    ? ALL_SUB_BUCKETS
    : LISTED_PATTERN.test(listedText)
    ? parseInt(listedText, 16)
    : null;
  if (segment === null || horizonHlc === null || count === null || listed === null) return null;
  return { segment, horizonHlc, count, listed };
}

export function formatEntriesReply(entryLines: readonly string[]): string {
  let text = "ENTRIES " + entryLines.length + CRLF;
  for (const line of entryLines) text += line + CRLF;
  return text;
}

export function parseEntriesReply(lines: readonly string[], limits: WireLimits): Parsed<Entry[]> {
  const count = countedHeader(lines, "ENTRIES");
  if (typeof count === "string") return fail(count);
  const entries: Entry[] = [];
  // countedHeader checked that `count` lines follow the header.
  for (let i = 1; i <= count; i++) {
    const entry = parseEntryLine(lines[i]!, limits);
    if (!entry.ok) return fail(`ENTRIES line ${i}: ${entry.error}`);
    entries.push(entry.value);
  }
  return ok(entries);
}

export function formatPushedReply(counts: PushCounts): string {
  return `PUSHED ${counts.applied} ${counts.stale} ${counts.future} ${counts.refused}` + CRLF;
}

export function parsePushedReply(lines: readonly string[]): Parsed<PushCounts> {
  const words = (lines[0] ?? "").split(" ");
  if (!hasLength(words, 5) || words[0] !== "PUSHED") return fail("expected PUSHED with 4 counts");
  const count = (word: string) => parseNatural(word, MAX_ENTRIES_PER_PUSH);
  const applied = count(words[1]);
  const stale = count(words[2]);
  const future = count(words[3]);
  const refused = count(words[4]);
  if (applied === null || stale === null || future === null || refused === null) {
    return fail("PUSHED counts must be 0..256");
  }
  return ok({ applied, stale, future, refused });
}

/** The count of a `WORD n` header, checked against the lines actually received. */
function countedHeader(lines: readonly string[], word: string): number | string {
  const header = lines[0] ?? "";
  if (!header.startsWith(word + " ")) {
    return `expected ${word} <count>, got "${header.slice(0, 40)}"`;
  }
  const count = parseNatural(header.slice(word.length + 1), Number.MAX_SAFE_INTEGER);
  if (count === null) return `${word} count malformed`;
  if (lines.length !== count + 1) return `${word} ${count} followed by ${lines.length - 1} lines`;
  return count;
}

/** Segments of one branch, as a HashList view of the tree's arrays (no copy). */
export function branchSegmentsOf(
  segmentLow: Int32Array,
  segmentHigh: Int32Array,
  branch: number,
): HashList {
  const start = branch * SEGMENTS_PER_BRANCH;
  return {
    low: segmentLow.subarray(start, start + SEGMENTS_PER_BRANCH),
    high: segmentHigh.subarray(start, start + SEGMENTS_PER_BRANCH),
  };
}
