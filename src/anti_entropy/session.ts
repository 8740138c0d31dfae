/**
 * One anti-entropy session, seen from the node that starts it: a state machine with no
 * sockets and no timers (see README, Anti-entropy, Session rounds). `start()` gives the first
 * requests; `receive(replies)` takes the replies to the last requests, in order, and gives the
 * next requests plus the repairs to make now. The peer link sends, waits and merges.
 *
 * Rounds: HELLO (roots, then branch hashes) -> SEGMENTS of divergent branches -> DIGESTS of
 * divergent segments (of their divergent sub-buckets only, for crowded segments) -> GET what
 * the peer has newer and PUSH what we have newer, pipelined.
 * Later rounds mix kinds when the earlier ones did not fit one round trip.
 */

import {
  type ApplyCounts,
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
  formatEntry,
  formatRequest,
  type HashList,
  type HelloReply,
  parseDigestsReply,
  parseEntriesReply,
  parseHelloReply,
  parsePushedReply,
  parseSegmentsReply,
  type SegmentDigests,
  SUB_HASHES_BASE64_LENGTH,
  type WireLimits,
} from "./codec.ts";
import {
  MAX_BRANCHES_PER_REQUEST,
  MAX_ENTRIES_PER_PUSH,
  MAX_KEYS_PER_GET,
  MAX_REQUEST_LINE_BYTES,
  MAX_REQUESTS_PER_ROUND,
  MAX_ROUNDS_PER_SESSION,
  MAX_SEGMENTS_PER_REQUEST,
  MIN_ENTRIES_FOR_SUB_HASHES,
  SYNC_PROTOCOL_VERSION,
} from "./limits.ts";
import { entriesListed } from "./sub_buckets.ts";
import {
  compareDigests,
  digestOf,
  isBehindHorizon,
  isOlderThanGrace,
  isPastGrace,
} from "./versions.ts";
import { assert } from "../assert.ts";

export interface SessionOptions {
  /** Read here; written only by the caller, through the repairs and discards of each step. */
  store: Store;
  limits: WireLimits;
  /** Keys pulled plus pushed at most; the rest is left for the next session. */
  maxKeysPerSession: number;
  tombstoneGraceMs: number;
}

export interface SessionStep {
  /** Request lines (no line ends) to send now, pipelined; empty when the session is over. */
  requests: string[];
  /** Entries pulled from the peer: merge them now (LWW decides; losers change nothing). */
  repairs: Entry[];
  /** Local entries the peer showed to be deleted and purged: store.discard() them now. */
  discards: Entry[];
  /** Why the session failed; null while it goes on or when it ended well. */
  error: string | null;
}

export interface SessionSummary {
  peerNodeId: string | null;
  /** Pulled entries that won the merge here. */
  pulled: number;
  /** Pushed entries that won the merge on the peer (as it reported). */
  pushed: number;
  /** Entries not adopted, here or there, because they are behind a purge horizon. */
  refused: number;
  /** Local entries dropped because the peer purged a newer delete of them. */
  discarded: number;
  /** Round trips. */
  rounds: number;
  /** Bytes (both directions, line ends included) of HELLO, SEGMENTS and DIGESTS. */
  treeBytes: number;
  /** Bytes of GET and PUSH requests and their replies. */
  entryBytes: number;
  /** Bytes of values in the entries moved, both directions. */
  valueBytes: number;
  /** False when something was left for the next session (budget, sizes, round limit). */
  complete: boolean;
}

/** One key to push and what the peer said it holds of it (null: nothing). */
interface PushCandidate {
  key: string;
  peer: Digest | null;
  peerHorizon: number;
}

type Pending =
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

/** What the session should do with the keys of one segment. */
export interface SegmentPlan {
  pull: string[];
  push: PushCandidate[];
  discard: Entry[];
  refused: number;
}

/** Repairs found in one reply, gathered for the step. */
interface Gathered {
  repairs: Entry[];
  discards: Entry[];
}

const TREE_KINDS: ReadonlySet<Pending["kind"]> = new Set(["HELLO", "SEGMENTS", "DIGESTS"]);

