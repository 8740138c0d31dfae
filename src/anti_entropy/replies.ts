/**
 * The peer's replies in a sync session (see docs/anti-entropy.md, Session rounds): each reply
 * is checked against the request it answers, then turned into work for the session: branches
 * and segments to compare next, keys to pull and push (planned per segment, within the
 * session's key budget), entries to merge and entries to discard, and the counts of the
 * summary. Pure, like the session.
 *
 * Kept apart from session.ts, which decides what to ask and when: this file is what the
 * answers mean. The session hands it a ReplyContext holding its peer, key budget and work
 * queues, and nothing else.
 */

import {
  type Entry,
  hashToHex,
  type SegmentContents,
  type Store,
  SUB_BUCKETS,
} from "../store/mod.ts";
import {
  ALL_SUB_BUCKETS,
  type Digest,
  type DigestsQuery,
  type HashList,
  type HelloReply,
  parseDigestsReply,
  parseEntriesReply,
  parseHelloReply,
  parsePushedReply,
  parseSegmentsReply,
  type SegmentDigests,
  type WireLimits,
} from "./codec.ts";
import { entriesListed } from "./sub_buckets.ts";
import type { ModeAgreement } from "../conflicts/mod.ts";
import {
  compareDigests,
  digestOf,
  isBehindHorizon,
  isMergeDifference,
  isOlderThanGrace,
  isPastGrace,
} from "./versions.ts";
import { assert } from "../assert.ts";

/** A request in flight, remembered to check its reply against. */
export type Pending =
  | { kind: "HELLO" }
  | { kind: "SEGMENTS"; branches: number[] }
  | {
    kind: "DIGESTS";
    queries: DigestsQuery[];
    /** Per query with sub-bucket hashes, the local contents they were computed from. */
    contents: (SegmentContents | null)[];
  }
  | { kind: "GET"; keys: string[] }
  | { kind: "PUSH"; entries: Entry[] };

/** One key to push and what the peer said it holds of it (null: nothing). */
export interface PushCandidate {
  key: string;
  peer: Digest | null;
  peerHorizon: number;
}

/** What the session should do with the keys of one segment. */
export interface SegmentPlan {
  pull: string[];
  push: PushCandidate[];
  discard: Entry[];
  refused: number;
}

/** Repairs found in one reply, gathered for the step. */
export interface Gathered {
  repairs: Entry[];
  discards: Entry[];
}

/** The counts of the session's summary (SessionSummary) that replies add to. */
export interface ReplyCounts {
  peerNodeId: string | null;
  peerRootHex: string | null;
  pushed: number;
  refused: number;
  discarded: number;
  valueBytes: number;
  complete: boolean;
}

/** A work queue of the session, as replies fill it. */
export interface WorkQueue<T> {
  push(item: T): void;
  pushAll(items: readonly T[]): void;
}

/** What reading a reply reads (store, limits) and changes (peer, budget, queues, counts). */
export interface ReplyContext {
  /** Read only; the caller writes it, through the repairs and discards of each step. */
  readonly store: Store;
  readonly limits: WireLimits;
  readonly tombstoneGraceMs: number;
  /** A peer in another conflicts.mode ends the session at HELLO; undefined: not checked. */
  readonly agreement: ModeAgreement | undefined;
  readonly summary: ReplyCounts;
  /** The peer's HELLO reply, once it came. */
  peer: HelloReply | null;
  /** Keys that may still be pulled or pushed in this session. */
  keysLeft: number;
  readonly branchQueue: WorkQueue<number>;
  readonly segmentQueue: WorkQueue<number>;
  /** Queued segments whose hash is 0 at the peer: it holds none of their keys. */
  readonly emptyAtPeer: Set<number>;
  readonly pullQueue: WorkQueue<string>;
  readonly pushQueue: WorkQueue<PushCandidate>;
}

/** Reads one reply to `pending`; the reason it is malformed, or null. */
export function readReply(
  context: ReplyContext,
  pending: Pending,
  lines: readonly string[],
  gathered: Gathered,
): string | null {
  switch (pending.kind) {
    case "HELLO":
      return readHello(context, lines);
    case "SEGMENTS":
      return readSegments(context, pending.branches, lines);
    case "DIGESTS":
      return readDigests(context, pending, lines, gathered);
    case "GET":
      return readEntries(context, pending.keys, lines, gathered);
    case "PUSH":
      return readPushed(context, pending.entries, lines);
    default: {
      const unreachable: never = pending;
      assert(false, `every pending request kind is handled, not ${JSON.stringify(unreachable)}`);
    }
  }
}

