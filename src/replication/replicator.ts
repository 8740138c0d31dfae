/**
 * MQTT replication (I/O edge): local changes -> outbox -> one batch per tick -> broker; batches
 * from the broker -> decode -> merge (RemoteApplier). Also the node's announcement and the
 * peers announced by others (see docs/replication.md).
 */

import { Histogram, LAG_BOUNDS_SECONDS } from "../metrics/mod.ts";
import type { Buffer } from "node:buffer";
import type { InfoField } from "../protocol/mod.ts";
import { type Entry, hlcToMs, type RemoteApplier } from "../store/mod.ts";
import type { Replicator } from "./mod.ts";
import type { LogFields, Logger } from "../log.ts";
import {
  type AnnouncementOrder,
  changesTopic,
  decodeAnnouncement,
  decodeBatch,
  decodeSignedAnnouncement,
  encodeAnnouncement,
  encodeBatch,
  encodeSignedAnnouncement,
  nodesTopic,
  parseTopic,
  SIGNED_ANNOUNCEMENT_FIRST_BYTE,
  SIGNED_BATCH_FORMAT_VERSION,
  signedParts,
  type TopicKind,
} from "./codec.ts";
import { type DirectoryChange, MAX_DISCOVERED_NODES, PeerDirectory } from "./discovery.ts";
import { Outbox } from "./outbox.ts";
import { SequenceTracker } from "./sequence.ts";
import { hex, type Signer } from "./signing.ts";
import type { ConnectionInfo, Transport } from "./transport.ts";
import type { ModeAgreement } from "../conflicts/mod.ts";

/** One MQTT message carries at most this many encoded entry bytes (one larger entry aside). */
export const MAX_BATCH_BYTES = 256 * 1024;
export const MAX_BATCH_ENTRIES = 8192;
/** Unacknowledged batches at once (lowered to the broker's Receive Maximum if smaller). */
export const MAX_INFLIGHT_MESSAGES = 32;
/** Origins whose sequence numbers are followed; the longest-known is forgotten past this. */
export const MAX_TRACKED_ORIGINS = 1024;
/** close() waits this long for the outbox to drain and again for the disconnect. */
export const CLOSE_TIMEOUT_MS = 2000;
/**
 * Signed messages whose tag is being checked at once; past this a message is dropped (counted;
 * the hole it leaves in sequence numbers brings anti-entropy) rather than queued without end.
 */
export const MAX_PENDING_CHECKS = 10_000;
/** A hole in sequence numbers asks for anti-entropy at most this often. */
const MISSED_SYNC_MIN_INTERVAL_MS = 1000;
/** A warning that repeats (garbage on the topics, clock skew) is logged at most this often. */
const WARNING_INTERVAL_MS = 10_000;
/** Weight of the newest sample in the replication lag moving average. */
const LAG_AVERAGE_WEIGHT = 0.1;

export interface ReplicatorOptions {
  nodeId: string;
  topicPrefix: string;
  maxPendingPublishes: number;
  /** Random per process start: receivers tell a restarted origin from lost changes. */
  incarnation: number;
  /** The "host:port" this node announces for clients and peers. */
  announceAddress: string;
  brokerLabel: string;
  clientId: string;
  remote: RemoteApplier;
  log: Logger;
  /** Asks anti-entropy for a session now (after a reconnect, or changes known to be missed). */
  requestSync: () => void;
  nowMs: () => number;
  /** Signs what is published and checks what is received; null: unsigned, as in format 1. */
  signer: Signer | null;
  /** With a signer, unsigned messages are accepted too (a rolling introduction of keys). */
  acceptUnsigned: boolean;
  /** When this process started (ms): orders its announcements after those of earlier runs. */
  epochMs: number;
  /** conflicts.mode, announced, and checked against each peer's before its changes merge. */
  agreement: ModeAgreement;
}

