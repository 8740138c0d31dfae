/**
 * The replication wire formats (see docs/replication.md and docs/replication-security.md).
 * Pure: bytes in, values out.
 *
 * A change batch, format version 1 (unsigned), little-endian:
 *
 *   u8   format version (1)
 *   u8   origin node id length (1..64), origin node id bytes (ASCII)
 *   u32  incarnation: random per process start; sequence numbers restart with it
 *   f64  first sequence number: an integer in 1..2^53-1; entry i has first + i
 *   u32  entry count N (>= 1)
 *   N x  entry (src/store/entry_codec.ts)
 *
 * Nothing may follow the last entry. Format version 2 (signed) is the same with an 8-byte key
 * id after the version byte and a 32-byte HMAC-SHA256 tag after the last entry, over every byte
 * before the tag. A node announcement is UTF-8 JSON
 * `{"format":1,"node_id":"<id>","address":"<host>:<port>","conflicts_mode":"<mode>"}`
 * (conflicts_mode is absent from nodes older than it: see ModeAgreement); an empty payload
 * means "gone".
 * A signed announcement (format 2) is the byte 0x82, the key id, UTF-8 JSON with an order
 * (epoch_ms, connection), and the tag.
 */

import { Buffer } from "node:buffer";
import { assert } from "../assert.ts";
import {
  decodeEntry,
  encodedEntryLength,
  encodeEntry,
  type Entry,
  NODE_ID_PATTERN,
} from "../store/mod.ts";

export const BATCH_FORMAT_VERSION = 1;
/** A batch with a key id and an HMAC-SHA256 tag (see docs/replication-security.md). */
export const SIGNED_BATCH_FORMAT_VERSION = 2;
export const ANNOUNCEMENT_FORMAT_VERSION = 1;
export const SIGNED_ANNOUNCEMENT_FORMAT_VERSION = 2;
/**
 * First byte of a signed announcement: bit 7 marks an announcement, the low bits its format.
 * Never the first byte of JSON text (format 1), nor of a batch.
 */
export const SIGNED_ANNOUNCEMENT_FIRST_BYTE = 0x80 | SIGNED_ANNOUNCEMENT_FORMAT_VERSION;
/** A key id: the first 8 bytes of SHA-256 of the key, so that keys are never sent. */
export const KEY_ID_BYTES = 8;
/** HMAC-SHA256. */
export const TAG_BYTES = 32;
/** The first byte and the key id, before a signed message's body. */
const SIGNED_HEADER_BYTES = 1 + KEY_ID_BYTES;

/** version + origin length + incarnation + first sequence + count, without the origin bytes. */
const BATCH_HEADER_BYTES = 1 + 1 + 4 + 8 + 4;
/** The smallest entry_codec entry: flags, hlc, node length, one node byte, key length. */
const MIN_ENTRY_BYTES = 12;

export interface ChangeBatch {
  /** The node whose local writes these are. */
  origin: string;
  incarnation: number;
  /** Sequence number of entries[0]; the others follow one by one. */
  firstSequence: number;
  entries: Entry[];
}

export type BatchDecodeResult =
  | { ok: true; batch: ChangeBatch }
  | { ok: false; error: string };

/** Bytes encodeBatch will produce for these entries from this origin. */
export function encodedBatchLength(origin: string, entries: readonly Entry[]): number {
  let length = BATCH_HEADER_BYTES + origin.length;
  for (const entry of entries) length += encodedEntryLength(entry);
  return length;
}

/**
 * Format 1 without a key id; format 2 with one, ending in TAG_BYTES zero bytes for the tag
 * (which the signer writes: see signedParts()).
 */
export function encodeBatch(batch: ChangeBatch, keyId: Uint8Array | null = null): Buffer {
  const bodyBytes = encodedBatchLength(batch.origin, batch.entries);
  if (keyId === null) {
    const buffer = Buffer.allocUnsafe(bodyBytes);
    buffer[0] = BATCH_FORMAT_VERSION;
    writeBatchFields(batch, buffer, 1);
    return buffer;
  }
  assert(keyId.length === KEY_ID_BYTES, `a key id has ${KEY_ID_BYTES} bytes`);
  const buffer = Buffer.allocUnsafe(bodyBytes + KEY_ID_BYTES + TAG_BYTES);
  buffer[0] = SIGNED_BATCH_FORMAT_VERSION;
  buffer.set(keyId, 1);
  const end = writeBatchFields(batch, buffer, SIGNED_HEADER_BYTES);
  buffer.fill(0, end);
  return buffer;
}

