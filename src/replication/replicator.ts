/**
 * MQTT replication (I/O edge): local changes -> outbox -> one batch per tick -> broker; batches
 * from the broker -> decode -> merge (RemoteApplier). Also the node's announcement and the
 * peers announced by others (see README, Replication).
 */

import { Histogram, LAG_BOUNDS_SECONDS } from "../metrics/mod.ts";
import type { Buffer } from "node:buffer";
import type { InfoField } from "../protocol/mod.ts";
import { type Entry, hlcToMs, type RemoteApplier } from "../store/mod.ts";
import type { Replicator } from "./mod.ts";
import type { LogFields, Logger } from "../log.ts";
import {
  changesTopic,
  decodeAnnouncement,
  decodeBatch,
  encodeAnnouncement,
  encodeBatch,
  nodesTopic,
  parseTopic,
} from "./codec.ts";
import { Outbox } from "./outbox.ts";
import { SequenceTracker } from "./sequence.ts";
import type { ConnectionInfo, Transport } from "./transport.ts";

/** One MQTT message carries at most this many encoded entry bytes (one larger entry aside). */
export const MAX_BATCH_BYTES = 256 * 1024;
export const MAX_BATCH_ENTRIES = 8192;
/** Unacknowledged batches at once (lowered to the broker's Receive Maximum if smaller). */
export const MAX_INFLIGHT_MESSAGES = 32;
/** Announced nodes remembered; more are ignored (a cluster this large is not expected). */
export const MAX_DISCOVERED_NODES = 1024;
/** A cleared announcement keeps the peer in discoveredPeers() this long (see there). */
export const PEER_DEPARTED_GRACE_MS = 5000;
/** Origins whose sequence numbers are followed; the longest-known is forgotten past this. */
export const MAX_TRACKED_ORIGINS = 1024;
/** close() waits this long for the outbox to drain and again for the disconnect. */
export const CLOSE_TIMEOUT_MS = 2000;
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
  /** Announced nodes: node id -> client address. */
  readonly #peers = new Map<string, string>();
  /** Nodes whose announcement was cleared (a will or a clean close), bounded like #peers. */
  readonly #departed = new Map<string, { address: string; atMs: number }>();
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

  /**
   * Announced peers, plus those whose announcement was cleared while the broker is away or less
   * than PEER_DEPARTED_GRACE_MS before now (counting from the current connection at most): a
   * broker that shuts down publishes every client's will first, and anti-entropy needs the
   * peers most exactly then, until they announce themselves again.
   */
  discoveredPeers(): string[] {
    const addresses = new Set(this.#peers.values());
    const connected = this.#transport?.state === "connected";
    const nowMs = this.#options.nowMs();
    for (const [nodeId, departure] of this.#departed) {
      const sinceMs = Math.max(departure.atMs, this.#connectedAtMs);
      if (!connected || nowMs - sinceMs < PEER_DEPARTED_GRACE_MS) {
        addresses.add(departure.address);
      } else {
        this.#departed.delete(nodeId);
      }
    }
    addresses.delete(this.#options.announceAddress);
    return [...addresses];
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
    if (transport === null) return;
    if (transport.state === "connected") {
      this.#maxInflight = Number.MAX_SAFE_INTEGER;
      this.#flush();
      await this.#drained(CLOSE_TIMEOUT_MS);
    }
    const nodes = nodesTopic(this.#options.topicPrefix, this.#options.nodeId);
    await transport.close({ topic: nodes, payload: new Uint8Array(0) }, CLOSE_TIMEOUT_MS);
  }

  /** Transport event: connected and subscribed. */
  onReady(info: ConnectionInfo): void {
    if (this.#closed) return;
    this.#counters.connections++;
    this.#connectedAtMs = this.#options.nowMs();
    this.#maxInflight = Math.max(1, Math.min(MAX_INFLIGHT_MESSAGES, info.receiveMaximum));
    const { topicPrefix, nodeId, announceAddress } = this.#options;
    const announcement = encodeAnnouncement({ nodeId, address: announceAddress });
    this.#transport?.publish(nodesTopic(topicPrefix, nodeId), announcement, true, (error) => {
      if (error !== null) this.#warn("replication_announce_failed", { reason: error });
    });
    this.#scheduleFlush();
    // Whatever was published while we were away and the broker did not keep: repair it now.
    this.#options.requestSync();
  }

  /** Transport event: a ready connection was lost. Changes wait in the outbox meanwhile. */
  onLost(): void {
    if (this.#flushTimer !== null) clearImmediate(this.#flushTimer);
    this.#flushTimer = null;
  }

  /** Transport event: a message on one of our subscriptions. */
  onMessage(topic: string, payload: Uint8Array): void {
    if (this.#closed) return;
    this.#counters.messagesReceived++;
    const parsed = parseTopic(this.#options.topicPrefix, topic);
    if (parsed === null) return this.#malformed(topic, "unexpected topic");
    if (parsed.kind === "changes") this.#receiveBatch(topic, parsed.nodeId, payload);
    else this.#receiveAnnouncement(topic, parsed.nodeId, payload);
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

  #receiveAnnouncement(topic: string, topicNodeId: string, payload: Uint8Array): void {
    const decoded = decodeAnnouncement(payload);
    if (!decoded.ok) return this.#malformed(topic, decoded.error);
    const announcement = decoded.announcement;
    if (announcement === null) {
      const address = this.#peers.get(topicNodeId);
      if (address === undefined) return;
      this.#peers.delete(topicNodeId);
      this.#departed.set(topicNodeId, { address, atMs: this.#options.nowMs() });
      this.#options.log.info("replication_peer_gone", { peer: topicNodeId, address });
      return;
    }
    if (announcement.nodeId !== topicNodeId) {
      return this.#malformed(topic, `node_id "${announcement.nodeId}" does not match the topic`);
    }
    if (announcement.nodeId === this.#options.nodeId) return;
    if (this.#peers.get(announcement.nodeId) === announcement.address) return;
    if (
      !this.#peers.has(announcement.nodeId) &&
      this.#peers.size + this.#departed.size >= MAX_DISCOVERED_NODES
    ) {
      return this.#warn("replication_too_many_peers", { max: MAX_DISCOVERED_NODES });
    }
    this.#peers.set(announcement.nodeId, announcement.address);
    this.#departed.delete(announcement.nodeId);
    this.#options.log.info("replication_peer_announced", {
      peer: announcement.nodeId,
      address: announcement.address,
    });
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
      const payload: Buffer = encodeBatch({
        origin: this.#options.nodeId,
        incarnation: this.#options.incarnation,
        firstSequence: batch.firstSequence,
        entries: batch.entries,
      });
      this.#inflight++;
      const count = batch.entries.length;
      transport.publish(topic, payload, false, (error) => this.#acknowledged(count, error));
    }
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