function readHello(context: ReplyContext, lines: readonly string[]): string | null {
  const { store, summary } = context;
  const parsed = parseHelloReply(lines);
  if (!parsed.ok) return parsed.error;
  const peer = parsed.value;
  summary.peerNodeId = peer.nodeId;
  summary.peerRootHex = peer.rootHex;
  if (peer.nodeId === store.nodeId) return `the peer is this node (node id ${peer.nodeId})`;
  const refusal = context.agreement?.refusal(peer.nodeId, peer.conflictsMode, "sync") ?? null;
  if (refusal !== null) return refusal;
  context.peer = peer;
  if (peer.rootHex === store.rootHex()) return null;
  if (peer.branches === null) {
    // Our root changed since HELLO left, and matched the peer's then: next session.
    summary.complete = false;
    return null;
  }
  if (!rootMatches(peer.branches, peer.rootHex)) return "root is not the XOR of the branches";
  const tree = store.tree;
  for (let branch = 0; branch < 256; branch++) {
    if (
      tree.branchLow[branch] !== peer.branches.low[branch] ||
      tree.branchHigh[branch] !== peer.branches.high[branch]
    ) context.branchQueue.push(branch);
  }
  return null;
}

function readSegments(
  context: ReplyContext,
  branches: readonly number[],
  lines: readonly string[],
): string | null {
  const parsed = parseSegmentsReply(lines);
  if (!parsed.ok) return parsed.error;
  const replies = parsed.value;
  if (!sameNumbers(replies.map((reply) => reply.branch), branches)) {
    return "branches differ from those asked for";
  }
  const tree = context.store.tree;
  for (const { branch, segments } of replies) {
    for (let i = 0; i < 256; i++) {
      const segment = branch * 256 + i;
      const low = segments.low[i];
      const high = segments.high[i];
      if (tree.segmentLow[segment] === low && tree.segmentHigh[segment] === high) continue;
      context.segmentQueue.push(segment);
      if (low === 0 && high === 0) context.emptyAtPeer.add(segment);
    }
  }
  return null;
}

function readDigests(
  context: ReplyContext,
  { queries, contents }: Pending & { kind: "DIGESTS" },
  lines: readonly string[],
  gathered: Gathered,
): string | null {
  const { store } = context;
  const parsed = parseDigestsReply(lines, context.limits);
  if (!parsed.ok) return parsed.error;
  const covered = parsed.value;
  if (covered.length === 0) return "no segment in the reply";
  const segments = queries.map((query) => query.segment);
  if (!sameNumbers(covered.map((reply) => reply.segment), segments.slice(0, covered.length))) {
    return "segments differ from those asked for";
  }
  // The peer stops at its reply size limit; ask for the rest in the next round trip.
  context.segmentQueue.pushAll(segments.slice(covered.length));
  for (const [i, segmentDigests] of covered.entries()) {
    const { segment, listed } = segmentDigests;
    const query = queries[i];
    assert(query !== undefined, "a reply covers no more segments than were asked for (above)");
    if (listed !== ALL_SUB_BUCKETS && query.subHashes === null) {
      return `segment ${segment} lists some sub-buckets, but was asked for whole`;
    }
    const error = checkDigestKeys(store, segmentDigests);
    if (error !== null) return error;
    // Only the listed sub-buckets differ; the others hold the same entries on both sides.
    // The entries listed when the hashes were computed are the stored objects, so their
    // versions are current; a key added since is left to the next session.
    const local = listed === ALL_SUB_BUCKETS
      ? store.segmentEntries(segment)
      : entriesListed(heldContents(contents[i]), listed);
    const plan = planSegment(
      local,
      segmentDigests,
      store.purgeHorizon(segment),
      store.nowMs(),
      context.tombstoneGraceMs,
    );
    adoptPlan(context, plan, gathered);
  }
  return null;
}

/** Queues a segment's pulls and pushes within the session's key budget. */
function adoptPlan(context: ReplyContext, plan: SegmentPlan, gathered: Gathered): void {
  const { summary } = context;
  summary.refused += plan.refused;
  summary.discarded += plan.discard.length;
  gathered.discards.push(...plan.discard);
  const wanted = plan.pull.length + plan.push.length;
  if (wanted > context.keysLeft) summary.complete = false;
  const pulls = plan.pull.slice(0, context.keysLeft);
  context.keysLeft -= pulls.length;
  const pushes = plan.push.slice(0, context.keysLeft);
  context.keysLeft -= pushes.length;
  context.pullQueue.pushAll(pulls);
  context.pushQueue.pushAll(pushes);
}

