/**
 * One request on a fresh connection, for either protocol: readiness pings, DBSIZE, INFO.
 */

import { Buffer } from "node:buffer";
import {
  createReplyParser,
  type Protocol,
  type Reply,
  respCommand,
} from "../load/load_protocol.ts";

/** A request's bytes: words joined by spaces, or a RESP array. */
function encode(protocol: Protocol, words: readonly string[]): string {
  return protocol === "redis" ? respCommand(words) : words.join(" ") + "\r\n";
}

/** The name the benchmark's certificates carry (tests/_support/tls.ts makes them). */
export const TLS_SERVERNAME = "localhost";

/** TLS for a probe: the CA's PEM and the name the server's certificate must carry. */
export interface ProbeTls {
  caPem: string;
  servername: string;
}

/**
 * Sends one request and resolves with its reply. With `auth` (e.g. ["AUTH", password]), that
 * request goes first on the connection and must be answered OK (the error never shows it).
 * With `tls`, the connection speaks TLS and checks the server's certificate.
 */
export async function request(
  port: number,
  protocol: Protocol,
  words: readonly string[],
  timeoutMs = 5_000,
  auth: readonly string[] | null = null,
  tls: ProbeTls | null = null,
): Promise<Reply> {
  const text = (auth === null ? "" : encode(protocol, auth)) + encode(protocol, words);
  let conn: Deno.Conn | null = null;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn?.close();
  }, timeoutMs);
  try {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    conn = tcp;
    if (timedOut) throw new Error("timed out");
    if (tls !== null) {
      conn = await Deno.startTls(tcp, { hostname: tls.servername, caCerts: [tls.caPem] });
    }
    return await exchange(conn, protocol, text, auth !== null, port);
  } catch (error) {
    if (timedOut) {
      throw new Error(`no reply to ${words[0]} on port ${port} within ${timeoutMs} ms`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed by the timeout
    }
  }
}

/** Writes the request bytes and reads the reply (after AUTH's OK when `authFirst`). */
async function exchange(
  conn: Deno.Conn,
  protocol: Protocol,
  text: string,
  authFirst: boolean,
  port: number,
): Promise<Reply> {
  const bytes = Buffer.from(text, "latin1");
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
  const parser = createReplyParser(protocol);
  let authPending = authFirst;
  for (;;) {
    const chunk = new Uint8Array(16 * 1024);
    const count = await conn.read(chunk);
    if (count === null) throw new Error(`port ${port} closed before replying`);
    parser.push(chunk.subarray(0, count));
    for (let reply = parser.next(); reply !== null; reply = parser.next()) {
      if (!authPending) return reply;
      authPending = false;
      if (reply.kind !== "status" || reply.text !== "OK") {
        const why = reply.kind === "error" ? reply.message : reply.kind;
        throw new Error(`port ${port} refused AUTH: ${why}`);
      }
    }
  }
}

/** True once the server answers PING with PONG. */
export async function answersPing(
  port: number,
  protocol: Protocol,
  auth: readonly string[] | null = null,
  tls: ProbeTls | null = null,
): Promise<boolean> {
  try {
    const reply = await request(port, protocol, ["PING"], 1_000, auth, tls);
    return reply.kind === "status" && reply.text === "PONG";
  } catch {
    return false;
  }
}

export interface WaitOptions {
  /** performance.now() when the process was started: the result counts from here. */
  startedMs: number;
  timeoutMs: number;
  /** True once the process has exited: stop waiting. */
  exited: () => boolean;
  intervalMs?: number;
  /** Sent first on each connection (a server that requires AUTH); default none. */
  auth?: readonly string[] | null;
  /** The server speaks TLS; default plain TCP. */
  tls?: ProbeTls | null;
}

/** Polls PING until it is answered; ms from startedMs to the first PONG. */
export async function waitForPing(
  port: number,
  protocol: Protocol,
  options: WaitOptions,
): Promise<number> {
  const { startedMs, timeoutMs, exited, intervalMs = 5, auth = null, tls = null } = options;
  const deadline = startedMs + timeoutMs;
  while (performance.now() < deadline) {
    if (exited()) throw new Error("the server exited before answering PING");
    if (await answersPing(port, protocol, auth, tls)) return performance.now() - startedMs;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`no PONG on port ${port} within ${timeoutMs} ms`);
}
