/**
 * One request on a fresh connection, for either protocol: readiness pings, DBSIZE, INFO.
 */

import * as net from "node:net";
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

/**
 * Sends one request and resolves with its reply. With `auth` (e.g. ["AUTH", password]), that
 * request goes first on the connection and must be answered OK (the error never shows it).
 */
export function request(
  port: number,
  protocol: Protocol,
  words: readonly string[],
  timeoutMs = 5_000,
  auth: readonly string[] | null = null,
): Promise<Reply> {
  const text = (auth === null ? "" : encode(protocol, auth)) + encode(protocol, words);
  let authPending = auth !== null;
  return new Promise((resolve, reject) => {
    const parser = createReplyParser(protocol);
    const socket = net.connect({ host: "127.0.0.1", port });
    let done = false;
    const finish = (error: Error | null, reply?: Reply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(reply as Reply);
    };
    const timer = setTimeout(
      () => finish(new Error(`no reply to ${words[0]} on port ${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("connect", () => socket.write(Buffer.from(text, "latin1")));
    socket.on("data", (chunk: Buffer) => {
      try {
        parser.push(chunk);
        for (let reply = parser.next(); reply !== null; reply = parser.next()) {
          if (!authPending) return finish(null, reply);
          authPending = false;
          if (reply.kind !== "status" || reply.text !== "OK") {
            const why = reply.kind === "error" ? reply.message : reply.kind;
            return finish(new Error(`port ${port} refused AUTH: ${why}`));
          }
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.once("error", (error) => finish(error));
    socket.once("close", () => finish(new Error(`port ${port} closed before replying`)));
  });
}

/** True once the server answers PING with PONG. */
export async function answersPing(
  port: number,
  protocol: Protocol,
  auth: readonly string[] | null = null,
): Promise<boolean> {
  try {
    const reply = await request(port, protocol, ["PING"], 1_000, auth);
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
}

/** Polls PING until it is answered; ms from startedMs to the first PONG. */
export async function waitForPing(
  port: number,
  protocol: Protocol,
  options: WaitOptions,
): Promise<number> {
  const { startedMs, timeoutMs, exited, intervalMs = 5, auth = null } = options;
  const deadline = startedMs + timeoutMs;
  while (performance.now() < deadline) {
    if (exited()) throw new Error("the server exited before answering PING");
    if (await answersPing(port, protocol, auth)) return performance.now() - startedMs;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`no PONG on port ${port} within ${timeoutMs} ms`);
}
