/**
 * The TCP edge: accepts connections within the limits (see admission.ts), hands each to a
 * Connection (connection.ts), sweeps them for timeouts on one coarse interval, and closes
 * them all within a grace period. Bounded everywhere: connections (maxConnections, plus
 * reservedPeerConnections for anti-entropy peers, at most maxConnectionsPerAddress from one
 * non-loopback address), line length, replies queued for a slow reader, and time.
 */

import * as net from "node:net";
import type * as tls from "node:tls";
import { errorReply, type FramedLine, type PiecewiseReply } from "../protocol/mod.ts";
import type { Logger } from "../log.ts";
import { Admissions } from "./admission.ts";
import { type CoarseClock, Connection, ENDED_LINGER_MS } from "./connection.ts";
import { ReplyChunk, ReplyEncoder } from "./reply_encoder.ts";
import { createTlsServer, renewTls, type ServerTls, type TlsListener } from "./tls_listener.ts";

/**
 * Holds a connection's replies until the log has the changes of the requests they answer
 * (see docs/durability.md, fsync policies); the log calls it once they are logged.
 */
export interface LogWaiter {
  /** null: they are logged as the fsync policy promises; else why not (nothing acknowledged). */
  logged(error: string | null): void;
}

/**
 * The bytes of the replies of the chunk being run, for a handler that writes a reply's bytes
 * itself (the GET path copies a value from the store's value heap, never making a string).
 */
export interface ReplyBytes {
  /** The buffer to write at `length` in, with room for `bytes` more. */
  room(bytes: number): Uint8Array;
  /** Bytes of replies so far: a handler that wrote sets it to the end of what it wrote. */
  length: number;
}

/** What the server needs from the node: run lines, finish a chunk. */
export interface LineHandler {
  /**
   * Runs one request line (valid only during the call); a string is the reply, a Promise
   * defers it, a PiecewiseReply is written as the client drains it, null closes. A handler
   * may instead write its reply into `out` and return the empty string.
   */
  handleLine(
    line: FramedLine,
    client: ClientInfo,
    out: ReplyBytes,
  ): string | Promise<string> | PiecewiseReply | null;
  /**
   * Called after the lines of one chunk ran. true: their replies wait until the log has their
   * writes, and `waiter.logged()` says when (or why not).
   */
  endOfChunk(waiter: LogWaiter): boolean;
  /**
   * After each handleLine(): the kind (a small index) of the command it counted, -1 for none.
   * The connection collects them and reports them in repliesQueued().
   */
  readonly lastCommandKind: number;
  /**
   * The replies of these commands (`kinds[0 .. count)`) were queued at most `seconds` after
   * their lines arrived (see docs/observability.md, Command durations).
   */
  repliesQueued(kinds: Int32Array, count: number, seconds: number): void;
  /**
   * A hint before lines run: `bytes[start, end)` holds the lines received and not yet run
   * (the last one possibly incomplete). Changes nothing. Returns the offset up to which the
   * hint covers them: once the lines up to there have run, it is asked again.
   */
  beforeLines(bytes: Uint8Array, start: number, end: number): number;
  /**
   * A connection was accepted: null serves it, a reason refuses it (one ERROR line, then
   * closed). `control` lets the node close it or change its line limit later.
   */
  opened?(client: ClientInfo, control: ConnectionControl): string | null;
  /** The connection closed. */
  closed?(client: ClientInfo): void;
}

export interface ClientInfo {
  remoteAddress: string;
  isLoopback: boolean;
}

/** What the node may do to one of its connections (auth: see docs/security.md). */
export interface ConnectionControl {
  /** Ends the connection after the replies so far, reading nothing more. */
  close(reason: string): void;
  /** Lines longer than this from now on get `ERROR line too long` and close the connection. */
  setMaxLineBytes(bytes: number): void;
}

export interface ServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  reservedPeerConnections: number;
  maxConnectionsPerAddress: number;
  maxLineBytes: number;
  maxPendingReplyBytes: number;
  /** 0: never. */
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  /** A connection in a reserve slot must have sent `SYNC HELLO ` within this long. */
  peerGreetingTimeoutMs: number;
  /** null: plain TCP; else TLS only, with these certificates (see tls_listener.ts). */
  tls: ServerTls | null;
  /** A TLS handshake not finished within this long is cut (it holds no slot meanwhile). */
  tlsHandshakeTimeoutMs: number;
}

/** Counts since the server started, read at scrape time (see docs/observability.md). */
export interface ServerCounters {
  /** Connections that took a slot. */
  connectionsAccepted: number;
  /** Connections refused with an ERROR line (limits). */
  connectionsRejected: number;
  /** Bytes read from and written to closed connections; open ones are added by counters(). */
  closedBytesRead: number;
  closedBytesWritten: number;
  /** TLS handshakes that failed or timed out (plain-text clients, untrusted certificates). */
  tlsHandshakeFailures: number;
}

