/**
 * Anti-entropy: the periodic loop, the operator's `SYNC <host> <port>`, and the answers to
 * peers' `SYNC <VERB> ...` requests (see docs/anti-entropy.md). Wires the pure parts (codec,
 * session, answer, peers, status) to the edges (peer link, loop) and keeps one rule: never
 * two sessions at once (turns.ts). An operator's SYNC reaches only known peers unless
 * anti_entropy.allow_any_sync_target is set, and at most anti_entropy.max_queued_syncs wait.
 */

import { Histogram, SESSION_BOUNDS_SECONDS } from "../metrics/mod.ts";
import type { Config } from "../config/mod.ts";
import type { ClientTls } from "../client/mod.ts";
import type { Logger } from "../log.ts";
import { errorReply, type InfoField } from "../protocol/mod.ts";
import type { Entry, RemoteApplier, Store } from "../store/mod.ts";
import { answerSyncRequest } from "./answer.ts";
import { MAX_PEERS_PER_ROUND, MAX_SYNC_REPLY_BYTES, MAX_TRACKED_PEERS } from "./limits.ts";
import { AntiEntropyLoop } from "./loop.ts";
import { runSessionWithPeer } from "./peer_link.ts";
import {
  formatPeerAddress,
  isKnownPeer,
  parsePeerAddress,
  type PeerAddress,
  peerCandidates,
  shuffled,
  withoutBrackets,
} from "./peers.ts";
import { SyncSession } from "./session.ts";
import { describeOutcome, type PeerSyncView, type SessionReport, SyncStatus } from "./status.ts";

export type { PeerSyncView } from "./status.ts";
import { SessionTurns, type TurnPriority } from "./turns.ts";
import { ModeAgreement } from "../conflicts/mod.ts";

/** The anti-entropy loop and sync protocol, as the node uses them. */
export interface AntiEntropy {
  /** SYNC <host> <port>: one session now; resolves to the full reply text (OK … or ERROR …). */
  runSession(host: string, port: number): Promise<string>;
  /** SYNC <VERB> <args> from a peer: the reply text. */
  answer(verb: string, args: string): string;
  /** Starts a session with some peer as soon as possible (after the broker comes back). */
  syncSoon(): void;
  /** Takes the loop's interval and jitter from the config again (peers are read each round). */
  configChanged(): void;
  infoFields(): InfoField[];
  /** The peers synced with, their roots as last seen (the status page). */
  peers(): PeerSyncView[];
  /** Seconds each session took, whatever its outcome. */
  readonly sessionDurationHistogram: Histogram;
  close(): Promise<void>;
}

/** What anti-entropy needs from the node. */
export interface AntiEntropyContext {
  config: Config;
  store: Store;
  /** Where pulled entries go: merged, then logged. */
  remote: RemoteApplier;
  log: Logger;
  /** The bound client port (differs from config.bindPort when that is 0). */
  clientPort: number;
  /** TLS to peers as of now (certificates re-read at each reload); null or unset: plain TCP. */
  peerTls?: () => ClientTls | null;
  /** conflicts.mode and the peers' check (shared with replication); unset: made here. */
  agreement?: ModeAgreement;
}

export interface AntiEntropyHooks {
  /** Client addresses of nodes announced on the broker ("host:port"). */
  discoveredPeers: () => string[];
}

export interface AntiEntropyOptions {
  /** Peer choice and jitter; Math.random unless a test seeds it. */
  random?: () => number;
}

export function startAntiEntropy(
  context: AntiEntropyContext,
  hooks: AntiEntropyHooks,
  options: AntiEntropyOptions = {},
): AntiEntropy {
  const service = new AntiEntropyService(context, hooks, options.random ?? Math.random);
  service.start();
  return service;
}

