/**
 * One client connection: frames its bytes into lines, hands each line to the node, and
 * writes the replies of one received chunk together, in order. Bounded: line length
 * (maxLineBytes), replies queued for a slow reader (maxPendingReplyBytes: past it nothing more
 * is read or run until the socket drains; a large reply is made piece by piece as it drains),
 * and time (idle and request timeouts, checked by the server's sweep, never a timer per line).
 */

import type * as net from "node:net";
import type { Buffer } from "node:buffer";
import { errorReply, LINE_TOO_LONG, LineFramer, PiecewiseReply } from "../protocol/mod.ts";
import type { ClientInfo, ConnectionControl, LineHandler, LogWaiter } from "./server.ts";
import type { Logger } from "../log.ts";
import { isPeerGreeting, MAX_CONNECTIONS, type Slot } from "./admission.ts";
import type { ReplyChunk, ReplyEncoder } from "./reply_encoder.ts";

/** A large reply is written in pieces of about this size, each when the socket has room. */
const REPLY_PIECE_BYTES = 64 * 1024;
/** After our side ended, a client that neither reads nor closes is cut after this long. */
export const ENDED_LINGER_MS = 5_000;
/** Enough of a provisional peer's first line to see `SYNC HELLO `. */
const GREETING_BYTES = 11;

export interface ConnectionOptions {
  maxLineBytes: number;
  maxPendingReplyBytes: number;
  /** 0: never. */
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  /** A connection in a reserve slot must have sent `SYNC HELLO ` within this long. */
  peerGreetingTimeoutMs: number;
}

/** Coarse time, set by the server's sweep: connections read it instead of the clock. */
export interface CoarseClock {
  nowMs: number;
}

/** A reply that is not ready at once: a Promise (SYNC) or one made piece by piece (MGET). */
type Deferred = Promise<string> | PiecewiseReply;

/** Replies of one chunk held until the log has the chunk's writes. */
interface HeldReplies {
  out: Uint8Array;
  replies: number;
  /** A deferred reply that follows them. */
  deferred: Deferred | null;
  /** When their lines arrived (at the latest): the command durations. */
  arrivedAtMs: number;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Why a connection that is not busy should close now, or null (pure; see docs/operations.md,
 * Limits).
 */
export function timeoutOf(
  state: { lastRequestAtMs: number; partialSinceMs: number },
  nowMs: number,
  options: ConnectionOptions,
): string | null {
  if (state.partialSinceMs !== 0 && nowMs - state.partialSinceMs >= options.requestTimeoutMs) {
    return `request timeout: line not finished within ${options.requestTimeoutMs} ms`;
  }
  if (options.idleTimeoutMs > 0 && nowMs - state.lastRequestAtMs >= options.idleTimeoutMs) {
    return `idle timeout: no request within ${options.idleTimeoutMs} ms`;
  }
  return null;
}

export class Connection implements LogWaiter, ConnectionControl {
  readonly slot: Slot;
  readonly client: ClientInfo;
  /** Settles when the socket has closed. */
  readonly closed: Promise<void>;
  readonly #socket: net.Socket;
  readonly #framer: LineFramer;
  readonly #handler: LineHandler;
  readonly #encoder: ReplyEncoder;
  readonly #chunk: ReplyChunk;
  readonly #clock: CoarseClock;
  readonly #log: Logger;
  readonly #options: ConnectionOptions;
  readonly #maxPendingReplyBytes: number;
  /** Replies are held or a deferred reply is outstanding; later lines wait so replies stay in order. */
  #waiting = false;
  #held: HeldReplies | null = null;
  /** The large reply being written as the socket drains. */
  #piecewise: PiecewiseReply | null = null;
  /** Reading was paused because bytes kept arriving while #waiting. */
  #pausedWhileWaiting = false;
  #closing = false;
  /** Replies wait in the socket past maxPendingReplyBytes: run nothing until it drains. */
  #throttled = false;
  /** Set by finish(): end the connection once in-flight requests are answered. */
  #draining = false;
  /** A reserve slot: the first line must be a peer's SYNC HELLO. */
  #provisional: boolean;
  /** When the last complete line arrived or replies drained (coarse): the idle timeout. */
  #lastRequestAtMs: number;
  /** Since when bytes of an unfinished line wait (coarse), 0 if none: the request timeout. */
  #partialSinceMs: number;
  /** When our side ended (coarse), 0 before. */
  #endedAtMs = 0;
  /**
   * Complete lines may wait in the framer, received at #arrivedAtMs or later; false once
   * the framer has none (the next bytes then take a new arrival time).
   */
  #backlog = false;
  /** performance.now() when the bytes of the lines waiting arrived: one reading per chunk. */
  #arrivedAtMs = 0;
  /** Kinds of the commands run whose replies are not queued yet (handler.lastCommandKind). */
  #kinds = new Int32Array(64);
  #kindCount = 0;
  /** The kind of the command whose deferred reply is outstanding (-1: none), and its arrival. */
  #deferredKind = -1;
  #deferredArrivedAtMs = 0;