export interface ServerHandle {
  port: number;
  connectionCount(): number;
  /** Connections and bytes so far; byte counts include the open connections'. */
  counters(): ServerCounters;
  /**
   * The options object was changed in place (a config reload): open connections whose line cap
   * was `previousMaxLineBytes` take the new one (a lower cap of a session that has not
   * authenticated stays). The other limits are read at use, or by the next connections.
   */
  maxLineBytesChanged(previousMaxLineBytes: number): void;
  /**
   * `options.tls` was replaced (a reload with new certificate files): connections from now on
   * use it, open ones keep theirs. Only for a server started with TLS.
   */
  tlsChanged(): void;
  /** TLS handshakes failed so far; null: the port speaks plain TCP. */
  tlsHandshakeFailures(): number | null;
  /** Starts running the lines of clients with `handler` (once). */
  serve(handler: LineHandler): void;
  /**
   * Stops accepting, lets every connection finish its in-flight requests, and cuts whatever is
   * still open after graceMs: resolves within graceMs (and a bounded moment), whatever the
   * clients do.
   */
  close(graceMs: number): Promise<void>;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/** The sweep runs this many times per shortest timeout, at most once a SWEEP_MAX_INTERVAL_MS. */
const SWEEPS_PER_TIMEOUT = 4;
const SWEEP_MAX_INTERVAL_MS = 1_000;
const SWEEP_MIN_INTERVAL_MS = 10;
/** After the grace period, how long close() waits for the listener to report it closed. */
const LISTENER_CLOSE_WAIT_MS = 1_000;

/**
 * Listens at once, so that the node knows its port before it wires the parts that announce
 * it, and serves lines once `serve()` hands it the node: a client that connects in between
 * waits, paused, and is taken in then.
 */
export async function startServer(options: ServerOptions, log: Logger): Promise<ServerHandle> {
  const connections = new Set<Connection>();
  /** Refused sockets, ended with their ERROR line, until they close: when they were ended. */
  const refused = new Map<net.Socket, number>();
  const clock: CoarseClock = { nowMs: Date.now() };
  let accept: ((socket: net.Socket) => void) | null = null;
  const waiting: net.Socket[] = [];
  const onSocket = (socket: net.Socket) => {
    if (accept !== null) accept(socket);
    else {
      // A client that resets while it waits must not reach the process as an uncaught error.
      socket.on("error", () => {});
      waiting.push(socket.pause());
    }
  };
  const counters = newCounters();
  const tlsListener = options.tls === null
    ? null
    : listenTls(options.tls, options, onSocket, { log, counters });
  const tlsServer = tlsListener?.server ?? null;
  const server: net.Server = tlsServer ?? net.createServer({ noDelay: true }, onSocket);
  server.on("error", (error) => log.error("server_error", { message: String(error) }));
  await listen(server, options);
  const sweepTimer = setInterval(() => {
    const nowMs = clock.nowMs = Date.now();
    for (const connection of connections) connection.sweep(nowMs);
    for (const [socket, endedAtMs] of refused) {
      if (nowMs - endedAtMs >= ENDED_LINGER_MS) socket.destroy();
    }
  }, sweepIntervalMs(options));
  const admissions = new Admissions(options);
  const accepted = { connections, refused, clock, admissions, log, counters };
  return {
    port: (server.address() as net.AddressInfo).port,
    connectionCount: () => connections.size,
    counters: () => countersNow(counters, connections),
    maxLineBytesChanged: (previousMaxLineBytes) => {
      for (const connection of connections) {
        if (connection.maxLineBytes === previousMaxLineBytes) {
          connection.setMaxLineBytes(options.maxLineBytes);
        }
      }
    },
    tlsChanged: () => renewTlsOf(tlsServer, options),
    tlsHandshakeFailures: () => tlsServer === null ? null : counters.tlsHandshakeFailures,
    serve: (handler) => {
      accept = acceptor(options, handler, accepted);
      for (const socket of waiting.splice(0)) accept(socket.resume());
    },
    close: async (graceMs) => {
      const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of [...refused.keys(), ...waiting]) socket.destroy();
      tlsListener?.cutHandshakes();
      const cut = setTimeout(() => {
        for (const connection of connections) connection.destroy();
      }, graceMs);
      await Promise.all([...connections].map((connection) => connection.finish()));
      clearTimeout(cut);
      clearInterval(sweepTimer);
      // Every socket it accepted is closed now; should the listener still not say so, go on.
      await within(listenerClosed, LISTENER_CLOSE_WAIT_MS, () => log.warn("listener_close_slow"));
    },
  };
}