class AntiEntropyService implements AntiEntropy {
  readonly #context: AntiEntropyContext;
  readonly #hooks: AntiEntropyHooks;
  readonly #random: () => number;
  readonly #status = new SyncStatus();
  readonly sessionDurationHistogram = new Histogram(SESSION_BOUNDS_SECONDS);
  /** Sessions this node started: the `session` id of their log lines is `<node_id>-<n>`. */
  #sessionsStarted = 0;
  readonly #loop: AntiEntropyLoop;
  readonly #abort = new AbortController();
  /** Addresses whose HELLO carried our own node id (a node listed among its own peers). */
  readonly #selfAddresses = new Set<string>();
  readonly #turns = new SessionTurns();
  /** Sessions started or waiting for their turn; close() waits for them. */
  readonly #sessions = new Set<Promise<unknown>>();
  /** Connections of failed sessions still closing; close() waits for them. */
  readonly #closing = new Set<Promise<void>>();
  #runningWith: string | null = null;
  #closed = false;
  readonly #agreement: ModeAgreement;

  constructor(context: AntiEntropyContext, hooks: AntiEntropyHooks, random: () => number) {
    this.#context = context;
    this.#hooks = hooks;
    this.#random = random;
    this.#agreement = context.agreement ??
      new ModeAgreement(context.config.conflicts.mode, context.log, () => context.store.nowMs());
    const { intervalMs, jitterMs } = context.config.antiEntropy;
    this.#loop = new AntiEntropyLoop({ intervalMs, jitterMs, random, round: () => this.#round() });
  }

  start(): void {
    this.#loop.start();
  }

  async runSession(host: string, port: number): Promise<string> {
    const peer = { host: withoutBrackets(host), port };
    const refusal = this.#refusal(peer);
    if (refusal !== null) return errorReply(refusal);
    const report = await this.#exclusive(peer, "operator");
    if (report.error !== null) {
      return errorReply(`sync with ${report.address} failed: ${report.error}`);
    }
    return describeOutcome(report) + "\r\n";
  }

  answer(verb: string, args: string): string {
    const { store, config, remote, log } = this.#context;
    const result = answerSyncRequest(verb, args, {
      store,
      limits: config.limits,
      maxLineBytes: config.limits.maxLineBytes,
      merge: (entries) => remote.applyRemote(entries),
      agreement: this.#agreement,
    });
    if (result.request === null) log.debug("sync_request_refused", { verb, reply: result.reply });
    else if (result.pushed !== null && result.pushed.applied + result.pushed.refused > 0) {
      log.debug("sync_push_merged", { ...result.pushed });
    }
    return result.reply;
  }

  syncSoon(): void {
    this.#loop.syncSoon();
  }

  configChanged(): void {
    const { intervalMs, jitterMs } = this.#context.config.antiEntropy;
    this.#loop.setTiming(intervalMs, jitterMs);
  }