/** Everything after the version byte (and key id); returns the offset after the last entry. */
function writeBatchFields(batch: ChangeBatch, buffer: Buffer, start: number): number {
  let offset = start;
  buffer[offset++] = batch.origin.length;
  offset += buffer.write(batch.origin, offset, "latin1");
  buffer.writeUInt32LE(batch.incarnation, offset);
  offset += 4;
  buffer.writeDoubleLE(batch.firstSequence, offset);
  offset += 8;
  buffer.writeUInt32LE(batch.entries.length, offset);
  offset += 4;
  for (const entry of batch.entries) offset = encodeEntry(entry, buffer, offset);
  return offset;
}

/**
 * Reads a whole batch message, format 1 or 2. The tag of format 2 is not checked here (see
 * signedParts()). Anything malformed is an error value, never an exception.
 */
export function decodeBatch(bytes: Uint8Array): BatchDecodeResult {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length === 0) return { ok: false, error: "empty message" };
  const version = buffer[0];
  if (version === BATCH_FORMAT_VERSION) return decodeBatchFields(buffer, 1, buffer.length);
  if (version !== SIGNED_BATCH_FORMAT_VERSION) {
    return { ok: false, error: `unknown batch format version ${version}` };
  }
  if (buffer.length < SIGNED_HEADER_BYTES + TAG_BYTES) {
    return { ok: false, error: "batch truncated in signature" };
  }
  return decodeBatchFields(buffer, SIGNED_HEADER_BYTES, buffer.length - TAG_BYTES);
}

/** The fields after the version byte (and key id), from start to end. */
function decodeBatchFields(buffer: Buffer, start: number, end: number): BatchDecodeResult {
  if (end - start < BATCH_HEADER_BYTES - 1) {
    return { ok: false, error: "batch truncated in header" };
  }
  const originLength = buffer[start] ?? 0;
  if (start + BATCH_HEADER_BYTES - 1 + originLength > end) {
    return { ok: false, error: "batch truncated in origin" };
  }
  let offset = start + 1;
  const origin = buffer.toString("latin1", offset, offset + originLength);
  offset += originLength;
  if (!NODE_ID_PATTERN.test(origin)) return { ok: false, error: "invalid origin node id" };
  const incarnation = buffer.readUInt32LE(offset);
  offset += 4;
  const firstSequence = buffer.readDoubleLE(offset);
  offset += 8;
  if (!Number.isSafeInteger(firstSequence) || firstSequence < 1) {
    return { ok: false, error: "invalid sequence number" };
  }
  const count = buffer.readUInt32LE(offset);
  offset += 4;
  if (count === 0) return { ok: false, error: "batch without entries" };
  if (count * MIN_ENTRY_BYTES > end - offset) {
    return { ok: false, error: `batch truncated: ${count} entries cannot fit` };
  }
  if (!Number.isSafeInteger(firstSequence + count - 1)) {
    return { ok: false, error: "invalid sequence number" };
  }
  const entries: Entry[] = [];
  for (let index = 0; index < count; index++) {
    const result = decodeEntry(buffer, offset, end);
    if (!result.ok) return { ok: false, error: `entry ${index}: ${result.error}` };
    entries.push(result.entry);
    offset = result.end;
  }
  if (offset !== end) {
    return { ok: false, error: `unexpected bytes after the last entry: ${end - offset}` };
  }
  return { ok: true, batch: { origin, incarnation, firstSequence, entries } };
}

/** Views into a signed message: what the receiver needs to check its tag. */
export interface SignedParts {
  keyId: Uint8Array;
  /** Every byte before the tag: what the HMAC covers. */
  signed: Uint8Array;
  tag: Uint8Array;
}

/**
 * The parts of a signed message whose first byte is `firstByte`
 * (SIGNED_BATCH_FORMAT_VERSION or SIGNED_ANNOUNCEMENT_FIRST_BYTE); null when the message is
 * not signed that way (another first byte, or too short to hold a key id and a tag).
 */
