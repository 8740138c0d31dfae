/**
 * The deterministic two-store harness: a session on one store, the answers of another, and the
 * messages passed by hand (through the real command parser and reply framing), with optional
 * message loss and writes between rounds. No sockets, no timers.
 */

import type { ApplyCounts } from "../../src/store/mod.ts";
import { parseCommand } from "../../src/protocol/parse.ts";
import { replyLineCount } from "../../src/protocol/reply.ts";
import { compareEntries, type Entry } from "../../src/store/entry.ts";
import { Store } from "../../src/store/store.ts";
import { answerSyncRequest } from "../../src/anti_entropy/answer.ts";
import { type SessionSummary, SyncSession } from "../../src/anti_entropy/session.ts";
import type { SeededRandom } from "../_support/seeded_random.ts";
export { storeContents as snapshot } from "../_support/store_contents.ts";

export const NOW_MS = 1_700_000_000_000;
export const DAY_MS = 24 * 60 * 60 * 1000;
export const LIMITS = { maxKeyBytes: 1024, maxValueBytes: 1024 * 1024, maxKeysPerCommand: 10_000 };
export const MAX_LINE_BYTES = LIMITS.maxKeyBytes + LIMITS.maxValueBytes + 64;

export class FakeClock {
  constructor(public ms: number = NOW_MS) {}
  nowMs(): number {
    return this.ms;
  }
}

export function makeStore(nodeId: string, clock: FakeClock, graceMs = DAY_MS): Store {
  return new Store({ nodeId, clock, tombstoneGraceMs: graceMs, maxClockSkewMs: 60_000 });
}

/**
 * `count` keys (`<prefix><n>`) that all fall in one segment of `store`'s tree, found by
 * trying keys in turn (about 65,536 tries per key).
 */
export function keysInOneSegment(store: Store, count: number, prefix = "k"): string[] {
  const bySegment = new Map<number, string[]>();
  for (let n = 0;; n++) {
    const key = prefix + n;
    const segment = store.segmentOfKey(key);
    let keys = bySegment.get(segment);
    if (keys === undefined) bySegment.set(segment, keys = []);
    keys.push(key);
    if (keys.length === count) return keys;
  }
}

/** The node's merge (NodeCore.applyRemote without the log). */
export function mergeInto(store: Store, entries: readonly Entry[]): ApplyCounts {
  const counts: ApplyCounts = { applied: 0, stale: 0, future: 0, invalid: 0 };
  for (const entry of entries) counts[store.applyRemote(entry)]++;
  return counts;
}

/** A reply as the client frames it: lines without line ends; the header's count must match. */
export function frameReply(text: string): string[] {
  if (!text.endsWith("\r\n")) throw new Error(`reply without line end: ${text.slice(0, 80)}`);
  const lines = text.slice(0, -2).split("\r\n");
  const header = lines[0];
  if (header === undefined) throw new Error("split() gave no line");
  const expected = replyLineCount(header);
  if (expected !== lines.length - 1 && !(expected === 0 && lines.length === 1)) {
    throw new Error(`reply "${header.slice(0, 40)}" framed as ${expected} lines, has more`);
  }
  return lines;
}

/** The peer side as the node runs it: parse the line as a command, then answer it. */
export function answerLine(line: string, peer: Store, maxLineBytes = MAX_LINE_BYTES): string {
  if (line.length + 2 > maxLineBytes) return "ERROR line too long\r\n";
  const command = parseCommand(line, LIMITS);
  if (command.kind !== "sync_request") throw new Error(`not a sync request: ${line.slice(0, 60)}`);
  return answerSyncRequest(command.verb, command.args, {
    store: peer,
    limits: LIMITS,
    maxLineBytes,
    merge: (entries) => mergeInto(peer, entries),
  }).reply;
}

export interface ByHandOptions {
  maxKeysPerSession?: number;
  graceMs?: number;
  /** Drops each request or reply with this probability; a loss ends the session there. */
  loss?: { random: SeededRandom; probability: number };
  /** Called after the peer answered a round and before the replies reach the session. */
  betweenRounds?: (round: number) => void;
  /** Replaces the peer's reply to a request (for malformed-reply tests). */
  tamper?: (line: string, reply: string) => string;
  peerMaxLineBytes?: number;
}

export interface ByHandResult {
  summary: SessionSummary;
  error: string | null;
  /** True when a lost message ended the session early. */
  lost: boolean;
}

/** Runs one session of `local` against `peer`, passing every message by hand. */
export function syncByHand(local: Store, peer: Store, options: ByHandOptions = {}): ByHandResult {
  const session = new SyncSession({
    store: local,
    limits: LIMITS,
    maxKeysPerSession: options.maxKeysPerSession ?? 100_000,
    tombstoneGraceMs: options.graceMs ?? DAY_MS,
  });
  const lose = () =>
    options.loss !== undefined && options.loss.random.next() < options.loss.probability;
  let step = session.start();
  let round = 0;
  while (step.requests.length > 0) {
    round++;
    const replies: string[][] = [];
    for (const line of step.requests) {
      if (lose()) return { summary: session.summary, error: null, lost: true };
      let reply = answerLine(line, peer, options.peerMaxLineBytes);
      if (options.tamper !== undefined) reply = options.tamper(line, reply);
      if (lose()) return { summary: session.summary, error: null, lost: true };
      replies.push(frameReply(reply));
    }
    options.betweenRounds?.(round);
    step = session.receive(replies);
    if (step.repairs.length > 0) session.merged(mergeInto(local, step.repairs));
    for (const entry of step.discards) local.discard(entry.key, entry.hlc, entry.node);
  }
  return { summary: session.summary, error: step.error, lost: false };
}

/** The model: for each key, the winner of the merge among every entry ever written. */
export class Model {
  readonly winners = new Map<string, Entry>();

  add(entry: Entry): void {
    const stored = entry.value === null ? { ...entry, expiresAtMs: 0 } : { ...entry };
    const current = this.winners.get(entry.key);
    if (current === undefined || compareEntries(stored, current) > 0) {
      this.winners.set(entry.key, stored);
    }
  }

  snapshot(): Entry[] {
    return [...this.winners.values()]
      .map(({ key, value, hlc, node, expiresAtMs }) => ({ key, value, hlc, node, expiresAtMs }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