  infoFields(): InfoField[] {
    return this.#status.infoFields({
      loopOn: this.#loop.isOn,
      intervalMs: this.#context.config.antiEntropy.intervalMs,
      runningWith: this.#runningWith,
      knownPeers: this.#candidates().length,
      syncsWaiting: this.#turns.operatorsWaiting,
    });
  }

  peers(): PeerSyncView[] {
    return this.#status.peers();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    await this.#loop.close();
    await Promise.all(this.#sessions);
    await Promise.all(this.#closing);
  }

  /** Why an operator's SYNC is refused before it waits for its turn, or null. */
  #refusal(peer: PeerAddress): string | null {
    const { antiEntropy } = this.#context.config;
    if (this.#closed) return "anti-entropy is closing";
    // Any client may send SYNC: without this check it could make the node connect anywhere.
    if (
      !antiEntropy.allowAnySyncTarget &&
      !isKnownPeer(peer, antiEntropy.peers, this.#hooks.discoveredPeers())
    ) {
      return `SYNC target ${formatPeerAddress(peer)} is not a known peer ` +
        "(set anti_entropy.allow_any_sync_target = true to allow any)";
    }
    if (this.#turns.operatorsWaiting >= antiEntropy.maxQueuedSyncs) {
      return `too many SYNC commands waiting (max ${antiEntropy.maxQueuedSyncs}, ` +
        "anti_entropy.max_queued_syncs)";
    }
    return null;
  }

  /** One loop round: random peers in turn until one session succeeds, at most a few. */
  async #round(): Promise<void> {
    const order = shuffled(this.#candidates(), this.#random).slice(0, MAX_PEERS_PER_ROUND);
    for (const address of order) {
      if (this.#closed) return;
      // Ahead of waiting operator SYNC commands: they never hold the loop up for long.
      const report = await this.#exclusive(parsePeerAddress(address) as PeerAddress, "loop");
      if (report.error === null) return;
    }
  }

  #candidates(): string[] {
    const excluded = new Set(this.#selfAddresses);
    const port = this.#context.clientPort;
    excluded.add(formatPeerAddress({ host: this.#context.config.bindAddress, port }));
    return peerCandidates(
      this.#context.config.antiEntropy.peers,
      this.#hooks.discoveredPeers(),
      excluded,
    );
  }

  /** Runs a session when its turn comes (see turns.ts): never two at once. */
  #exclusive(peer: PeerAddress, priority: TurnPriority): Promise<SessionReport> {
    const run = (async () => {
      await this.#turns.take(priority);
      try {
        return await this.#runOne(peer);
      } finally {
        this.#turns.release();
      }
    })();
    const tracked = run.catch(() => {});
    this.#sessions.add(tracked);
    tracked.finally(() => this.#sessions.delete(tracked));
    return run;
  }

  async #runOne(peer: PeerAddress): Promise<SessionReport> {
    const { store, config, remote } = this.#context;
    const address = formatPeerAddress(peer);
    const sessionId = `${config.nodeId}-${++this.#sessionsStarted}`;
    const session = new SyncSession({
      store,
      limits: config.limits,
      maxKeysPerSession: config.antiEntropy.maxKeysPerSession,
      tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
      agreement: this.#agreement,
    });
    this.#runningWith = address;
    const report = await runSessionWithPeer(session, peer, {
      merge: (entries) => remote.applyRemote(entries),
      discard: (entries) => discardAll(entries, this.#context),
    }, {
      requestTimeoutMs: config.antiEntropy.requestTimeoutMs,
      sessionTimeoutMs: config.antiEntropy.sessionTimeoutMs,
      // A sync reply stops after MAX_SYNC_REPLY_BYTES plus at most one entry (one line).
      maxReplyBytes: MAX_SYNC_REPLY_BYTES + 2 * config.limits.maxLineBytes,
      signal: this.#abort.signal,
      credentials: config.antiEntropy.password === null ? null : {
        username: config.antiEntropy.username,
        password: config.antiEntropy.password,
      },
      tls: this.#context.peerTls?.() ?? null,
      trackClosing: (closing) => {
        this.#closing.add(closing);
        closing.finally(() => this.#closing.delete(closing));
      },
    });
    this.#runningWith = null;
    this.#afterSession(report, sessionId);
    return report;
  }

  #afterSession(report: SessionReport, sessionId: string): void {
    const { log, config } = this.#context;
    this.#status.record(report);
    this.sessionDurationHistogram.observe(report.durationMs / 1000);
    const summary = report.summary;
    if (summary.peerNodeId === config.nodeId && this.#selfAddresses.size < MAX_TRACKED_PEERS) {
      this.#selfAddresses.add(report.address);
    }
    const fields = {
      session: sessionId,
      peer: report.address,
      peer_node_id: summary.peerNodeId,
      pulled: summary.pulled,
      pushed: summary.pushed,
      refused: summary.refused,
      discarded: summary.discarded,
      rounds: summary.rounds,
      tree_bytes: summary.treeBytes,
      entry_bytes: summary.entryBytes,
      complete: summary.complete,
      ms: Math.round(report.durationMs),
    };
    if (report.error !== null) log.warn("sync_failed", { ...fields, error: report.error });
    else if (summary.pulled + summary.pushed + summary.discarded > 0) {
      log.info("sync_repaired", fields);
    } else log.debug("sync_in_step", fields);
  }
}

/** Drops entries a peer showed to be deleted and purged (counted in the session's log line). */
function discardAll(entries: readonly Entry[], context: AntiEntropyContext): void {
  for (const entry of entries) context.store.discard(entry.key, entry.hlc, entry.node);
}