/** Counters shown in INFO; "events" are changes (entries), "messages" are MQTT messages. */
class Counters {
  eventsPublished = 0;
  eventsApplied = 0;
  eventsIgnored = 0;
  eventsRejected = 0;
  messagesPublished = 0;
  messagesReceived = 0;
  messagesMalformed = 0;
  messagesDuplicate = 0;
  /** Signed messages whose tag is missing or wrong: dropped (see docs/replication-security.md). */
  messagesUnauthenticated = 0;
  /** Signed messages taken without a check, by a node that has no key. */
  messagesUnverified = 0;
  /** Signed announcements older than what was seen of their node (replays): ignored. */
  announcementsStale = 0;
  /** Signed messages dropped because MAX_PENDING_CHECKS were being checked already. */
  messagesDroppedChecking = 0;
  publishFailures = 0;
  sequenceGaps = 0;
  connections = 0;
  lagLastMs = 0;
  lagMaxMs = 0;
  lagAverageMs = 0;
  lagSamples = 0;
}

export class MqttReplicator implements Replicator {
  readonly #options: ReplicatorOptions;
  readonly #outbox: Outbox;
  readonly #sequences = new SequenceTracker(MAX_TRACKED_ORIGINS);
  readonly #directory = new PeerDirectory();
  readonly #counters = new Counters();
  readonly lagHistogram = new Histogram(LAG_BOUNDS_SECONDS);
  readonly #lastWarningMs = new Map<string, number>();
  #transport: Transport | null = null;
  #inflight = 0;
  #maxInflight = MAX_INFLIGHT_MESSAGES;
  #flushTimer: ReturnType<typeof setImmediate> | null = null;
  #onDrained: (() => void) | null = null;
  #lastMissedSyncMs = -Infinity;
  /** When the current broker connection became ready. */
  #connectedAtMs = -Infinity;
  #closed = false;
  /**
   * Signed messages received, in order: each is checked as it arrives (crypto.subtle is
   * async), and handled after those before it, so that one origin's batches stay in order.
   */
  #receiving: Promise<void> = Promise.resolve();
  /** Messages in #receiving not handled yet. */
  #pendingChecks = 0;
  /** Signed batches to publish, in sequence order, each once its tag is written. */
  #publishing: Promise<void> = Promise.resolve();

  constructor(options: ReplicatorOptions) {
    this.#options = options;
    this.#outbox = new Outbox(options.maxPendingPublishes);
  }

  /** Attaches the connection (made by the caller with this object's handlers). */
  attach(transport: Transport): void {
    this.#transport = transport;
  }