function newCounters(): ServerCounters {
  return {
    connectionsAccepted: 0,
    connectionsRejected: 0,
    closedBytesRead: 0,
    closedBytesWritten: 0,
    tlsHandshakeFailures: 0,
  };
}

/** The TLS listener of a server with `options.tls`: as many handshakes at once as slots. */
function listenTls(
  material: ServerTls,
  options: ServerOptions,
  onSocket: (socket: net.Socket) => void,
  parts: { log: Logger; counters: ServerCounters },
): TlsListener {
  return createTlsServer(material, options.tlsHandshakeTimeoutMs, onSocket, {
    ...parts,
    // Read at each connection: a reload changes the limits in place.
    maxHandshakes: () => options.maxConnections + options.reservedPeerConnections,
  });
}

function renewTlsOf(server: tls.Server | null, options: ServerOptions): void {
  if (server === null || options.tls === null) {
    throw new Error("bug: TLS can be renewed only on a server started with it");
  }
  renewTls(server, options.tls, options.tlsHandshakeTimeoutMs);
}

/** What the acceptor shares with the server: its sockets, its clock and its slots. */
interface Accepted {
  connections: Set<Connection>;
  refused: Map<net.Socket, number>;
  clock: CoarseClock;
  admissions: Admissions;
  log: Logger;
  counters: ServerCounters;
}

function countersNow(counters: ServerCounters, connections: Set<Connection>): ServerCounters {
  const now = { ...counters };
  for (const connection of connections) {
    now.closedBytesRead += connection.bytesRead;
    now.closedBytesWritten += connection.bytesWritten;
  }
  return now;
}

/** Takes a new socket in: a connection in a slot, or refused with one ERROR line. */
function acceptor(options: ServerOptions, handler: LineHandler, accepted: Accepted) {
  const { connections, refused, clock, admissions, log, counters } = accepted;
  const parts = { handler, encoder: new ReplyEncoder(), chunk: new ReplyChunk(), clock, log };
  return (socket: net.Socket): void => {
    const remoteAddress = socket.remoteAddress ?? "";
    const client = { remoteAddress, isLoopback: LOOPBACK.test(remoteAddress) };
    const admission = admissions.admit(remoteAddress, client.isLoopback);
    if ("refusal" in admission) {
      counters.connectionsRejected++;
      log.warn("connection_refused", { reason: admission.refusal, client: remoteAddress });
      refuse(socket, admission.refusal, refused, clock);
      return;
    }
    const connection = new Connection(socket, client, admission.slot, options, parts);
    connections.add(connection);
    counters.connectionsAccepted++;
    socket.on("close", () => {
      counters.closedBytesRead += socket.bytesRead;
      counters.closedBytesWritten += socket.bytesWritten;
      connections.delete(connection);
      admissions.release(admission.slot, remoteAddress, client.isLoopback);
      handler.closed?.(client);
    });
    const refusal = handler.opened?.(client, connection) ?? null;
    if (refusal !== null) connection.deny(refusal);
  };
}

/**
 * Sends the refusal and ends the socket. It must still be read: a socket nobody reads never
 * sees the client's close, and the listener's close() would wait for it forever. Errors (a
 * client that resets) are expected, and must not reach the process as uncaught.
 */
function refuse(
  socket: net.Socket,
  reason: string,
  refused: Map<net.Socket, number>,
  clock: CoarseClock,
): void {
  socket.on("error", () => {});
  socket.on("close", () => refused.delete(socket));
  refused.set(socket, clock.nowMs);
  socket.end(errorReply(reason));
  socket.resume();
}

function listen(server: net.Server, options: ServerOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.host, port: options.port, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Often enough that each timeout fires within a quarter of itself late. */
export function sweepIntervalMs(
  options: Pick<ServerOptions, "idleTimeoutMs" | "requestTimeoutMs" | "peerGreetingTimeoutMs">,
): number {
  const timeouts = [options.requestTimeoutMs, options.peerGreetingTimeoutMs, ENDED_LINGER_MS];
  if (options.idleTimeoutMs > 0) timeouts.push(options.idleTimeoutMs);
  const intervalMs = Math.floor(Math.min(...timeouts) / SWEEPS_PER_TIMEOUT);
  return Math.max(SWEEP_MIN_INTERVAL_MS, Math.min(SWEEP_MAX_INTERVAL_MS, intervalMs));
}

/** Waits for `promise`, or `timeoutMs`, whichever comes first (then calls onTimeout). */
async function within(promise: Promise<void>, timeoutMs: number, onTimeout: () => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), timeoutMs);
  });
  const late = await Promise.race([promise.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) onTimeout();
}
