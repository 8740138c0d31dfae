/**
 * TLS on the client port (see docs/security.md, TLS), through node:tls: unlike Deno.listenTls
 * it can ask for and verify client certificates (mutual TLS) and swap its certificate while
 * listening. A connection takes a slot once its handshake is done; a handshake that does not
 * finish within limits.tls_handshake_timeout_ms, or fails (a plain-text client, an untrusted
 * or missing client certificate), is cut, counted, and logged at most once a second.
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
  parts: { log: Logger; counters: TlsCounters },
): TlsListener {
  /** TCP sockets whose handshake is not done yet; they hold no slot, close() cuts them. */
  const handshaking = new Set<net.Socket>();
  const server = tls.createServer({
    ...secureOptions(material),
    handshakeTimeout: handshakeTimeoutMs,
  }, (socket) => {
    handshaking.delete(tcpOf(socket));
    onSecure(socket);
  });
  server.on("connection", (socket: net.Socket) => {
    socket.setNoDelay(true);
    handshaking.add(socket);
    socket.once("close", () => handshaking.delete(socket));
  });
  let lastLogMs = -Infinity;
  server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    parts.counters.tlsHandshakeFailures++;
    const nowMs = Date.now();
    if (nowMs - lastLogMs >= HANDSHAKE_LOG_INTERVAL_MS) {
      lastLogMs = nowMs;
      parts.log.warn("tls_handshake_failed", {
        client: socket.remoteAddress ?? "",
        reason: error.message,
        failures: parts.counters.tlsHandshakeFailures,
      });
    }
    socket.destroy();
  });
  const cutHandshakes = () => {
    for (const socket of handshaking) socket.destroy();
  };
  return { server, cutHandshakes };
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
