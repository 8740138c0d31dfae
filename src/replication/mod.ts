/**
 * MQTT replication: every local change is published to the broker, every peer's change is
 * merged here (see docs/replication.md). Without mqtt_broker_address the node runs standalone.
 */

import type { Histogram } from "../metrics/mod.ts";
import { hostname } from "node:os";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import type { InfoField } from "../protocol/mod.ts";
import type { Entry, RemoteApplier, Store } from "../store/mod.ts";
import { formatAddress, nodesTopic, subscriptionTopics } from "./codec.ts";
import { readSigningKeyFile } from "./key_file.ts";
import { MqttReplicator } from "./replicator.ts";
import { Signer } from "./signing.ts";
import { connectTransport, type TransportOptions } from "./transport.ts";
import { assert } from "../assert.ts";
import { ModeAgreement } from "../conflicts/mod.ts";

/** MQTT replication, as the node uses it. */
export interface Replicator {
  /** Publishes local changes (batched per tick; queued while the broker is away). */
  publish(changes: readonly Entry[]): void;
  /** Client addresses ("host:port") of nodes announced on the broker, this node excluded. */
  discoveredPeers(): string[];
  infoFields(): InfoField[];
  /** replication.max_pending_publishes changed: changes queued past it are dropped as before. */
  setMaxPendingPublishes(count: number): void;
  /** Local clock at apply minus the newest HLC time of each applied batch, in seconds. */
  readonly lagHistogram: Histogram;
  close(): Promise<void>;
}

/** What replication needs from the node. */
export interface ReplicationContext {
  config: Config;
  store: Store;
  /** Where changes from the broker go: merged, then logged. */
  remote: RemoteApplier;
  log: Logger;
  /** The bound client port (differs from config.bindPort when that is 0): announced. */
  clientPort: number;
  /** conflicts.mode and the peers' check (shared with anti-entropy); unset: made here. */
  agreement?: ModeAgreement;
}

export interface ReplicationHooks {
  /** Runs each time the broker connection is (re)established, and when changes were missed. */
  onReconnect: () => void;
}

/** Hosts that mean "every interface": useless to a peer, so the host name is announced. */
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", ""]);

/** Connects to the broker; null when mqtt_broker_address is unset (standalone). */
export function startReplication(
  context: ReplicationContext,
  hooks: ReplicationHooks,
): Replicator | null {
  const { config, log } = context;
  const url = config.mqttBrokerAddress;
  if (url === null) return null;
  const replication = config.replication;
  const ca = replication.caFile === null ? null : readCaFile(replication.caFile);
  const signer = signerFor(replication.signingKeyFile, log);
  const clientId = replication.clientId ?? `merklekv-${config.nodeId}`;
  const brokerLabel = withoutCredentials(url);
  const announceAddress = formatAddress(
    WILDCARD_HOSTS.has(config.bindAddress) ? hostname() : config.bindAddress,
    context.clientPort,
  );
  const [incarnation] = crypto.getRandomValues(new Uint32Array(1));
  assert(incarnation !== undefined, "a Uint32Array of length 1 has an element");
  const replicator = new MqttReplicator({
    nodeId: config.nodeId,
    topicPrefix: replication.topicPrefix,
    maxPendingPublishes: replication.maxPendingPublishes,
    incarnation,
    announceAddress,
    brokerLabel,
    clientId,
    remote: context.remote,
    log,
    requestSync: hooks.onReconnect,
    nowMs: () => context.store.nowMs(),
    signer,
    acceptUnsigned: replication.acceptUnsigned,
    epochMs: context.store.nowMs(),
    agreement: context.agreement ??
      new ModeAgreement(config.conflicts.mode, log, () => context.store.nowMs()),
  });
  const transport = connectTransport(
    transportOptions(config, { url, brokerLabel, clientId, ca }, replicator.goneMessage(1)),
    {
      ready: (info) => replicator.onReady(info),
      lost: () => replicator.onLost(),
      message: (topic, payload) => replicator.onMessage(topic, payload),
    },
    log,
  );
  replicator.attach(transport);
  log.info("replication_starting", {
    broker: brokerLabel,
    client_id: clientId,
    announce: announceAddress,
    signing: signer === null ? "off" : "on",
  });
  return replicator;
}

/** How to reach the broker, and the will that clears this node's announcement. */
function transportOptions(
  config: Config,
  broker: { url: string; brokerLabel: string; clientId: string; ca: string | null },
  gone: Uint8Array | Promise<Uint8Array>,
): TransportOptions {
  const replication = config.replication;
  const topics = subscriptionTopics(replication.topicPrefix);
  return {
    ...broker,
    username: replication.username,
    password: replication.password,
    connectTimeoutMs: replication.connectTimeoutMs,
    reconnectMinMs: replication.reconnectMinMs,
    reconnectMaxMs: replication.reconnectMaxMs,
    subscriptions: [topics.changes, topics.nodes],
    // Clears our announcement if we vanish: empty, or a signed "gone" for the first
    // connection (see docs/replication.md, Discovery, and docs/replication-security.md).
    will: {
      topic: nodesTopic(replication.topicPrefix, config.nodeId),
      payload: gone,
      retain: true,
    },
    random: Math.random,
  };
}

/** Read before anything connects: a bad key file stops the start (naming the line, not a key). */
function signerFor(signingKeyFile: string | null, log: Logger): Signer | null {
  return signingKeyFile === null ? null : new Signer(readSigningKeyFile(signingKeyFile, log));
}

function readCaFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot read replication.ca_file "${path}": ${reason}`);
  }
}

/** The broker URL without user name and password, for logs and INFO. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//");
  }
}