export class SyncSession {
  readonly summary: SessionSummary = {
    peerNodeId: null,
    pulled: 0,
    pushed: 0,
    refused: 0,
    discarded: 0,
    rounds: 0,
    treeBytes: 0,
    entryBytes: 0,
    valueBytes: 0,
    complete: true,
  };
  readonly #store: Store;
  readonly #options: SessionOptions;
  #peer: HelloReply | null = null;
  #inFlight: Pending[] = [];
  #started = false;
  #over = false;
  #keysLeft: number;
  readonly #branchQueue = new Fifo<number>();
  readonly #segmentQueue = new Fifo<number>();
  /** Queued segments whose hash is 0 at the peer: it holds none of their keys. */
  readonly #emptyAtPeer = new Set<number>();
  readonly #pullQueue = new Fifo<string>();
  readonly #pushQueue = new Fifo<PushCandidate>();

  constructor(options: SessionOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#keysLeft = options.maxKeysPerSession;
  }

  get isOver(): boolean {
    return this.#over;
  }

  start(): SessionStep {
    assert(!this.#started, "a sync session starts once");
    this.#started = true;
    const line = formatRequest({
      verb: "HELLO",
      nodeId: this.#store.nodeId,
      rootHex: this.#store.rootHex(),
    });
    return this.#send([{ kind: "HELLO" }], [line], { repairs: [], discards: [] });
  }

  /** The replies to the requests of the last step, in order (each: header line first). */
  receive(replies: readonly (readonly string[])[]): SessionStep {
    const pending = this.#inFlight;
    assert(
      !this.#over && replies.length === pending.length,
      `a session receives one reply per request, not ${replies.length} for ${pending.length}`,
    );
    this.#inFlight = [];
    const gathered: Gathered = { repairs: [], discards: [] };
    for (let i = 0; i < pending.length; i++) {
      const lines = replies[i];
      this.#countReplyBytes(pending[i].kind, lines);
      if (lines.length === 0 || lines[0].startsWith("ERROR")) {
        return this.#fail(`peer answered SYNC ${pending[i].kind} with ${lines[0] ?? "nothing"}`);
      }
      const error = this.#handle(pending[i], lines, gathered);
      if (error !== null) {
        return this.#fail(`peer sent a malformed reply to SYNC ${pending[i].kind}: ${error}`);
      }
    }
    return this.#next(gathered);
  }

  /** What merging the last step's repairs did (the caller's applyRemote counts). */
  merged(counts: ApplyCounts): void {
    this.summary.pulled += counts.applied;
  }

  #handle(pending: Pending, lines: readonly string[], gathered: Gathered): string | null {
    switch (pending.kind) {
      case "HELLO":
        return this.#onHello(lines);
      case "SEGMENTS":
        return this.#onSegments(pending.branches, lines);
      case "DIGESTS":
        return this.#onDigests(pending, lines, gathered);
      case "GET":
        return this.#onEntries(pending.keys, lines, gathered);
      case "PUSH":
        return this.#onPushed(pending.entries, lines);
      default: {
        const unreachable: never = pending;
        assert(false, `every pending request kind is handled, not ${JSON.stringify(unreachable)}`);
      }
    }
  }

  #onHello(lines: readonly string[]): string | null {
    const parsed = parseHelloReply(lines);
    if (!parsed.ok) return parsed.error;
    const peer = parsed.value;
    this.summary.peerNodeId = peer.nodeId;
    if (peer.nodeId === this.#store.nodeId) return `the peer is this node (node id ${peer.nodeId})`;
    this.#peer = peer;
    if (peer.rootHex === this.#store.rootHex()) return null;
    if (peer.branches === null) {
      // Our root changed since HELLO left, and matched the peer's then: next session.
      this.summary.complete = false;
      return null;
    }
    if (!rootMatches(peer.branches, peer.rootHex)) return "root is not the XOR of the branches";
    const tree = this.#store.tree;
    for (let branch = 0; branch < 256; branch++) {
      if (
        tree.branchLow[branch] !== peer.branches.low[branch] ||
        tree.branchHigh[branch] !== peer.branches.high[branch]
      ) this.#branchQueue.push(branch);
    }
    return null;
  }

  #onSegments(branches: readonly number[], lines: readonly string[]): string | null {
    const parsed = parseSegmentsReply(lines);
    if (!parsed.ok) return parsed.error;
    const replies = parsed.value;
    if (!sameNumbers(replies.map((reply) => reply.branch), branches)) {
      return "branches differ from those asked for";
    }
    const tree = this.#store.tree;
    for (const { branch, segments } of replies) {
      for (let i = 0; i < 256; i++) {
        const segment = branch * 256 + i;
        const low = segments.low[i];
        const high = segments.high[i];
        if (tree.segmentLow[segment] === low && tree.segmentHigh[segment] === high) continue;
        this.#segmentQueue.push(segment);
        if (low === 0 && high === 0) this.#emptyAtPeer.add(segment);
      }
    }
    return null;
  }

