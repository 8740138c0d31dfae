/**
 * The answering side of the sync protocol: one request in, its reply text out (see
 * docs/anti-entropy.md, Sync protocol v2). Stateless between requests, so any connection may carry
 * them. No I/O here; merging pushed entries goes through the `merge` handed in (the node's
 * applyRemote, which also logs the winners).
 */

import type { ApplyCounts, Entry, Store } from "../store/mod.ts";
import { errorReply } from "../protocol/mod.ts";
import {
  ALL_SUB_BUCKETS,
  type BranchSegments,
  branchSegmentsOf,
  type DigestsQuery,
  formatDigestsReply,
  formatEntriesReply,
  formatEntry,
  formatHelloReply,
  formatPushedReply,
  formatSegmentsReply,
  parseRequest,
  segmentDigestLines,
  type SyncRequest,
  type WireLimits,
} from "./codec.ts";
import { MAX_SYNC_REPLY_BYTES } from "./limits.ts";
import { differingSubBuckets, entriesListed } from "./sub_buckets.ts";
import { isBehindHorizon } from "./versions.ts";
import { assert } from "../assert.ts";
import type { ModeAgreement } from "../conflicts/mod.ts";

export interface AnswerContext {
  store: Store;
  limits: WireLimits;
  /** This node's limits.max_line_bytes, told to the peer so its lines fit. */
  maxLineBytes: number;
  merge(entries: readonly Entry[]): ApplyCounts;
  /** A HELLO from a peer in another conflicts.mode is refused; unset: none is checked. */
  agreement?: ModeAgreement;
}

/** What one answer did, for logging by the caller. */
export interface AnswerResult {
  reply: string;
  request: SyncRequest | null;
  pushed: ApplyCounts & { refused: number } | null;
}

export function answerSyncRequest(
  verb: string,
  args: string,
  context: AnswerContext,
): AnswerResult {
  const parsed = parseRequest(verb, args, context.limits);
  if (!parsed.ok) return { reply: errorReply(parsed.error), request: null, pushed: null };
  const request = parsed.value;
  switch (request.verb) {
    case "HELLO": {
      const { nodeId, conflictsMode } = request;
      const refusal = context.agreement?.refusal(nodeId, conflictsMode, "sync") ?? null;
      if (refusal !== null) return { reply: errorReply(refusal), request: null, pushed: null };
      return { reply: answerHello(request.rootHex, context), request, pushed: null };
    }
    case "SEGMENTS":
      return { reply: answerSegments(request.branches, context.store), request, pushed: null };
    case "DIGESTS":
      return { reply: answerDigests(request.queries, context.store), request, pushed: null };
    case "GET":
      return { reply: answerGet(request.keys, context.store), request, pushed: null };
    case "PUSH": {
      const pushed = mergePushed(request.entries, context);
      return { reply: formatPushedReply(pushed), request, pushed };
    }
    default: {
      const unreachable: never = request;
      assert(false, `every sync request verb is answered, not ${JSON.stringify(unreachable)}`);
    }
  }
}

function answerHello(requesterRootHex: string, context: AnswerContext): string {
  const { store } = context;
  const rootHex = store.rootHex();
  const tree = store.tree;
  const conflictsMode = context.agreement?.statedMode;
  return formatHelloReply({
    ...(conflictsMode === undefined ? {} : { conflictsMode }),
    nodeId: store.nodeId,
    maxLineBytes: context.maxLineBytes,
    rootHex,
    // Equal roots end the session: no need to send the branches.
    branches: rootHex === requesterRootHex ? null : { low: tree.branchLow, high: tree.branchHigh },
  });
}

function answerSegments(branches: readonly number[], store: Store): string {
  const tree = store.tree;
  const replies: BranchSegments[] = branches.map((branch) => ({
    branch,
    segments: branchSegmentsOf(tree.segmentLow, tree.segmentHigh, branch),
  }));
  return formatSegmentsReply(replies);
}

/**
 * Segments in request order, until the reply passes MAX_SYNC_REPLY_BYTES: each whole, or,
 * when the asker sent its sub-bucket hashes, only the sub-buckets whose hash differs here.
 */
function answerDigests(queries: readonly DigestsQuery[], store: Store): string {
  const blocks: string[][] = [];
  let bytes = 0;
  for (const { segment, subHashes } of queries) {
    if (blocks.length > 0 && bytes >= MAX_SYNC_REPLY_BYTES) break;
    let listed = ALL_SUB_BUCKETS;
    let entries: Entry[];
    if (subHashes === null) entries = store.segmentEntries(segment);
    else {
      const contents = store.segmentContents(segment);
      listed = differingSubBuckets(contents.hashes, subHashes);
      entries = entriesListed(contents, listed);
    }
    const block = segmentDigestLines(segment, store.purgeHorizon(segment), listed, entries);
    for (const line of block) bytes += line.length + 2;
    blocks.push(block);
  }
  return formatDigestsReply(blocks);
}

/** The held entries (tombstones too) of the keys asked for, until past MAX_SYNC_REPLY_BYTES. */
function answerGet(keys: readonly string[], store: Store): string {
  const lines: string[] = [];
  let bytes = 0;
  for (const key of keys) {
    if (lines.length > 0 && bytes >= MAX_SYNC_REPLY_BYTES) break;
    const entry = store.entry(key);
    if (entry === undefined) continue;
    const line = formatEntry(entry);
    bytes += line.length + 2;
    lines.push(line);
  }
  return formatEntriesReply(lines);
}

/**
 * Merges pushed entries (LWW: a loser is never adopted). An entry of a key this node holds
 * nothing of, and not newer than what was purged from its segment here, is refused: it may be
 * a key deleted here whose tombstone is gone (see docs/anti-entropy.md, Tombstone grace and
 * resurrection).
 */
function mergePushed(
  entries: readonly Entry[],
  context: AnswerContext,
): ApplyCounts & { refused: number } {
  const { store } = context;
  const accepted: Entry[] = [];
  let refused = 0;
  for (const entry of entries) {
    if (isBehindHorizon(store, entry.key, entry.hlc)) refused++;
    else accepted.push(entry);
  }
  const counts = context.merge(accepted);
  return { ...counts, refused };
}