export function signedParts(bytes: Uint8Array, firstByte: number): SignedParts | null {
  if (bytes.byteLength < SIGNED_HEADER_BYTES + TAG_BYTES || bytes[0] !== firstByte) return null;
  const tagStart = bytes.byteLength - TAG_BYTES;
  return {
    keyId: bytes.subarray(1, SIGNED_HEADER_BYTES),
    signed: bytes.subarray(0, tagStart),
    tag: bytes.subarray(tagStart),
  };
}

/** A node announcing where clients (and peers' anti-entropy) reach it. */
export interface Announcement {
  nodeId: string;
  /** "host:port" of the node's client listener. */
  address: string;
  /** Its conflicts.mode (see docs/consistency.md); absent or null: not stated (older nodes). */
  conflictsMode?: string | null;
}

/** What a conflicts_mode field may hold: a short lower-case word. */
const CONFLICTS_MODE_PATTERN = /^[a-z]{1,16}$/;

/** The conflicts_mode field: null when absent, undefined when malformed. */
function conflictsModeOf(value: unknown): string | null | undefined {
  if (value === undefined) return null;
  return typeof value === "string" && CONFLICTS_MODE_PATTERN.test(value) ? value : undefined;
}

export type AnnouncementDecodeResult =
  | { ok: true; announcement: Announcement | null }
  | { ok: false; error: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const MAX_ANNOUNCEMENT_BYTES = 4096;
/** host:port with a port in 1..65535; IPv6 hosts in brackets. */
const ADDRESS_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253}):([0-9]{1,5})$/;

export function encodeAnnouncement(announcement: Announcement): Uint8Array {
  return encoder.encode(JSON.stringify({
    format: ANNOUNCEMENT_FORMAT_VERSION,
    node_id: announcement.nodeId,
    address: announcement.address,
    conflicts_mode: announcement.conflictsMode ?? undefined,
  }));
}

/** An empty payload (a cleared retained message) decodes to null: the node is gone. */
export function decodeAnnouncement(bytes: Uint8Array): AnnouncementDecodeResult {
  if (bytes.byteLength === 0) return { ok: true, announcement: null };
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    return { ok: false, error: "announcement too long" };
  }
  const value = parseJsonObject(bytes);
  if (typeof value === "string") return { ok: false, error: value };
  const { format, node_id: nodeId, address } = value;
  const conflictsMode = conflictsModeOf(value.conflicts_mode);
  if (conflictsMode === undefined) return { ok: false, error: "invalid conflicts_mode" };
  if (format !== ANNOUNCEMENT_FORMAT_VERSION) {
    return { ok: false, error: `unknown announcement format ${JSON.stringify(format)}` };
  }
  if (typeof nodeId !== "string" || !NODE_ID_PATTERN.test(nodeId)) {
    return { ok: false, error: "invalid node_id" };
  }
  if (typeof address !== "string" || !isAddress(address)) {
    return { ok: false, error: "invalid address" };
  }
  const stated = conflictsMode === null ? {} : { conflictsMode };
  return { ok: true, announcement: { nodeId, address, ...stated } };
}

/**
 * A signed announcement, or a signed "gone" (address null). Its order says which of two
 * messages of one node is newer, so that an old one replayed changes nothing: a "gone" erases
 * the node's announcements of its order or before only (see docs/replication-security.md).
 */
export interface SignedAnnouncement {
  nodeId: string;
  /** "host:port", or null: the node is gone (its last will, or a clean stop). */
  address: string | null;
  order: AnnouncementOrder;
  /** As in Announcement; absent or null: not stated (an older node, or a "gone"). */
  conflictsMode?: string | null;
}

export interface AnnouncementOrder {
  /** When the node's process started (ms since the epoch): a later start is newer. */
  epochMs: number;
  /** The broker connection of that process, 1, 2, ...: a later connection is newer. */
  connection: number;
}

export type SignedAnnouncementDecodeResult =
  | { ok: true; announcement: SignedAnnouncement }
  | { ok: false; error: string };

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareOrders(a: AnnouncementOrder, b: AnnouncementOrder): number {
  return a.epochMs !== b.epochMs ? a.epochMs - b.epochMs : a.connection - b.connection;
}

