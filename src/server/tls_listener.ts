/**
 * TLS on the client port (see docs/security.md, TLS), through node:tls: unlike Deno.listenTls
 * it can ask for and verify client certificates (mutual TLS) and swap its certificate while
 * listening. A connection takes a slot once its handshake is done; at most as many handshakes
 * as there are slots run at once. A handshake that does not finish within
 * limits.tls_handshake_timeout_ms, or fails (a plain-text client, an untrusted or missing client
 * certificate), is cut, counted, and logged at most once a second.
 */

import type * as net from "node:net";
import * as tls from "node:tls";
import type { Logger } from "../log.ts";

/** The PEM texts the listener serves with (read from tls.* files by the node). */
export interface ServerTls {
  cert: string;
  key: string;
  /** CA certificates that sign client certificates; null: none asked for. */
  ca: string | null;
  /** Mutual TLS: a client without a certificate signed by `ca` is refused in the handshake. */
  requireClientCert: boolean;
}

/** Handshakes failed or cut (counted, see docs/observability.md). */
export interface TlsCounters {
  tlsHandshakeFailures: number;
}

const HANDSHAKE_LOG_INTERVAL_MS = 1_000;

/** The node:tls settings for `material`. */
function secureOptions(material: ServerTls): tls.TlsOptions {
  return {
    cert: material.cert,
    key: material.key,
    ...(material.ca === null ? {} : { ca: material.ca }),
    requestCert: material.requireClientCert,
    rejectUnauthorized: material.requireClientCert,
  };
}

/** A TLS listener, and a way to cut the connections still in their handshake (at close). */
export interface TlsListener {
  server: tls.Server;
  cutHandshakes(): void;
}

/** A TLS listener that hands each socket to `onSecure` once its handshake is done. */
export function createTlsServer(
  material: ServerTls,
  handshakeTimeoutMs: number,
  onSecure: (socket: net.Socket) => void,
  parts: { log: Logger; counters: TlsCounters; maxHandshakes: () => number },
): TlsListener {
  /** TCP sockets whose handshake is not done yet; they hold no slot, close() cuts them. */
  const handshaking = new Set<net.Socket>();
  /** Cut for the cap: their TLS socket's error is already counted. */
  const cut = new WeakSet<net.Socket>();
  const failed = handshakeFailureLog(parts);
  const server = tls.createServer({
    ...secureOptions(material),
    handshakeTimeout: handshakeTimeoutMs,
  }, (socket) => {
    handshaking.delete(tcpOf(socket));
    onSecure(socket);
  });
  server.on("connection", (socket: net.Socket) => {
    socket.setNoDelay(true);
    // As many handshakes at once as there are slots; more are cut before they cost anything.
    const maxHandshakes = parts.maxHandshakes();
    if (handshaking.size >= maxHandshakes) {
      cut.add(socket);
      failed(socket, `too many TLS handshakes in progress (max ${maxHandshakes})`);
      socket.destroy();
      return;
    }
    handshaking.add(socket);
    socket.once("close", () => handshaking.delete(socket));
  });
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    const tcp = tcpOf(socket);
    handshaking.delete(tcp);
    if (!cut.has(tcp)) failed(socket, error.message);
    socket.destroy();
  });
  const cutHandshakes = () => {
    for (const socket of handshaking) socket.destroy();
  };
  return { server, cutHandshakes };
}

/** Counts each failed handshake; logs one a second at most (with the count so far). */
function handshakeFailureLog(parts: { log: Logger; counters: TlsCounters }) {
  let lastLogMs = -Infinity;
  return (socket: net.Socket, reason: string): void => {
    parts.counters.tlsHandshakeFailures++;
    const nowMs = Date.now();
    if (nowMs - lastLogMs < HANDSHAKE_LOG_INTERVAL_MS) return;
    lastLogMs = nowMs;
    parts.log.warn("tls_handshake_failed", {
      client: socket.remoteAddress ?? "",
      reason,
      failures: parts.counters.tlsHandshakeFailures,
    });
  };
}

/** The TCP socket under a TLS one (node:tls keeps it as `_parent`, Deno's polyfill too). */
function tcpOf(socket: tls.TLSSocket): net.Socket {
  return (socket as unknown as { _parent?: net.Socket })._parent ?? socket;
}

/**
 * New certificates, CA and client-certificate rule for connections from now on; open ones keep
 * theirs.
 */
export function renewTls(server: tls.Server, material: ServerTls, handshakeTimeoutMs: number) {
  server.setSecureContext(secureOptions(material));
  // node:tls reads these per connection from the server (not part of the secure context);
  // the handshake timeout has no setter (Node and Deno both keep it in this field).
  const settings = server as unknown as Record<string, unknown>;
  settings.requestCert = material.requireClientCert;
  settings.rejectUnauthorized = material.requireClientCert;
  settings._handshakeTimeout = handshakeTimeoutMs;
}