  #onDigests(
    { queries, contents }: Pending & { kind: "DIGESTS" },
    lines: readonly string[],
    gathered: Gathered,
  ): string | null {
    const parsed = parseDigestsReply(lines, this.#options.limits);
    if (!parsed.ok) return parsed.error;
    const covered = parsed.value;
    if (covered.length === 0) return "no segment in the reply";
    const segments = queries.map((query) => query.segment);
    if (!sameNumbers(covered.map((reply) => reply.segment), segments.slice(0, covered.length))) {
      return "segments differ from those asked for";
    }
    // The peer stops at its reply size limit; ask for the rest in the next round trip.
    this.#segmentQueue.pushAll(segments.slice(covered.length));
    for (let i = 0; i < covered.length; i++) {
      const segmentDigests = covered[i];
      const { segment, listed } = segmentDigests;
      if (listed !== ALL_SUB_BUCKETS && queries[i].subHashes === null) {
        return `segment ${segment} lists some sub-buckets, but was asked for whole`;
      }
      const error = checkDigestKeys(this.#store, segmentDigests);
      if (error !== null) return error;
      // Only the listed sub-buckets differ; the others hold the same entries on both sides.
      // The entries listed when the hashes were computed are the stored objects, so their
      // versions are current; a key added since is left to the next session.
      const local = listed === ALL_SUB_BUCKETS
        ? this.#store.segmentEntries(segment)
        : entriesListed(contents[i] as SegmentContents, listed);
      const plan = planSegment(
        local,
        segmentDigests,
        this.#store.purgeHorizon(segment),
        this.#store.nowMs(),
        this.#options.tombstoneGraceMs,
      );
      this.#adoptPlan(plan, gathered);
    }
    return null;
  }

  /** Queues a segment's pulls and pushes within the session's key budget. */
  #adoptPlan(plan: SegmentPlan, gathered: Gathered): void {
    this.summary.refused += plan.refused;
    this.summary.discarded += plan.discard.length;
    gathered.discards.push(...plan.discard);
    const wanted = plan.pull.length + plan.push.length;
    if (wanted > this.#keysLeft) this.summary.complete = false;
    const pulls = plan.pull.slice(0, this.#keysLeft);
    this.#keysLeft -= pulls.length;
    const pushes = plan.push.slice(0, this.#keysLeft);
    this.#keysLeft -= pushes.length;
    this.#pullQueue.pushAll(pulls);
    this.#pushQueue.pushAll(pushes);
  }

  #onEntries(keys: readonly string[], lines: readonly string[], gathered: Gathered): string | null {
    const parsed = parseEntriesReply(lines, this.#options.limits);
    if (!parsed.ok) return parsed.error;
    const asked = new Set(keys);
    const seen = new Set<string>();
    for (const entry of parsed.value) {
      if (!asked.has(entry.key) || seen.has(entry.key)) {
        return `entry for a key not asked for: "${entry.key.slice(0, 64)}"`;
      }
      seen.add(entry.key);
      // Checked again now: our side may have purged since the digests were compared.
      if (isBehindHorizon(this.#store, entry.key, entry.hlc)) {
        this.summary.refused++;
        continue;
      }
      gathered.repairs.push(entry);
      this.summary.valueBytes += entry.value?.length ?? 0;
    }
    // Held back by the peer's reply size limit (or purged there meanwhile): next session.
    if (seen.size < asked.size) this.summary.complete = false;
    return null;
  }

  #onPushed(entries: readonly Entry[], lines: readonly string[]): string | null {
    const parsed = parsePushedReply(lines);
    if (!parsed.ok) return parsed.error;
    const { applied, stale, future, refused } = parsed.value;
    if (applied + stale + future + refused !== entries.length) {
      return `counts add up to ${applied + stale + future + refused}, sent ${entries.length}`;
    }
    this.summary.pushed += applied;
    this.summary.refused += refused;
    return null;
  }

  /** The next round's requests, from every queue, within the per-round limits. */
  #next(gathered: Gathered): SessionStep {
    if (this.summary.rounds >= MAX_ROUNDS_PER_SESSION) {
      if (this.#hasWork()) this.summary.complete = false;
      return this.#finish(gathered);
    }
    if (this.#keysLeft === 0 && (this.#segmentQueue.length > 0 || this.#branchQueue.length > 0)) {
      // The key budget is spent: comparing more of the tree would find work for next time.
      this.#segmentQueue.clear();
      this.#branchQueue.clear();
      this.summary.complete = false;
    }
    const pending: Pending[] = [];
    const lines: string[] = [];
    const room = () => lines.length < MAX_REQUESTS_PER_ROUND;
    while (room() && this.#pushQueue.length > 0) this.#addPush(pending, lines);
    while (room() && this.#pullQueue.length > 0) this.#addGet(pending, lines);
    while (room() && this.#segmentQueue.length > 0) this.#addDigests(pending, lines);
    while (room() && this.#branchQueue.length > 0) {
      const branches = this.#branchQueue.take(MAX_BRANCHES_PER_REQUEST);
      pending.push({ kind: "SEGMENTS", branches });
      lines.push(formatRequest({ verb: "SEGMENTS", branches }));
    }
    if (lines.length === 0) return this.#finish(gathered);
    return this.#send(pending, lines, gathered);
  }

  #hasWork(): boolean {
    return this.#pushQueue.length + this.#pullQueue.length + this.#segmentQueue.length +
        this.#branchQueue.length > 0;
  }

  /** Longest GET or PUSH line the peer takes (its max_line_bytes, less the line end). */
  #lineBudget(): number {
    const peerLimit = (this.#peer as HelloReply).maxLineBytes - 2;
    return Math.min(peerLimit, MAX_REQUEST_LINE_BYTES);
  }

  /** One PUSH line: entries read from the store now, each still newer than the peer's. */
  #addPush(pending: Pending[], lines: string[]): void {
    const budget = this.#lineBudget();
    const entries: Entry[] = [];
    // "SYNC PUSH 2 " + a count of at most 3 digits and a space.
    let length = `SYNC PUSH ${SYNC_PROTOCOL_VERSION} `.length + 4;
    while (this.#pushQueue.length > 0 && entries.length < MAX_ENTRIES_PER_PUSH) {
      const entry = this.#entryToPush(this.#pushQueue.peek());
      const size = entry === null ? 0 : formatEntry(entry).length + 1;
      if (entry !== null && length + size > budget && entries.length > 0) break;
      this.#pushQueue.shift();
      if (entry === null) continue;
      if (length + size > budget) {
        // Too large for one line at the peer: it can still pull it in its own sessions.
        this.summary.complete = false;
        continue;
      }
      entries.push(entry);
      length += size;
      this.summary.valueBytes += entry.value?.length ?? 0;
    }
    if (entries.length === 0) return;
    pending.push({ kind: "PUSH", entries });
    lines.push(formatRequest({ verb: "PUSH", entries }));
  }

  /**
   * The local entry of a push candidate, read now, if it is still worth sending: newer than
   * what the peer said it holds, and not one the peer would refuse or purge on arrival.
   */
  #entryToPush(candidate: PushCandidate): Entry | null {
    const local = this.#store.entry(candidate.key);
    if (local === undefined) return null;
    const digest = digestOf(local);
    if (candidate.peer !== null) return compareDigests(digest, candidate.peer) > 0 ? local : null;
    const nowMs = this.#store.nowMs();
    const grace = this.#options.tombstoneGraceMs;
    if (isPastGrace(digest, nowMs, grace)) return null;
    const behind = candidate.peerHorizon !== 0 && local.hlc <= candidate.peerHorizon;
    return behind && isOlderThanGrace(local.hlc, nowMs, grace) ? null : local;
  }

  /**
   * One DIGESTS line. A segment that holds at least MIN_ENTRIES_FOR_SUB_HASHES entries here
   * goes with its sub-bucket hashes, unless the peer holds none of its keys (every sub-bucket
   * differs then, as when copying to an empty node) or they would not fit the peer's line.
   */
  #addDigests(pending: Pending[], lines: string[]): void {
    const budget = this.#lineBudget();
    const queries: DigestsQuery[] = [];
    const contents: (SegmentContents | null)[] = [];
    let length = `SYNC DIGESTS ${SYNC_PROTOCOL_VERSION}`.length;
    while (this.#segmentQueue.length > 0 && queries.length < MAX_SEGMENTS_PER_REQUEST) {
      const segment = this.#segmentQueue.peek();
      const bare = 1 + String(segment).length;
      const withHashes = this.#store.segmentSize(segment) >= MIN_ENTRIES_FOR_SUB_HASHES &&
        !this.#emptyAtPeer.has(segment);
      const size = withHashes ? bare + 1 + SUB_HASHES_BASE64_LENGTH : bare;
      if (length + size > budget && queries.length > 0) break;
      this.#segmentQueue.shift();
      if (withHashes && length + size <= budget) {
        const local = this.#store.segmentContents(segment);
        queries.push({ segment, subHashes: local.hashes });
        contents.push(local);
        length += size;
      } else {
        queries.push({ segment, subHashes: null });
        contents.push(null);
        length += bare;
      }
    }
    pending.push({ kind: "DIGESTS", queries, contents });
    lines.push(formatRequest({ verb: "DIGESTS", queries }));
  }

  #addGet(pending: Pending[], lines: string[]): void {
    const budget = this.#lineBudget();
    const keys: string[] = [];
    let length = `SYNC GET ${SYNC_PROTOCOL_VERSION}`.length;
    while (this.#pullQueue.length > 0 && keys.length < MAX_KEYS_PER_GET) {
      const key = this.#pullQueue.peek();
      if (length + 1 + key.length > budget && keys.length > 0) break;
      this.#pullQueue.shift();
      if (length + 1 + key.length > budget) {
        this.summary.complete = false;
        continue;
      }
      keys.push(key);
      length += 1 + key.length;
    }
    if (keys.length === 0) return;
    pending.push({ kind: "GET", keys });
    lines.push(formatRequest({ verb: "GET", keys }));
  }

  #send(pending: Pending[], lines: string[], gathered: Gathered): SessionStep {
    this.#inFlight = pending;
    this.summary.rounds++;
    for (let i = 0; i < lines.length; i++) {
      this.#countBytes(pending[i].kind, lines[i].length + 2);
    }
    return { requests: lines, repairs: gathered.repairs, discards: gathered.discards, error: null };
  }

  #finish(gathered: Gathered): SessionStep {
    this.#over = true;
    return { requests: [], repairs: gathered.repairs, discards: gathered.discards, error: null };
  }

  #fail(error: string): SessionStep {
    this.#over = true;
    this.summary.complete = false;
    return { requests: [], repairs: [], discards: [], error };
  }

  #countReplyBytes(kind: Pending["kind"], lines: readonly string[]): void {
    let bytes = 0;
    for (const line of lines) bytes += line.length + 2;
    this.#countBytes(kind, bytes);
  }

  #countBytes(kind: Pending["kind"], bytes: number): void {
    if (TREE_KINDS.has(kind)) this.summary.treeBytes += bytes;
    else this.summary.entryBytes += bytes;
  }
}

/**
 * Compares one segment's entries here with the peer's digests of it. Newer wins both ways;
 * a key only one side holds goes to the other, unless it is past its grace period (it would
 * be purged on arrival) or behind the receiver's purge horizon (it may be a deleted key; then
 * the holder drops it, see README, Tombstone grace and resurrection).
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
      if (order < 0) plan.pull.push(entry.key);
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

/** First in, first out, with O(1) removal from the front (work lists can hold 10^5 items). */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  pushAll(items: readonly T[]): void {
    for (const item of items) this.#items.push(item);
  }

  peek(): T {
    return this.#items[this.#head];
  }

  shift(): T {
    return this.take(1)[0];
  }

  take(count: number): T[] {
    const taken = this.#items.slice(this.#head, this.#head + count);
    this.#head += taken.length;
    // Drop the consumed front once it is most of the array.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

function rootMatches(branches: HashList, rootHex: string): boolean {
  let low = 0;
  let high = 0;
  for (let i = 0; i < 256; i++) {
    low ^= branches.low[i];
    high ^= branches.high[i];
  }
  return hashToHex(low, high) === rootHex;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
