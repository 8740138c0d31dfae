/**
 * The I/O edge of one session: connects to the peer's client port with MerkleKVClient, sends
 * each step's requests pipelined in one write, hands the replies to the session, and makes the
 * repairs it asks for. Bounded in time: each request by requestTimeoutMs (the client's timer),
 * the whole session by sessionTimeoutMs, and an abort signal for shutdown.
 */

import { type ClientTls, MerkleKVClient } from "../client/mod.ts";
import type { ApplyCounts, Entry } from "../store/mod.ts";
import { formatPeerAddress, type PeerAddress } from "./peers.ts";
import type { SessionStep, SyncSession } from "./session.ts";
import type { SessionReport } from "./status.ts";

/** How a PUSH request line starts (formatRequest in codec.ts). */
const PUSH_PREFIX = "SYNC PUSH ";

/** Where a session's repairs go: the node's merge (which logs winners) and the store. */
export interface RepairSink {
  merge(entries: readonly Entry[]): ApplyCounts;
  discard(entries: readonly Entry[]): void;
}

export interface PeerLinkOptions {
  requestTimeoutMs: number;
  /** Largest reply accepted from the peer, in bytes. */
  maxReplyBytes: number;
  sessionTimeoutMs: number;
  /** Aborting ends the session at once (node shutdown). */
  signal: AbortSignal;
  /**
   * Receives the closing of the connection after a failure, so that the reply need not wait
   * for a peer that does not close its side (the client cuts it after a second). Without it,
   * the closing is awaited.
   */
  trackClosing?: (closing: Promise<void>) => void;
  /** Sent as `AUTH` first, for peers that require it (see docs/security.md); null: none. */
  credentials: PeerCredentials | null;
  /** TLS to the peer (this node's CA, and its certificate as client certificate); null: none. */
  tls: ClientTls | null;
  /**
   * Resolves once this node's log holds every change made so far; null: no log. A step with a
   * PUSH waits for it: no peer learns a total of this node's that its log may lose.
   */
  logged: (() => Promise<void>) | null;
}

export interface PeerCredentials {
  /** null: the peer's `default` user. */
  username: string | null;
  password: string;
}

class SessionAborted extends Error {}

/** Runs `session` against `peer` to its end; never throws (failures are in the report). */
export async function runSessionWithPeer(
  session: SyncSession,
  peer: PeerAddress,
  sink: RepairSink,
  options: PeerLinkOptions,
): Promise<SessionReport> {
  const startedAtMs = Date.now();
  const started = performance.now();
  const stop = stopSignal(options);
  const connecting = MerkleKVClient.connect({
    host: peer.host,
    port: peer.port,
    timeoutMs: options.requestTimeoutMs,
    maxReplyBytes: options.maxReplyBytes,
    ...(options.tls === null ? {} : { tls: options.tls }),
  });
  let client: MerkleKVClient | null = null;
  let error: string | null = null;
  try {
    client = await Promise.race([connecting, stop.promise]);
    if (options.credentials !== null) {
      await Promise.race([authenticate(client, options.credentials), stop.promise]);
    }
    error = await exchange(client, session, sink, { stop: stop.promise, logged: options.logged });
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
  } finally {
    stop.dispose();
    const closing = client !== null
      ? client.close()
      : connecting.then((late) => late.close(), () => {});
    if (error === null || options.trackClosing === undefined) await closing;
    else options.trackClosing(closing);
  }
  return {
    address: formatPeerAddress(peer),
    startedAtMs,
    durationMs: performance.now() - started,
    summary: session.summary,
    error,
  };
}

/** AUTH as the configured user; throws with the peer's reply (never the password) if refused. */
async function authenticate(client: MerkleKVClient, credentials: PeerCredentials): Promise<void> {
  const { username, password } = credentials;
  const [reply] = await client.request(
    username === null ? `AUTH ${password}` : `AUTH ${username} ${password}`,
  );
  if (reply !== "OK") {
    throw new Error(`the peer refused AUTH as ${username ?? "default"}: ${reply}`);
  }
}

/** Step after step until the session has nothing more to send; the session's error or null. */
async function exchange(
  client: MerkleKVClient,
  session: SyncSession,
  sink: RepairSink,
  { stop, logged }: { stop: Promise<never>; logged: (() => Promise<void>) | null },
): Promise<string | null> {
  let step = session.start();
  while (step.requests.length > 0) {
    if (logged !== null && step.requests.some((line) => line.startsWith(PUSH_PREFIX))) {
      await Promise.race([logged(), stop]);
    }
    const replies = client.pipeline(step.requests);
    // Settles late (rejected) when the stop wins the race; nothing else waits for it then.
    replies.catch(() => {});
    const received = await Promise.race([replies, stop]);
    if (client.unexpected.length > 0) throw new Error("the peer sent lines no request asked for");
    step = session.receive(received);
    applyRepairs(step, session, sink);
  }
  return step.error;
}

function applyRepairs(step: SessionStep, session: SyncSession, sink: RepairSink): void {
  if (step.repairs.length > 0) session.merged(sink.merge(step.repairs));
  if (step.discards.length > 0) sink.discard(step.discards);
}

/** A promise that rejects on the session deadline or on abort, and a way to disarm it. */
function stopSignal(options: PeerLinkOptions): { promise: Promise<never>; dispose(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`session not finished within ${options.sessionTimeoutMs} ms`)),
      options.sessionTimeoutMs,
    );
    onAbort = () => reject(new SessionAborted("anti-entropy is closing"));
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => {});
  return {
    promise,
    dispose: () => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
    },
  };
}
