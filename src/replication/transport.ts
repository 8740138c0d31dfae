/**
 * The MQTT connection (I/O edge; the only file that imports mqtt). MQTT 5 with a persistent
 * session, TCP_NODELAY, subscriptions with No Local, a last will, and reconnects with
 * exponential backoff and jitter (see docs/replication.md, Connection).
 *
 * mqtt.js is loaded when the first connection starts, not with the program: loading it took
 * 80-135 ms of every start, which a node without replication no longer pays and a node with
 * replication pays after it serves clients (see docs/replication.md, Connection).
 */

import { Buffer } from "node:buffer";
import type {
  IClientOptions,
  IConnackPacket,
  ISubscriptionGrant,
  ISubscriptionMap,
  MqttClient,
} from "mqtt";
import type { Logger } from "../log.ts";
import { Backoff } from "./backoff.ts";

/** How long the broker keeps our session (subscriptions and queued QoS 1 messages) after a
 * disconnect (MQTT 5 §3.1.2.11.2). A node back within this loses nothing the broker kept. */
export const SESSION_EXPIRY_SECONDS = 600;
const KEEPALIVE_SECONDS = 30;
/** MQTT 5 CONNACK reason codes (and their MQTT 3.1.1 return codes) that mean "credentials". */
const AUTH_REASON_CODES = new Set([4, 5, 134, 135]);
/** SUBACK reason codes at or above this are failures (MQTT 5 §3.9.3). */
const SUBACK_FAILURE = 0x80;

export interface TransportOptions {
  url: string;
  /** The address without credentials, for logs. */
  brokerLabel: string;
  clientId: string;
  username: string | null;
  password: string | null;
  /** PEM CA certificate(s) for mqtts://, or null for the system roots. */
  ca: string | null;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Subscribed (QoS 1, No Local) on every connection. */
  subscriptions: string[];
  /**
   * Published by the broker if we vanish without a clean close. A signed will is prepared
   * (signed) before the first connection: the connection waits for it.
   */
  will: { topic: string; payload: Uint8Array | Promise<Uint8Array>; retain: boolean };
  random: () => number;
}

export interface ConnectionInfo {
  sessionPresent: boolean;
  /** How many QoS 1 publishes the broker accepts in flight (MQTT 5 Receive Maximum). */
  receiveMaximum: number;
}

export interface TransportEvents {
  /** Connected and subscribed. */
  ready(info: ConnectionInfo): void;
  /** A ready connection was lost; reconnecting on its own. */
  lost(): void;
  message(topic: string, payload: Uint8Array): void;
}

export type BrokerState = "connecting" | "connected" | "disconnected" | "closed";

export interface Transport {
  readonly state: BrokerState;
  /** QoS 1; `done` runs on PUBACK (error null) or failure. Only while connected. */
  publish(
    topic: string,
    payload: Uint8Array,
    retain: boolean,
    done: (error: string | null) => void,
  ): void;
  /** The will of the next connection (the broker holds the current one's already). */
  setWill(payload: Uint8Array): void;
  /** Publishes `last` (if connected, waiting up to timeoutMs for it), then disconnects. */
  close(last: { topic: string; payload: Uint8Array } | null, timeoutMs: number): Promise<void>;
}

/**
 * Starts connecting to the broker and returns at once: the connection is "connecting" while
 * mqtt.js loads, and close() then waits for the load and never connects.
 */
export function connectTransport(
  options: TransportOptions,
  events: TransportEvents,
  log: Logger,
): Transport {
  let connection: Transport | null = null;
  let closed = false;
  let failed = false;
  const loaded = Promise.all([import("mqtt"), options.will.payload]).then(
    ([module, willPayload]) => {
      if (closed) return;
      const will = { ...options.will, payload: willPayload };
      connection = connectClient(module.default.connect, { ...options, will }, events, log);
    },
    (error) => {
      failed = true;
      log.error("replication_unavailable", {
        broker: options.brokerLabel,
        reason: `cannot load the MQTT client: ${error instanceof Error ? error.message : error}`,
      });
    },
  );
  return {
    get state() {
      if (connection !== null) return connection.state;
      return closed ? "closed" : failed ? "disconnected" : "connecting";
    },
    publish(topic, payload, retain, done) {
      // Publishes are made only while connected, so only once a connection exists.
      if (connection === null) done("not connected to the broker");
      else connection.publish(topic, payload, retain, done);
    },
    setWill(payload) {
      // Called once connected, so once a connection exists.
      connection?.setWill(payload);
    },
    async close(last, timeoutMs) {
      closed = true;
      await loaded;
      await connection?.close(last, timeoutMs);
    },
  };
}