function readEntries(
  context: ReplyContext,
  keys: readonly string[],
  lines: readonly string[],
  gathered: Gathered,
): string | null {
  const { summary } = context;
  const parsed = parseEntriesReply(lines, context.limits);
  if (!parsed.ok) return parsed.error;
  const asked = new Set(keys);
  const seen = new Set<string>();
  for (const entry of parsed.value) {
    if (!asked.has(entry.key) || seen.has(entry.key)) {
      return `entry for a key not asked for: "${entry.key.slice(0, 64)}"`;
    }
    seen.add(entry.key);
    // Checked again now: our side may have purged since the digests were compared.
    if (isBehindHorizon(context.store, entry.key, entry.hlc)) {
      summary.refused++;
      continue;
    }
    gathered.repairs.push(entry);
    summary.valueBytes += entry.value?.length ?? 0;
  }
  // Held back by the peer's reply size limit (or purged there meanwhile): next session.
  if (seen.size < asked.size) summary.complete = false;
  return null;
}

function readPushed(
  context: ReplyContext,
  entries: readonly Entry[],
  lines: readonly string[],
): string | null {
  const parsed = parsePushedReply(lines);
  if (!parsed.ok) return parsed.error;
  const { applied, stale, future, refused } = parsed.value;
  if (applied + stale + future + refused !== entries.length) {
    return `counts add up to ${applied + stale + future + refused}, sent ${entries.length}`;
  }
  context.summary.pushed += applied;
  context.summary.refused += refused;
  return null;
}

/**
 * Compares one segment's entries here with the peer's digests of it. Newer wins both ways;
 * a key only one side holds goes to the other, unless it is past its grace period (it would
 * be purged on arrival) or behind the receiver's purge horizon (it may be a deleted key; then
 * the holder drops it, see docs/anti-entropy.md, Tombstone grace and resurrection).
 */
export function planSegment(
  localEntries: readonly Entry[],
  remote: SegmentDigests,
  localHorizon: number,
  nowMs: number,
  graceMs: number,
): SegmentPlan {
  const plan: SegmentPlan = { pull: [], push: [], discard: [], refused: 0 };
  const remoteByKey = new Map<string, Digest>();
  for (const digest of remote.digests) remoteByKey.set(digest.key, digest);
  const peerHorizon = remote.horizonHlc;
  for (const entry of localEntries) {
    const local = digestOf(entry);
    const peer = remoteByKey.get(entry.key);
    if (peer !== undefined) {
      remoteByKey.delete(entry.key);
      const order = compareDigests(local, peer);
      if (isMergeDifference(local, peer)) {
        plan.pull.push(entry.key);
        plan.push.push({ key: entry.key, peer, peerHorizon });
      } else if (order < 0) plan.pull.push(entry.key);
      else if (order > 0) plan.push.push({ key: entry.key, peer, peerHorizon });
    } else if (!isPastGrace(local, nowMs, graceMs)) {
      const behind = peerHorizon !== 0 && local.hlc <= peerHorizon &&
        isOlderThanGrace(local.hlc, nowMs, graceMs);
      if (behind) plan.discard.push(entry);
      else plan.push.push({ key: entry.key, peer: null, peerHorizon });
    }
  }
  for (const peer of remoteByKey.values()) {
    if (isPastGrace(peer, nowMs, graceMs)) continue;
    if (localHorizon !== 0 && peer.hlc <= localHorizon) plan.refused++;
    else plan.pull.push(peer.key);
  }
  return plan;
}

/**
 * Every digest's key hashes to the segment it is listed under, and to one of the sub-buckets
 * listed, and appears once.
 */
function checkDigestKeys(store: Store, segment: SegmentDigests): string | null {
  const seen = new Set<string>();
  for (const digest of segment.digests) {
    if (seen.has(digest.key)) return `key "${digest.key.slice(0, 64)}" listed twice`;
    seen.add(digest.key);
    const place = store.placeOfKey(digest.key);
    if (Math.floor(place / SUB_BUCKETS) !== segment.segment) {
      return `key "${digest.key.slice(0, 64)}" is not in segment ${segment.segment}`;
    }
    if (!((segment.listed >>> (place % SUB_BUCKETS)) & 1)) {
      return `key "${digest.key.slice(0, 64)}" is in a sub-bucket not listed`;
    }
  }
  return null;
}

/** The contents kept for a segment asked for with its sub-bucket hashes. */
function heldContents(contents: SegmentContents | null | undefined): SegmentContents {
  assert(
    contents !== undefined && contents !== null,
    "a segment asked for with sub-bucket hashes has its contents kept",
  );
  return contents;
}

function rootMatches(branches: HashList, rootHex: string): boolean {
  // A parsed branch list holds exactly 256 hashes.
  let low = 0;
  let high = 0;
  for (const value of branches.low) low ^= value;
  for (const value of branches.high) high ^= value;
  return hashToHex(low, high) === rootHex;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
