/**
 * The replication wire formats (see docs/replication.md). Pure: bytes in, values out.
 *
 * A change batch, format version 1, little-endian:
 *
 *   u8   format version (1)
 *   u8   origin node id length (1..64), origin node id bytes (ASCII)
 *   u32  incarnation: random per process start; sequence numbers restart with it
 *   f64  first sequence number: an integer in 1..2^53-1; entry i has first + i
 *   u32  entry count N (>= 1)
 *   N x  entry (src/store/entry_codec.ts)
 *
 * Nothing may follow the last entry. A node announcement is UTF-8 JSON
 * `{"format":1,"node_id":"<id>","address":"<host>:<port>"}`; an empty payload means "gone".
 */

import { Buffer } from "node:buffer";
import {
  decodeEntry,
  encodedEntryLength,
  encodeEntry,
  type Entry,
  NODE_ID_PATTERN,
} from "../store/mod.ts";

export const BATCH_FORMAT_VERSION = 1;
export const ANNOUNCEMENT_FORMAT_VERSION = 1;

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

export function encodeBatch(batch: ChangeBatch): Buffer {
  const buffer = Buffer.allocUnsafe(encodedBatchLength(batch.origin, batch.entries));
  let offset = 0;
  buffer[offset++] = BATCH_FORMAT_VERSION;
  buffer[offset++] = batch.origin.length;
  offset += buffer.write(batch.origin, offset, "latin1");
  buffer.writeUInt32LE(batch.incarnation, offset);
  offset += 4;
  buffer.writeDoubleLE(batch.firstSequence, offset);
  offset += 8;
  buffer.writeUInt32LE(batch.entries.length, offset);
  offset += 4;
  for (const entry of batch.entries) offset = encodeEntry(entry, buffer, offset);
  return buffer;
}

/** Reads a whole batch message. Anything malformed is an error value, never an exception. */
export function decodeBatch(bytes: Uint8Array): BatchDecodeResult {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buffer.length;
  if (end === 0) return { ok: false, error: "empty message" };
  if (buffer[0] !== BATCH_FORMAT_VERSION) {
    return { ok: false, error: `unknown batch format version ${buffer[0]}` };
  }
  if (end < BATCH_HEADER_BYTES) return { ok: false, error: "batch truncated in header" };
  const originLength = buffer.readUInt8(1);
  if (BATCH_HEADER_BYTES + originLength > end) {
    return { ok: false, error: "batch truncated in origin" };
  }
  let offset = 2;
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

/** A node announcing where clients (and peers' anti-entropy) reach it. */
export interface Announcement {
  nodeId: string;
  /** "host:port" of the node's client listener. */
  address: string;
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
  }));
}

/** An empty payload (a cleared retained message) decodes to null: the node is gone. */
export function decodeAnnouncement(bytes: Uint8Array): AnnouncementDecodeResult {
  if (bytes.byteLength === 0) return { ok: true, announcement: null };
  if (bytes.byteLength > MAX_ANNOUNCEMENT_BYTES) {
    return { ok: false, error: "announcement too long" };
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, error: "announcement is not UTF-8 JSON" };
  }
  if (typeof value !== "object" || value === null) {
    return { ok: false, error: "announcement is not an object" };
  }
  const { format, node_id: nodeId, address } = value as Record<string, unknown>;
  if (format !== ANNOUNCEMENT_FORMAT_VERSION) {
    return { ok: false, error: `unknown announcement format ${JSON.stringify(format)}` };
  }
  if (typeof nodeId !== "string" || !NODE_ID_PATTERN.test(nodeId)) {
    return { ok: false, error: "invalid node_id" };
  }
  if (typeof address !== "string" || !isAddress(address)) {
    return { ok: false, error: "invalid address" };
  }
  return { ok: true, announcement: { nodeId, address } };
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