/** One client and what its event handlers share. */
interface ClientContext {
  readonly client: MqttClient;
  readonly backoff: Backoff;
  readonly options: TransportOptions;
  readonly events: TransportEvents;
  readonly log: Logger;
  state: BrokerState;
  /** The reason of the failure logged last, so that the same failure again is logged once. */
  lastFailure: string;
}

/** TransportOptions once the will is ready. */
type ClientOptions = TransportOptions & {
  will: { topic: string; payload: Uint8Array; retain: boolean };
};

/** Creates the mqtt.js client and wires its events to the handlers below. */
function connectClient(
  connect: typeof import("mqtt").connect,
  options: ClientOptions,
  events: TransportEvents,
  log: Logger,
): Transport {
  const backoff = new Backoff(options.reconnectMinMs, options.reconnectMaxMs, options.random);
  const client = connect(options.url, clientOptions(options, backoff));
  const context: ClientContext = {
    client,
    backoff,
    options,
    events,
    log,
    state: "connecting",
    lastFailure: "",
  };
  client.on("connect", (connack) => onConnect(context, connack));
  client.on("close", () => onClose(context));
  client.on("error", (error) => onError(context, error));
  client.on("message", (topic, payload) => events.message(topic, payload));

  return {
    get state() {
      return context.state;
    },
    publish(topic, payload, retain, done) {
      client.publish(topic, toBuffer(payload), { qos: 1, retain }, (error) => {
        done(error ? error.message : null);
      });
    },
    setWill(payload) {
      // mqtt.js builds each CONNECT from client.options, so a reconnect sends this will.
      if (client.options.will !== undefined) client.options.will.payload = toBuffer(payload);
    },
    close: (last, timeoutMs) =>
      closeClient(client, last, timeoutMs, () => context.state = "closed"),
  };
}

/** The mqtt.js options: MQTT 5, a persistent session, the will, and the first backoff pause. */
function clientOptions(options: ClientOptions, backoff: Backoff): IClientOptions {
  return {
    protocolVersion: 5,
    clientId: options.clientId,
    clean: false,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS },
    keepalive: KEEPALIVE_SECONDS,
    connectTimeout: options.connectTimeoutMs,
    // mqtt.js reads reconnectPeriod when a connection closes; onClose() sets the next value
    // after each close, so that the pauses follow the backoff.
    reconnectPeriod: backoff.next(),
    reconnectOnConnackError: true,
    resubscribe: false,
    queueQoSZero: false,
    // mqtt.js calls its debug logger on every packet; a no-op keeps that off the hot path.
    log: () => {},
    username: options.username ?? undefined,
    password: options.password ?? undefined,
    ca: options.ca ?? undefined,
    will: {
      topic: options.will.topic,
      payload: toBuffer(options.will.payload),
      qos: 1,
      retain: options.will.retain,
    },
  };
}

/** Connected (CONNACK): restarts the backoff and subscribes; ready once the SUBACK is in. */
function onConnect(context: ClientContext, connack: IConnackPacket): void {
  const { client, backoff } = context;
  // mqtt.js leaves Nagle on: a publish then waits for the ACK of the previous segment
  // (one QoS 0 publish per ms here: p99 ~32 ms with Nagle, ~5 ms without; see docs/replication.md,
  // Connection).
  const socket = client.stream as unknown as { setNoDelay?: (noDelay: boolean) => void };
  socket.setNoDelay?.(true);
  backoff.reset();
  client.options.reconnectPeriod = backoff.next();
  context.lastFailure = "";
  const subscriptions: ISubscriptionMap = {};
  for (const topic of context.options.subscriptions) subscriptions[topic] = { qos: 1, nl: true };
  client.subscribe(subscriptions, (error, granted) => {
    if (error) {
      context.log.warn("replication_subscribe_failed", { reason: error.message });
      return;
    }
    onSubscribed(context, connack, granted ?? []);
  });
}