  publish(changes: readonly Entry[]): void {
    if (this.#closed || changes.length === 0) return;
    const dropped = this.#outbox.push(changes);
    if (dropped > 0) {
      this.#warn("replication_outbox_overflow", {
        dropped_total: this.#outbox.dropped,
        max_pending_publishes: this.#outbox.capacity,
      });
    }
    this.#scheduleFlush();
  }

  /** Announced peers, and those that left a moment ago (see PeerDirectory.addresses()). */
  discoveredPeers(): string[] {
    const connected = this.#transport?.state === "connected";
    const nowMs = this.#options.nowMs();
    const addresses = this.#directory.addresses(connected, this.#connectedAtMs, nowMs);
    addresses.delete(this.#options.announceAddress);
    return [...addresses];
  }

  setMaxPendingPublishes(count: number): void {
    this.#outbox.capacity = count;
  }

  infoFields(): InfoField[] {
    const counters = this.#counters;
    const peers = this.discoveredPeers();
    return [
      ["replication", "on"],
      ["replication_broker", this.#transport?.state ?? "connecting"],
      ["replication_broker_address", this.#options.brokerLabel],
      ["replication_client_id", this.#options.clientId],
      ["replication_connections", counters.connections],
      ["replication_outbox_changes", this.#outbox.size],
      ["replication_outbox_dropped", this.#outbox.dropped],
      ["replication_inflight_messages", this.#inflight],
      ["replication_events_published", counters.eventsPublished],
      ["replication_events_applied", counters.eventsApplied],
      ["replication_events_ignored", counters.eventsIgnored],
      ["replication_events_rejected", counters.eventsRejected],
      ["replication_messages_published", counters.messagesPublished],
      ["replication_messages_received", counters.messagesReceived],
      ["replication_messages_malformed", counters.messagesMalformed],
      ["replication_messages_duplicate", counters.messagesDuplicate],
      ["replication_messages_unauthenticated", counters.messagesUnauthenticated],
      ["replication_messages_unverified", counters.messagesUnverified],
      ["replication_announcements_stale", counters.announcementsStale],
      ["replication_messages_dropped_checking", counters.messagesDroppedChecking],
      ...this.#signingFields(),
      ["replication_publish_failures", counters.publishFailures],
      ["replication_sequence_gaps", counters.sequenceGaps],
      ["replication_lag_ms", counters.lagLastMs],
      ["replication_lag_avg_ms", Math.round(counters.lagAverageMs * 100) / 100],
      ["replication_lag_max_ms", counters.lagMaxMs],
      ["replication_peer_count", peers.length],
      ["replication_peers", peers.join(",")],
    ];
  }

  /** Hands what waits to the broker (bounded by CLOSE_TIMEOUT_MS), clears the announcement. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#flushTimer !== null) clearImmediate(this.#flushTimer);
    this.#flushTimer = null;
    const transport = this.#transport;
    if (transport === null) return await this.#settled();
    if (transport.state === "connected") {
      this.#maxInflight = Number.MAX_SAFE_INTEGER;
      this.#flush();
      await this.#drained(CLOSE_TIMEOUT_MS);
    }
    // The announcement of this connection goes out before the "gone" that replaces it.
    await this.#publishing;
    const nodes = nodesTopic(this.#options.topicPrefix, this.#options.nodeId);
    const gone = await this.goneMessage(this.#counters.connections);
    await transport.close({ topic: nodes, payload: gone }, CLOSE_TIMEOUT_MS);
    await this.#settled();
  }

  /**
   * What clears this node's announcement (its last will for connection `connection`, and its
   * clean stop): empty when unsigned; else a signed "gone" of that connection's order, which a
   * receiver applies only to the announcements of that connection or before.
   */
  async goneMessage(connection: number): Promise<Uint8Array> {
    const signer = this.#options.signer;
    if (signer === null) return new Uint8Array(0);
    const order = { epochMs: this.#options.epochMs, connection: Math.max(1, connection) };
    const message = encodeSignedAnnouncement(
      { nodeId: this.#options.nodeId, address: null, order },
      signer.keyId,
    );
    await signer.sign(message);
    return message;
  }

  /** Transport event: connected and subscribed. */
  onReady(info: ConnectionInfo): void {
    if (this.#closed) return;
    const connection = ++this.#counters.connections;
    this.#connectedAtMs = this.#options.nowMs();
    this.#maxInflight = Math.max(1, Math.min(MAX_INFLIGHT_MESSAGES, info.receiveMaximum));
    this.#announce(connection);
    this.#scheduleFlush();
    // Whatever was published while we were away and the broker did not keep: repair it now.
    this.#options.requestSync();
  }

  /** Publishes the announcement of this connection; signed, also the will of the next one. */
  #announce(connection: number): void {
    const { topicPrefix, nodeId, announceAddress: address, signer } = this.#options;
    const topic = nodesTopic(topicPrefix, nodeId);
    const conflictsMode = this.#options.agreement.mode;
    const done = (error: string | null) => {
      if (error !== null) this.#warn("replication_announce_failed", { reason: error });
    };
    if (signer === null) {
      const announcement = encodeAnnouncement({ nodeId, address, conflictsMode });
      this.#transport?.publish(topic, announcement, true, done);
      return;
    }
    const order = { epochMs: this.#options.epochMs, connection };
    const message = encodeSignedAnnouncement(
      { nodeId, address, order, conflictsMode },
      signer.keyId,
    );
    this.#publishing = this.#publishing.then(async () => {
      await signer.sign(message);
      this.#transport?.publish(topic, message, true, done);
      // The broker holds this connection's will already; the next connection gets the next.
      this.#transport?.setWill(await this.goneMessage(connection + 1));
    }).catch((error) => done(`cannot sign the announcement: ${error}`));
  }

  /** Resolves when every signed message received or sent so far has been handled. */
  async #settled(): Promise<void> {
    await this.#receiving;
    await this.#publishing;
  }

  /** Transport event: a ready connection was lost. Changes wait in the outbox meanwhile. */
  onLost(): void {
    if (this.#flushTimer !== null) clearImmediate(this.#flushTimer);
    this.#flushTimer = null;
  }

  /**
   * Transport event: a message on one of our subscriptions. With a key, a signed message is
   * handled once its tag checks out, an unsigned one only with accept_unsigned; without a key,
   * signed messages are taken unchecked and counted (see docs/replication-security.md).
   */
  onMessage(topic: string, payload: Uint8Array): void {
    if (this.#closed) return;
    this.#counters.messagesReceived++;
    const parsed = parseTopic(this.#options.topicPrefix, topic);
    if (parsed === null) return this.#malformed(topic, "unexpected topic");
    const firstByte = parsed.kind === "changes"
      ? SIGNED_BATCH_FORMAT_VERSION
      : SIGNED_ANNOUNCEMENT_FIRST_BYTE;
    const parts = signedParts(payload, firstByte);
    const signer = this.#options.signer;
    if (signer === null) {
      if (parts !== null) this.#counters.messagesUnverified++;
      return this.#dispatch(parsed.kind, topic, parsed.nodeId, payload);
    }
    if (parts === null) {
      if (!this.#options.acceptUnsigned) return this.#unauthenticated(topic, "not signed");
      return this.#dispatch(parsed.kind, topic, parsed.nodeId, payload);
    }
    if (this.#pendingChecks >= MAX_PENDING_CHECKS) return this.#droppedChecking(parsed.nodeId);
    this.#pendingChecks++;
    const checked = signer.verify(parts);
    this.#receiving = this.#receiving.then(() => checked).then((problem) => {
      if (this.#closed) return;
      if (problem !== null) return this.#unauthenticated(topic, problem);
      this.#dispatch(parsed.kind, topic, parsed.nodeId, payload);
    }).catch((error) => this.#unauthenticated(topic, `cannot check the tag: ${error}`))
      .finally(() => this.#pendingChecks--);
  }

  /** The next batch of that origin shows the hole, which asks anti-entropy to repair it. */
  #droppedChecking(origin: string): void {
    this.#counters.messagesDroppedChecking++;
    this.#warn("replication_checks_overloaded", { origin, max_pending: MAX_PENDING_CHECKS });
  }

  #dispatch(kind: TopicKind, topic: string, topicNodeId: string, payload: Uint8Array): void {
    if (kind === "changes") this.#receiveBatch(topic, topicNodeId, payload);
    else if (payload[0] === SIGNED_ANNOUNCEMENT_FIRST_BYTE) {
      this.#receiveSignedAnnouncement(topic, topicNodeId, payload);
    } else this.#receiveAnnouncement(topic, topicNodeId, payload);
  }

  #unauthenticated(topic: string, reason: string): void {
    this.#counters.messagesUnauthenticated++;
    this.#warn("replication_message_unauthenticated", { topic: topic.slice(0, 200), reason });
  }

  #receiveBatch(topic: string, topicNodeId: string, payload: Uint8Array): void {
    const decoded = decodeBatch(payload);
    if (!decoded.ok) return this.#malformed(topic, decoded.error);
    const batch = decoded.batch;
    if (batch.origin !== topicNodeId) {
      return this.#malformed(topic, `origin "${batch.origin}" does not match the topic`);
    }
    const counters = this.#counters;
    // No Local keeps our own batches away; a bridge loop could still bring them back.
    if (batch.origin === this.#options.nodeId) {
      counters.eventsIgnored += batch.entries.length;
      return;
    }
    // Merged as before while the origin's announcement is unseen: it is published first.
    const mode = this.#directory.conflictsModeOf(batch.origin);
    if (mode !== undefined && !this.#options.agreement.agrees(batch.origin, mode, "replication")) {
      counters.eventsRejected += batch.entries.length;
      return;
    }
    const verdict = this.#sequences.observe(
      batch.origin,
      batch.incarnation,
      batch.firstSequence,
      batch.entries.length,
    );
    if (verdict.duplicate) counters.messagesDuplicate++;
    if (verdict.missed > 0) this.#missed(batch.origin, verdict.missed);
    // Merging is idempotent, so duplicates are merged again: a version refused as too far in
    // the future then may be acceptable now.
    const counts = this.#options.remote.applyRemote(batch.entries);
    counters.eventsApplied += counts.applied;
    counters.eventsIgnored += counts.stale;
    counters.eventsRejected += counts.future;
    if (counts.future > 0) {
      this.#warn("replication_clock_skew", { origin: batch.origin, rejected: counts.future });
    }
    if (counts.applied > 0) this.#recordLag(batch.entries);
  }

  /** Format 1: JSON, or empty for "gone". */
  #receiveAnnouncement(topic: string, topicNodeId: string, payload: Uint8Array): void {
    const decoded = decodeAnnouncement(payload);
    if (!decoded.ok) return this.#malformed(topic, decoded.error);
    const announcement = decoded.announcement;
    if (announcement !== null && announcement.nodeId !== topicNodeId) {
      return this.#malformed(topic, `node_id "${announcement.nodeId}" does not match the topic`);
    }
    this.#applyAnnouncement(topicNodeId, announcement?.address ?? null, null, announcement);
  }

  /** Format 2: signed, with an order; its tag was checked before (if this node has keys). */
  #receiveSignedAnnouncement(topic: string, topicNodeId: string, payload: Uint8Array): void {
    const decoded = decodeSignedAnnouncement(payload);
    if (!decoded.ok) return this.#malformed(topic, decoded.error);
    const { nodeId, address, order } = decoded.announcement;
    if (nodeId !== topicNodeId) {
      return this.#malformed(topic, `node_id "${nodeId}" does not match the topic`);
    }
    this.#applyAnnouncement(nodeId, address, order, decoded.announcement);
  }

  /** A node announced at `address` in a mode, or gone (null). */
  #applyAnnouncement(
    nodeId: string,
    address: string | null,
    order: AnnouncementOrder | null,
    mode: { conflictsMode?: string | null } | null,
  ): void {
    if (nodeId === this.#options.nodeId) return;
    const log = this.#options.log;
    const known = this.#directory.addressOf(nodeId);
    const conflictsMode = mode?.conflictsMode ?? null;
    const change: DirectoryChange = address === null
      ? this.#directory.depart(nodeId, order, this.#options.nowMs())
      : this.#directory.announce(nodeId, address, order, conflictsMode);
    if (change === "announced" || change === "unchanged") {
      // The mode held (a replayed signed announcement changes nothing, its mode included).
      const held = this.#directory.conflictsModeOf(nodeId) ?? null;
      this.#options.agreement.agrees(nodeId, held, "replication");
    }
    switch (change) {
      case "announced":
        return log.info("replication_peer_announced", { peer: nodeId, address: address ?? "" });
      case "gone":
        return log.info("replication_peer_gone", { peer: nodeId, address: known ?? "" });
      case "stale":
        this.#counters.announcementsStale++;
        return this.#warn("replication_announcement_stale", {
          peer: nodeId,
          epoch_ms: order?.epochMs ?? 0,
          connection: order?.connection ?? 0,
        });
      case "full":
        return this.#warn("replication_too_many_peers", { max: MAX_DISCOVERED_NODES });
      case "unchanged":
        return;
      default: {
        const unhandled: never = change;
        return unhandled;
      }
    }
  }

  #malformed(topic: string, reason: string): void {
    this.#counters.messagesMalformed++;
    // A malformed batch counts as one rejected event: how many changes it held is unknown.
    this.#counters.eventsRejected++;
    this.#warn("replication_message_rejected", { topic: topic.slice(0, 200), reason });
  }

  #missed(origin: string, missed: number): void {
    this.#counters.sequenceGaps += missed;
    this.#warn("replication_changes_missed", { origin, missed });
    const nowMs = this.#options.nowMs();
    if (nowMs - this.#lastMissedSyncMs < MISSED_SYNC_MIN_INTERVAL_MS) return;
    this.#lastMissedSyncMs = nowMs;
    this.#options.requestSync();
  }

  /** Lag of a batch: now minus the wall time of its newest version (ms resolution). */
  #recordLag(entries: readonly Entry[]): void {
    let newest = 0;
    for (const entry of entries) if (entry.hlc > newest) newest = entry.hlc;
    const lagMs = Math.max(0, this.#options.nowMs() - hlcToMs(newest));
    const counters = this.#counters;
    counters.lagLastMs = lagMs;
    if (lagMs > counters.lagMaxMs) counters.lagMaxMs = lagMs;
    counters.lagAverageMs = counters.lagSamples === 0
      ? lagMs
      : counters.lagAverageMs + LAG_AVERAGE_WEIGHT * (lagMs - counters.lagAverageMs);
    counters.lagSamples++;
    this.lagHistogram.observe(lagMs / 1000);
  }

  #scheduleFlush(): void {
    if (this.#flushTimer !== null || this.#outbox.size === 0) return;
    if (this.#transport?.state !== "connected") return;
    // One tick collects the changes of every chunk processed in it into one message.
    this.#flushTimer = setImmediate(() => {
      this.#flushTimer = null;
      this.#flush();
    });
  }

  #flush(): void {
    const transport = this.#transport;
    if (transport === null) return;
    const topic = changesTopic(this.#options.topicPrefix, this.#options.nodeId);
    while (transport.state === "connected" && this.#inflight < this.#maxInflight) {
      const batch = this.#outbox.take(MAX_BATCH_ENTRIES, MAX_BATCH_BYTES);
      if (batch === null) break;
      const signer = this.#options.signer;
      const payload: Buffer = encodeBatch({
        origin: this.#options.nodeId,
        incarnation: this.#options.incarnation,
        firstSequence: batch.firstSequence,
        entries: batch.entries,
      }, signer?.keyId ?? null);
      this.#inflight++;
      const count = batch.entries.length;
      const done = (error: string | null) => this.#acknowledged(count, error);
      if (signer === null) transport.publish(topic, payload, false, done);
      else this.#publishSigned(signer, topic, payload, done);
    }
  }

  /** Signs now (in parallel with the batches before), publishes after the ones before. */
  #publishSigned(
    signer: Signer,
    topic: string,
    payload: Buffer,
    done: (error: string | null) => void,
  ): void {
    const signed = signer.sign(payload);
    this.#publishing = this.#publishing.then(() => signed).then(
      () => this.#transport?.publish(topic, payload, false, done),
      (error) => done(`cannot sign the batch: ${error}`),
    );
  }

  /** INFO fields of signing: never a key, only the id of the one that signs. */
  #signingFields(): InfoField[] {
    const signer = this.#options.signer;
    return [
      ["replication_signing", signer === null ? "off" : "on"],
      ["replication_signing_key_id", signer === null ? "" : hex(signer.keyId)],
      ["replication_signing_keys", signer?.keyCount ?? 0],
      [
        "replication_accept_unsigned",
        signer === null || this.#options.acceptUnsigned ? "yes" : "no",
      ],
    ];
  }

  #acknowledged(count: number, error: string | null): void {
    this.#inflight--;
    if (error === null) {
      this.#counters.eventsPublished += count;
      this.#counters.messagesPublished++;
    } else {
      // Lost for replication; the receivers see the hole and anti-entropy repairs it.
      this.#counters.publishFailures += count;
      this.#warn("replication_publish_failed", { reason: error, changes: count });
    }
    if (this.#inflight === 0 && this.#onDrained !== null) this.#onDrained();
    if (this.#closed) this.#flush();
    else this.#scheduleFlush();
  }

  /** Resolves when nothing is in flight and the outbox is empty, or after timeoutMs. */
  #drained(timeoutMs: number): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const outbox = this.#outbox;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#onDrained = () => {
        if (outbox.size === 0) done();
      };
    });
  }

  /** Logs a warning, then at most once per WARNING_INTERVAL_MS for the same event. */
  #warn(event: string, fields: LogFields): void {
    const nowMs = this.#options.nowMs();
    const last = this.#lastWarningMs.get(event) ?? -Infinity;
    if (nowMs - last < WARNING_INTERVAL_MS) {
      this.#options.log.debug(event, fields);
      return;
    }
    this.#lastWarningMs.set(event, nowMs);
    this.#options.log.warn(event, fields);
  }
}
