/**
 * One anti-entropy session, seen from the node that starts it: a state machine with no
 * sockets and no timers (see docs/anti-entropy.md, Session rounds). `start()` gives the first
 * requests; `receive(replies)` takes the replies to the last requests, in order, and gives the
 * next requests plus the repairs to make now. The peer link sends, waits and merges.
 *
 * Rounds: HELLO (roots, then branch hashes) -> SEGMENTS of divergent branches -> DIGESTS of
 * divergent segments (of their divergent sub-buckets only, for crowded segments) -> GET what
 * the peer has newer and PUSH what we have newer, pipelined.
 * Later rounds mix kinds when the earlier ones did not fit one round trip.
 *
 * This file decides what to ask and when; replies.ts reads the answers (checks them and turns
 * them into work for the queues here).
 */

import type { ApplyCounts, Entry, SegmentContents, Store } from "../store/mod.ts";
import {
  type DigestsQuery,
  formatEntry,
  formatRequest,
  type HelloReply,
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
import {
  type Gathered,
  type Pending,
  type PushCandidate,
  readReply,
  type ReplyContext,
} from "./replies.ts";
import {
  compareDigests,
  digestOf,
  isMergeDifference,
  isOlderThanGrace,
  isPastGrace,
} from "./versions.ts";
import { assert } from "../assert.ts";
import { MODE_MISMATCH, type ModeAgreement } from "../conflicts/mod.ts";

// Planning a segment's repairs belongs to reading the DIGESTS reply; it is a session's rule all
// the same, and callers import it from here.
export { planSegment, type SegmentPlan } from "./replies.ts";

export interface SessionOptions {
  /** Read here; written only by the caller, through the repairs and discards of each step. */
  store: Store;
  limits: WireLimits;
  /** Keys pulled plus pushed at most; the rest is left for the next session. */
  maxKeysPerSession: number;
  tombstoneGraceMs: number;
  /** A peer in another conflicts.mode ends the session at HELLO; unset: none is checked. */
  agreement?: ModeAgreement;
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
  /** The peer's Merkle root as its HELLO reply gave it (before this session's repairs). */
  peerRootHex: string | null;
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

const TREE_KINDS: ReadonlySet<Pending["kind"]> = new Set(["HELLO", "SEGMENTS", "DIGESTS"]);

export class SyncSession {
  readonly summary: SessionSummary = {
    peerNodeId: null,
    peerRootHex: null,
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
  #inFlight: Pending[] = [];
  #started = false;
  #over = false;
  readonly #branchQueue = new Fifo<number>();
  readonly #segmentQueue = new Fifo<number>();
  /** Queued segments whose hash is 0 at the peer: it holds none of their keys. */
  readonly #emptyAtPeer = new Set<number>();
  readonly #pullQueue = new Fifo<string>();
  readonly #pushQueue = new Fifo<PushCandidate>();
  /** What the replies read and change: the peer, the key budget, the queues above, counts. */
  readonly #replyContext: ReplyContext;

  constructor(options: SessionOptions) {
    this.#store = options.store;
    this.#options = options;
    this.#replyContext = {
      store: options.store,
      limits: options.limits,
      tombstoneGraceMs: options.tombstoneGraceMs,
      agreement: options.agreement,
      summary: this.summary,
      peer: null,
      keysLeft: options.maxKeysPerSession,
      branchQueue: this.#branchQueue,
      segmentQueue: this.#segmentQueue,
      emptyAtPeer: this.#emptyAtPeer,
      pullQueue: this.#pullQueue,
      pushQueue: this.#pushQueue,
    };
  }

  get isOver(): boolean {
    return this.#over;
  }

  start(): SessionStep {
    assert(!this.#started, "a sync session starts once");
    this.#started = true;
    const conflictsMode = this.#options.agreement?.statedMode;
    const line = formatRequest({
      verb: "HELLO",
      nodeId: this.#store.nodeId,
      rootHex: this.#store.rootHex(),
      ...(conflictsMode === undefined ? {} : { conflictsMode }),
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
    for (const [i, request] of pending.entries()) {
      const lines = replies[i];
      assert(lines !== undefined, "a session receives one reply per request (checked above)");
      this.#countReplyBytes(request.kind, lines);
      const header = lines[0];
      if (header === undefined || header.startsWith("ERROR")) {
        return this.#fail(`peer answered SYNC ${request.kind} with ${header ?? "nothing"}`);
      }
      const error = readReply(this.#replyContext, request, lines, gathered);
      if (error !== null) {
        // A peer in another conflicts.mode answered well: the refusal is this node's.
        if (error.startsWith(MODE_MISMATCH)) return this.#fail(error);
        return this.#fail(`peer sent a malformed reply to SYNC ${request.kind}: ${error}`);
      }
    }
    return this.#next(gathered);
  }

  /** What merging the last step's repairs did (the caller's applyRemote counts). */
  merged(counts: ApplyCounts): void {
    this.summary.pulled += counts.applied;
  }

  /** The next round's requests, from every queue, within the per-round limits. */
  #next(gathered: Gathered): SessionStep {
    if (this.summary.rounds >= MAX_ROUNDS_PER_SESSION) {
      if (this.#hasWork()) this.summary.complete = false;
      return this.#finish(gathered);
    }
    if (
      this.#replyContext.keysLeft === 0 &&
      (this.#segmentQueue.length > 0 || this.#branchQueue.length > 0)
    ) {
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
    const peerLimit = (this.#replyContext.peer as HelloReply).maxLineBytes - 2;
    return Math.min(peerLimit, MAX_REQUEST_LINE_BYTES);
  }

  /** One PUSH line: entries read from the store now, each still newer than the peer's. */
  #addPush(pending: Pending[], lines: string[]): void {
    const budget = this.#lineBudget();
    const entries: Entry[] = [];
    // "SYNC PUSH 2 " + a count of at most 3 digits and a space.
    let length = `SYNC PUSH ${SYNC_PROTOCOL_VERSION} `.length + 4;
    while (entries.length < MAX_ENTRIES_PER_PUSH) {
      const candidate = this.#pushQueue.peek();
      if (candidate === undefined) break;
      const entry = this.#entryToPush(candidate);
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
    if (candidate.peer !== null) {
      const newer = compareDigests(digest, candidate.peer) > 0;
      return newer || isMergeDifference(digest, candidate.peer) ? local : null;
    }
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
    while (queries.length < MAX_SEGMENTS_PER_REQUEST) {
      const segment = this.#segmentQueue.peek();
      if (segment === undefined) break;
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
    while (keys.length < MAX_KEYS_PER_GET) {
      const key = this.#pullQueue.peek();
      if (key === undefined) break;
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
    for (const [i, line] of lines.entries()) {
      const request = pending[i];
      assert(request !== undefined, "each request line has its pending request");
      this.#countBytes(request.kind, line.length + 2);
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

  /** The first item; undefined when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes the first item and returns it; undefined when empty. */
  shift(): T | undefined {
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