/** Subscribed (SUBACK): logs refused topics, then the connection is ready. */
function onSubscribed(
  context: ClientContext,
  connack: IConnackPacket,
  granted: readonly ISubscriptionGrant[],
): void {
  const { options, log } = context;
  const refused = granted.filter((grant) => grant.qos >= SUBACK_FAILURE);
  const [firstRefused] = refused;
  if (firstRefused !== undefined) {
    log.error("replication_subscribe_refused", {
      topics: refused.map((grant) => grant.topic).join(","),
      reason_code: firstRefused.qos,
    });
  }
  context.state = "connected";
  const receiveMaximum = connack.properties?.receiveMaximum ?? 65_535;
  log.info("replication_connected", {
    broker: options.brokerLabel,
    client_id: options.clientId,
    session_present: connack.sessionPresent,
  });
  context.events.ready({ sessionPresent: connack.sessionPresent, receiveMaximum });
}

/** The connection closed (or an attempt failed): sets the next pause and reports a loss. */
function onClose(context: ClientContext): void {
  const { client, options, log } = context;
  // mqtt.js has already scheduled the next attempt with the current reconnectPeriod.
  const pauseMs = client.options.reconnectPeriod ?? 0;
  client.options.reconnectPeriod = context.backoff.next();
  if (context.state === "closed") return;
  if (context.state === "connected") {
    context.state = "disconnected";
    log.warn("replication_disconnected", { broker: options.brokerLabel, retry_in_ms: pauseMs });
    context.events.lost();
  } else {
    context.state = "disconnected";
    log.debug("replication_retry", { broker: options.brokerLabel, retry_in_ms: pauseMs });
  }
}

/** A failure to connect or of the connection: logged by how much it needs a reader. */
function onError(context: ClientContext, error: Error): void {
  if (context.state === "closed") return;
  const { log } = context;
  const reason = error.message;
  const code = (error as { code?: unknown }).code;
  const isAuth = typeof code === "number" && AUTH_REASON_CODES.has(code);
  const fields = {
    broker: context.options.brokerLabel,
    reason,
    code: String(code ?? ""),
    hint: failureHint(isAuth, String(code ?? "")),
  };
  // The same failure again and again (a broker down for minutes) is logged once.
  if (reason === context.lastFailure) log.debug("replication_connect_failed", fields);
  else if (context.state === "connected") log.warn("replication_connection_error", fields);
  else if (isAuth) log.error("replication_auth_refused", fields);
  else log.warn("replication_connect_failed", fields);
  context.lastFailure = reason;
}

/** What to look at for the common failures; undefined (omitted) otherwise. */
function failureHint(isAuth: boolean, code: string): string | undefined {
  if (isAuth) return "check replication.username, replication.password and the broker's ACL";
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ERR_TLS/.test(code)) {
    return "check replication.ca_file and the broker certificate's names";
  }
  if (code === "ECONNREFUSED") return "is the broker running at mqtt_broker_address?";
  return undefined;
}

async function closeClient(
  client: MqttClient,
  last: { topic: string; payload: Uint8Array } | null,
  timeoutMs: number,
  markClosed: () => void,
): Promise<void> {
  if (client.connected && last !== null) {
    const published = new Promise<void>((resolve) => {
      client.publish(last.topic, toBuffer(last.payload), { qos: 1, retain: true }, () => resolve());
    });
    await withTimeout(published, timeoutMs);
  }
  markClosed();
  // A clean DISCONNECT keeps the session and suppresses the will. mqtt.js would wait for every
  // unacknowledged publish first, possibly forever, so then (or when not connected) force.
  const graceful = client.connected && Object.keys(client.outgoing).length === 0;
  const ended = client.endAsync(!graceful);
  await withTimeout(ended, timeoutMs);
  if (!client.disconnected) {
    client.stream.destroy();
    await withTimeout(ended, timeoutMs);
  }
}

/** mqtt-packet writes Buffers; this views a Uint8Array as one without copying. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function withTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
  try {
    await Promise.race([promise.then(() => {}, () => {}), expired]);
  } finally {
    clearTimeout(timer);
  }
}
