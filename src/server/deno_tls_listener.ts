/**
 * TLS on the client port through Deno.listenTls, for every configuration but mutual TLS (see
 * docs/security.md, Which listener): about 1.5 times cheaper per request than node:tls under
 * Deno, but it cannot ask for client certificates nor change its certificate while listening.
 * A new certificate opens a second listener on the same port (SO_REUSEPORT, `--unstable-net`
 * in deno.json) and then closes the first, so that no connection is refused meanwhile; open
 * connections keep theirs. A handshake that does not finish within
 * limits.tls_handshake_timeout_ms, or fails (a plain-text client), is cut, counted, and logged
 * at most once a second; at most `maxHandshakes()` run at once, more are cut at once.
 */

import type { Logger } from "../log.ts";
import type { ClientSocket } from "./client_socket.ts";
import { ConnSocket } from "./conn_socket.ts";
import { handshakeFailureLog, type ServerTls, type TlsCounters } from "./tls_listener.ts";

export interface DenoTlsListener {
  readonly port: number;
  /** New certificates for the connections from now on; open ones keep theirs. */
  renew(material: ServerTls): void;
  /** Cuts the connections still in their handshake (at close). */
  cutHandshakes(): void;
  /** Stops accepting; resolves once the accept loop has ended. */
  close(): Promise<void>;
}

export interface DenoTlsParts {
  log: Logger;
  counters: TlsCounters;
  /** Read at each connection: a reload changes them in place. */
  maxHandshakes(): number;
  handshakeTimeoutMs(): number;
}

/** Listens on `host`:`port` (0: any free port) and hands each handshaken connection over. */
export function listenDenoTls(
  material: ServerTls,
  address: { host: string; port: number },
  onSocket: (socket: ClientSocket) => void,
  parts: DenoTlsParts,
): DenoTlsListener {
  if (material.requireClientCert) {
    throw new Error("bug: Deno.listenTls cannot ask for client certificates (use node:tls)");
  }
  /** Connections whose handshake is not done yet, with their timers; they hold no slot. */
  const handshaking = new Map<Deno.TlsConn, ReturnType<typeof setTimeout>>();
  const failed = handshakeFailureLog(parts);
  const cut = (conn: Deno.TlsConn) => {
    clearTimeout(handshaking.get(conn));
    handshaking.delete(conn);
    try {
      conn.close();
    } catch {
      // Closed already (the handshake failed at the same moment).
    }
  };
  const handshake = async (conn: Deno.TlsConn) => {
    const client = (conn.remoteAddr as Deno.NetAddr).hostname;
    const maxHandshakes = parts.maxHandshakes();
    // As many handshakes at once as there are slots; more are cut before they cost anything.
    if (handshaking.size >= maxHandshakes) {
      failed(client, `too many TLS handshakes in progress (max ${maxHandshakes})`);
      conn.close();
      return;
    }
    const timeoutMs = parts.handshakeTimeoutMs();
    handshaking.set(
      conn,
      setTimeout(() => {
        failed(client, `TLS handshake not finished within ${timeoutMs} ms`);
        cut(conn);
      }, timeoutMs),
    );
    try {
      await conn.handshake();
    } catch (error) {
      // Cut by the timer or by close(): counted there, or not a failure.
      if (!handshaking.has(conn)) return;
      failed(client, (error as Error).message);
      cut(conn);
      return;
    }
    if (!handshaking.has(conn)) return;
    clearTimeout(handshaking.get(conn));
    handshaking.delete(conn);
    onSocket(new ConnSocket(conn));
  };
  const closed = new WeakSet<Deno.TlsListener>();
  const serve = (listening: Deno.TlsListener) => {
    loops.push(acceptLoop(listening, handshake, { log: parts.log, closed }));
  };
  const loops: Promise<void>[] = [];
  let listener = open(material, address);
  const port = listener.addr.port;
  serve(listener);
  return {
    port,
    renew: (next) => {
      if (next.requireClientCert) {
        throw new Error("bug: Deno.listenTls cannot ask for client certificates (use node:tls)");
      }
      // The new listener takes the port alongside the old one before the old one closes.
      const previous = listener;
      listener = open(next, { host: address.host, port });
      serve(listener);
      closed.add(previous);
      previous.close();
    },
    cutHandshakes: () => {
      for (const conn of [...handshaking.keys()]) cut(conn);
    },
    close: async () => {
      closed.add(listener);
      listener.close();
      await Promise.all(loops);
    },
  };
}

function open(material: ServerTls, address: { host: string; port: number }): Deno.TlsListener {
  return Deno.listenTls({
    hostname: address.host,
    port: address.port,
    cert: material.cert,
    key: material.key,
    reusePort: true,
  });
}

/** Accepts until the listener closes; each connection's handshake runs on its own. */
async function acceptLoop(
  listener: Deno.TlsListener,
  handshake: (conn: Deno.TlsConn) => Promise<void>,
  parts: { log: Logger; closed: WeakSet<Deno.TlsListener> },
): Promise<void> {
  for (;;) {
    let conn: Deno.TlsConn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (parts.closed.has(listener)) return;
      // Out of file descriptors and the like: the next accept may succeed.
      parts.log.error("server_error", { message: String(error) });
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    handshake(conn);
  }
}