/** The first byte, the key id, the JSON, then TAG_BYTES zero bytes for the signer to fill. */
export function encodeSignedAnnouncement(
  announcement: SignedAnnouncement,
  keyId: Uint8Array,
): Uint8Array {
  assert(keyId.length === KEY_ID_BYTES, `a key id has ${KEY_ID_BYTES} bytes`);
  const json = encoder.encode(JSON.stringify({
    format: SIGNED_ANNOUNCEMENT_FORMAT_VERSION,
    node_id: announcement.nodeId,
    address: announcement.address,
    epoch_ms: announcement.order.epochMs,
    connection: announcement.order.connection,
    conflicts_mode: announcement.conflictsMode ?? undefined,
  }));
  const bytes = new Uint8Array(SIGNED_HEADER_BYTES + json.length + TAG_BYTES);
  bytes[0] = SIGNED_ANNOUNCEMENT_FIRST_BYTE;
  bytes.set(keyId, 1);
  bytes.set(json, SIGNED_HEADER_BYTES);
  return bytes;
}

/** Reads a signed announcement; its tag is not checked here (see signedParts()). */
export function decodeSignedAnnouncement(bytes: Uint8Array): SignedAnnouncementDecodeResult {
  if (bytes[0] !== SIGNED_ANNOUNCEMENT_FIRST_BYTE) {
    return { ok: false, error: "not a signed announcement" };
  }
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    return { ok: false, error: "announcement too long" };
  }
  if (bytes.byteLength < SIGNED_HEADER_BYTES + TAG_BYTES) {
    return { ok: false, error: "announcement truncated in signature" };
  }
  const value = parseJsonObject(bytes.subarray(SIGNED_HEADER_BYTES, bytes.byteLength - TAG_BYTES));
  if (typeof value === "string") return { ok: false, error: value };
  const { format, node_id: nodeId, address, epoch_ms: epochMs, connection } = value;
  const conflictsMode = conflictsModeOf(value.conflicts_mode);
  if (conflictsMode === undefined) return { ok: false, error: "invalid conflicts_mode" };
  if (format !== SIGNED_ANNOUNCEMENT_FORMAT_VERSION) {
    return { ok: false, error: `unknown announcement format ${JSON.stringify(format)}` };
  }
  if (typeof nodeId !== "string" || !NODE_ID_PATTERN.test(nodeId)) {
    return { ok: false, error: "invalid node_id" };
  }
  if (address !== null && (typeof address !== "string" || !isAddress(address))) {
    return { ok: false, error: "invalid address" };
  }
  if (typeof epochMs !== "number" || !Number.isSafeInteger(epochMs) || epochMs < 0) {
    return { ok: false, error: "invalid epoch_ms" };
  }
  if (typeof connection !== "number" || !Number.isSafeInteger(connection) || connection < 1) {
    return { ok: false, error: "invalid connection" };
  }
  const order = { epochMs, connection };
  const stated = conflictsMode === null ? {} : { conflictsMode };
  return { ok: true, announcement: { nodeId, address, order, ...stated } };
}

/** A JSON object's fields, or the error text. */
function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | string {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return "announcement is not UTF-8 JSON";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "announcement is not an object";
  }
  return value as Record<string, unknown>;
}

export function isAddress(address: string): boolean {
  const match = ADDRESS_PATTERN.exec(address);
  if (match === null) return false;
  const port = Number(match[2]);
  return port >= 1 && port <= 65_535;
}

/** "host:port", with IPv6 hosts in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export type TopicKind = "changes" | "nodes";

/** `<prefix>/changes/<node_id>`: one node's change batches. */
export function changesTopic(prefix: string, nodeId: string): string {
  return `${prefix}/changes/${nodeId}`;
}

/** `<prefix>/nodes/<node_id>`: the node's retained announcement. */
export function nodesTopic(prefix: string, nodeId: string): string {
  return `${prefix}/nodes/${nodeId}`;
}

/** The subscriptions: every node's changes and announcements. */
export function subscriptionTopics(prefix: string): { changes: string; nodes: string } {
  return { changes: `${prefix}/changes/+`, nodes: `${prefix}/nodes/+` };
}

/** Which of our topics this is and the node id in it, or null for anything else. */
export function parseTopic(
  prefix: string,
  topic: string,
): { kind: TopicKind; nodeId: string } | null {
  if (!topic.startsWith(prefix + "/")) return null;
  const rest = topic.slice(prefix.length + 1);
  const slash = rest.indexOf("/");
  if (slash < 0) return null;
  const kind = rest.slice(0, slash);
  const nodeId = rest.slice(slash + 1);
  if (kind !== "changes" && kind !== "nodes") return null;
  if (!NODE_ID_PATTERN.test(nodeId)) return null;
  return { kind, nodeId };
}