  constructor(
    socket: net.Socket,
    client: ClientInfo,
    slot: Slot,
    options: ConnectionOptions,
    parts: {
      handler: LineHandler;
      encoder: ReplyEncoder;
      chunk: ReplyChunk;
      clock: CoarseClock;
      log: Logger;
    },
  ) {
    this.#socket = socket;
    this.client = client;
    this.slot = slot;
    this.#options = options;
    this.#framer = new LineFramer(options.maxLineBytes);
    this.#handler = parts.handler;
    this.#encoder = parts.encoder;
    this.#chunk = parts.chunk;
    this.#clock = parts.clock;
    this.#log = parts.log;
    this.#maxPendingReplyBytes = options.maxPendingReplyBytes;
    this.#provisional = slot === "peer";
    this.#lastRequestAtMs = parts.clock.nowMs;
    this.#partialSinceMs = 0;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#received(chunk));
    socket.on("drain", () => this.#drained());
    socket.on("error", (error) => this.#log.debug("connection_error", { message: String(error) }));
    this.closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  /** Bytes the socket has read from and written to the client (Node counts them). */
  get bytesRead(): number {
    return this.#socket.bytesRead;
  }

  get bytesWritten(): number {
    return this.#socket.bytesWritten;
  }

  #received(chunk: Buffer): void {
    // After QUIT, a line too long, a timeout or the start of shutdown, bytes are dropped unread.
    if (this.#closing || this.#draining) return;
    // A line arrives with its last byte: lines left from earlier bytes keep the earlier time.
    if (!this.#backlog) {
      this.#arrivedAtMs = performance.now();
      this.#backlog = true;
    }
    this.#framer.push(chunk);
    if (this.#partialSinceMs === 0) this.#partialSinceMs = this.#clock.nowMs;
    if (!this.#waiting) this.#run();
    else if (!this.#pausedWhileWaiting) {
      // A pipelining client: keep what came, read no more until the replies are out.
      this.#pausedWhileWaiting = true;
      this.#socket.pause();
    }
  }

  #drained(): void {
    if (!this.#throttled) return;
    this.#throttled = false;
    // A client that reads its replies is not idle.
    this.#lastRequestAtMs = this.#clock.nowMs;
    if (this.#piecewise !== null) this.#pump();
    else if (!this.#waiting && !this.#closing) {
      if (!this.#draining) this.#socket.resume();
      this.#run();
    }
  }

  /**
   * Runs every complete line. Stops at a deferred reply, at replies held for the log, at a
   * close, or when replies fill what maxPendingReplyBytes leaves (then writes them and goes on
   * only while the socket keeps up).
   */
  #run(): void {
    const framer = this.#framer;
    let hinted = this.#handler.beforeLines(framer.bytes, framer.unreadStart, framer.bytes.length);
    const out = this.#chunk;
    for (;;) {
      out.start();
      let replies = 0;
      let full = false;
      // Replies queued plus this batch stay within maxPendingReplyBytes and one reply.
      const budget = this.#maxPendingReplyBytes - this.#socket.writableLength;
      while (!this.#waiting && !this.#closing) {
        const framed = framer.advance();
        if (framed === null) {
          this.#backlog = false;
          break;
        }
        if (framed === LINE_TOO_LONG) {
          out.appendText(this.#refuse("line too long", "line_too_long"));
          break;
        }
        this.#lastRequestAtMs = this.#partialSinceMs = this.#clock.nowMs;
        if (this.#provisional && !this.#greeted()) {
          out.appendText(this.#refuse(MAX_CONNECTIONS, "connection_refused"));
          break;
        }
        if (framer.start > hinted) {
          hinted = this.#handler.beforeLines(framer.bytes, framer.start, framer.bytes.length);
        }
        // A string reply, or "" when the handler wrote its reply into `out` itself.
        const result = this.#handler.handleLine(framer, this.client, out);
        this.#collectKind();
        if (typeof result === "string") {
          if (result.length !== 0) out.appendText(result);
          replies++;
          if (out.length >= budget) {
            full = true;
            break;
          }
        } else if (result === null) this.#closing = true;
        else return this.#finishChunk(replies, result);
      }
      this.#finishChunk(replies, null);
      if (!full || this.#waiting || this.#closing || this.#throttled) break;
    }
    if (framer.pendingBytes === 0) this.#partialSinceMs = 0;
    // Shutting down and every request received is answered: close.
    if (this.#draining && !this.#waiting && !this.#throttled && !this.#closing) this.#end();
  }

  /** In a reserve slot, the current (first) line: a peer's greeting keeps the slot. */
  #greeted(): boolean {
    const framer = this.#framer;
    const first = framer.copy(0, Math.min(GREETING_BYTES, framer.end - framer.start));
    if (!isPeerGreeting(first)) return false;
    this.#provisional = false;
    return true;
  }

  /** Marks the connection closing and returns the ERROR line that says why. */
  #refuse(reason: string, event: string): string {
    this.#log.warn(event, { reason, client: this.client.remoteAddress });
    this.#closing = true;
    return errorReply(reason);
  }

  /**
   * Writes the chunk's replies, then a deferred reply if any; or, when the chunk wrote, holds
   * them until the log has its writes (logged()). Until all are written, no further line of
   * this client runs.
   */
  #finishChunk(replies: number, deferred: Deferred | null): void {
    const arrivedAtMs = this.#arrivedAtMs;
    if (deferred !== null && this.#kindCount > 0) {
      // The deferred reply's command was the last one run; its reply is timed when written.
      this.#deferredKind = this.#kinds[--this.#kindCount]!;
      this.#deferredArrivedAtMs = arrivedAtMs;
    }
    // Out of the shared chunk before the node's endOfChunk: a copy, or its buffer lent to us.
    const queuedBytes = this.#socket.writableLength;
    const out = this.#chunk.take(queuedBytes);
    if (this.#handler.endOfChunk(this)) {
      // Held for a while, until the log has the writes: never in the lent buffer.
      this.#held = { out: this.#chunk.keep(out), replies, deferred, arrivedAtMs };
      this.#waiting = true;
      return;
    }
    this.#writeBytes(out, queuedBytes);
    this.#repliesQueued(arrivedAtMs);
    if (deferred === null) this.#afterWrite();
    else this.#awaitDeferred(deferred);
  }

  /** The log has the held chunk's writes (error null), or could not take them. */
  logged(error: string | null): void {
    const held = this.#held as HeldReplies;
    this.#held = null;
    // On failure nothing in the chunk is acknowledged: each request gets the failure instead.
    if (error === null) this.#writeBytes(held.out, this.#socket.writableLength);
    else this.#write(errorReply(`write not durable: ${error}`).repeat(held.replies));
    this.#repliesQueued(held.arrivedAtMs);
    if (held.deferred === null) this.#continue();
    else this.#awaitDeferred(held.deferred);
  }

  #awaitDeferred(deferred: Deferred): void {
    this.#waiting = true;
    if (deferred instanceof PiecewiseReply) {
      this.#piecewise = deferred;
      this.#pump();
      return;
    }
    deferred.then(
      (reply) => this.#write(reply),
      (error) => this.#write(errorReply(messageOf(error))),
    ).finally(() => {
      this.#deferredQueued();
      this.#continue();
    });
  }

  /**
   * Writes pieces of the large reply while the socket holds less than maxPendingReplyBytes;
   * the drain event calls again. So a client that does not read holds at most that much and
   * one piece (at least one line) of it in this process.
   */
  #pump(): void {
    const reply = this.#piecewise as PiecewiseReply;
    const socket = this.#socket;
    while (!reply.done) {
      if (socket.destroyed) return;
      const room = this.#maxPendingReplyBytes - socket.writableLength;
      // Without needDrain no drain event would come; the socket's own high-water mark bounds it.
      if (room <= 0 && socket.writableNeedDrain) {
        this.#throttled = true;
        return;
      }
      this.#write(reply.next(Math.min(Math.max(room, 1), REPLY_PIECE_BYTES)));
    }
    this.#piecewise = null;
    this.#deferredQueued();
    this.#continue();
  }

  /** Replies written: read and run the lines that waited. */
  #continue(): void {
    this.#waiting = false;
    this.#afterWrite();
    const paused = this.#pausedWhileWaiting;
    this.#pausedWhileWaiting = false;
    // Throttled: the drain event resumes reading; closing: #end() did.
    if (this.#closing || this.#throttled || this.#socket.destroyed) return;
    if (paused && !this.#draining) this.#socket.resume();
    this.#run();
  }

  /** After handleLine(): keeps the kind it counted until the reply is queued. */
  #collectKind(): void {
    const kind = this.#handler.lastCommandKind;
    if (kind < 0) return;
    if (this.#kindCount === this.#kinds.length) {
      const grown = new Int32Array(2 * this.#kinds.length);
      grown.set(this.#kinds);
      this.#kinds = grown;
    }
    this.#kinds[this.#kindCount++] = kind;
  }

  /**
   * The collected commands' replies are queued (written to the socket or its buffer): each
   * took at most this long since its line arrived (docs/observability.md, Command durations).
   */
  #repliesQueued(arrivedAtMs: number): void {
    if (this.#kindCount === 0) return;
    const seconds = (performance.now() - arrivedAtMs) / 1000;
    this.#handler.repliesQueued(this.#kinds, this.#kindCount, seconds);
    this.#kindCount = 0;
  }

  #deferredQueued(): void {
    if (this.#deferredKind < 0) return;
    this.#kinds[0] = this.#deferredKind;
    this.#deferredKind = -1;
    const seconds = (performance.now() - this.#deferredArrivedAtMs) / 1000;
    this.#handler.repliesQueued(this.#kinds, 1, seconds);
  }

  #write(out: string): void {
    if (out.length === 0 || this.#socket.destroyed) return;
    const queuedBytes = this.#socket.writableLength;
    this.#socket.write(this.#encoder.encode(out, queuedBytes));
    // What the socket could not take at once it holds by reference, the shared buffer too.
    if (queuedBytes === 0 && this.#socket.writableLength > 0) this.#encoder.handedOver();
  }

  /** Writes a chunk's replies as take() gave them; a lent buffer goes back once written. */
  #writeBytes(out: Uint8Array, queuedBytes: number): void {
    if (out.length === 0 || this.#socket.destroyed) return;
    this.#socket.write(out);
    // What the socket could not take at once it holds by reference (see ReplyChunk).
    if (queuedBytes === 0 && this.#socket.writableLength === 0) this.#chunk.giveBack(out);
  }

  #afterWrite(): void {
    if (this.#closing) {
      this.#end();
      return;
    }
    // A client that does not read its replies is paused, not buffered without bound.
    if (
      this.#socket.writableLength > this.#maxPendingReplyBytes && this.#socket.writableNeedDrain
    ) {
      this.#throttled = true;
      this.#socket.pause();
    }
  }

  /** Ends our side; reads on (dropping the bytes) so that the client's close is seen. */
  #end(): void {
    if (this.#endedAtMs === 0) this.#endedAtMs = this.#clock.nowMs;
    this.#socket.end();
    this.#socket.resume();
  }

  /**
   * The server's sweep: closes the connection when a timeout passed (idle, or a line not
   * finished), and cuts one that lingers after our side ended. A connection whose reply is
   * being made (the log, SYNC) is left alone.
   */
  sweep(nowMs: number): void {
    if (this.#socket.destroyed) return;
    if (this.#endedAtMs !== 0) {
      if (nowMs - this.#endedAtMs >= ENDED_LINGER_MS) this.#socket.destroy();
      return;
    }
    if (this.#closing || this.#draining) return;
    // Replies wait for a client that reads nothing: idle, but its last line cannot finish
    // while nothing is read. A reply being made (log, SYNC) is not the client's delay.
    const stalled = this.#throttled;
    if (this.#waiting && !stalled) return;
    if (this.#provisional) {
      // Peers greet at once; a silent connection must not hold a reserve slot for long.
      if (nowMs - this.#lastRequestAtMs < this.#options.peerGreetingTimeoutMs) return;
      this.#write(this.#refuse(MAX_CONNECTIONS, "connection_refused"));
      this.#end();
      return;
    }
    const reason = timeoutOf(
      {
        lastRequestAtMs: this.#lastRequestAtMs,
        partialSinceMs: stalled ? 0 : this.#partialSinceMs,
      },
      nowMs,
      this.#options,
    );
    if (reason === null) return;
    this.#log.info("connection_timeout", { reason, client: this.client.remoteAddress });
    this.#closing = true;
    this.#write(errorReply(reason));
    this.#end();
  }

  /**
   * Shutdown: answers the requests already received (as the socket drains), then closes; later
   * bytes are dropped. The server cuts whatever is still open when its grace period ends.
   */
  finish(): Promise<void> {
    this.#draining = true;
    if (!this.#waiting && !this.#throttled && !this.#closing) this.#run();
    return this.closed;
  }

  /** Refused when it opened (protected mode): one ERROR line, then closed. */
  deny(reason: string): void {
    this.#write(this.#refuse(reason, "connection_refused"));
    this.#end();
  }

  /** The node closes it (its user was removed or turned off). */
  close(reason: string): void {
    if (this.#closing || this.#socket.destroyed) return;
    this.#log.info("connection_closed", { reason, client: this.client.remoteAddress });
    this.#closing = true;
    this.#end();
  }

  get maxLineBytes(): number {
    return this.#framer.maxLineBytes;
  }

  setMaxLineBytes(bytes: number): void {
    this.#framer.maxLineBytes = bytes;
  }

  /** Cuts the connection at once (end of the shutdown grace period). */
  destroy(): void {
    this.#socket.destroy();
  }
}
