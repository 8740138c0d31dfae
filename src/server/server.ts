/**
 * The TCP edge: accepts clients, frames their bytes into lines, hands each line to the node,
 * and writes the replies of one received chunk together. Bounded everywhere: connections
 * (maxConnections), line length (maxLineBytes) and replies queued for a slow reader
 * (maxPendingReplyBytes: past it the server stops reading from that client until it drains).
 */

import * as net from "node:net";
import { Buffer } from "node:buffer";
import { errorReply, type FramedLine, LINE_TOO_LONG, LineFramer } from "../protocol/mod.ts";
import { encodeLatin1, writeLatin1 } from "../store/mod.ts";
import type { Logger } from "../log.ts";

/**
 * Holds a connection's replies until the log has the changes of the requests they answer
 * (see README, fsync policies); the log calls it once they are logged.
 */
export interface LogWaiter {
  /** null: they are logged as the fsync policy promises; else why not (nothing acknowledged). */
  logged(error: string | null): void;
}

/** What the server needs from the node: run lines, finish a chunk. */
export interface LineHandler {
  /**
   * Runs one request line (valid only during the call); a string is the reply, a Promise
   * defers it, null closes.
   */
  handleLine(line: FramedLine, client: ClientInfo): string | Promise<string> | null;
  /**
   * Called after the lines of one chunk ran. true: their replies wait until the log has their
   * writes, and `waiter.logged()` says when (or why not).
   */
  endOfChunk(waiter: LogWaiter): boolean;
  /**
   * A hint before lines run: `bytes[start, end)` holds the lines received and not yet run
   * (the last one possibly incomplete). Changes nothing. Returns the offset up to which the
   * hint covers them: once the lines up to there have run, it is asked again.
   */
  beforeLines(bytes: Uint8Array, start: number, end: number): number;
}

export interface ClientInfo {
  remoteAddress: string;
  isLoopback: boolean;
}

export interface ServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  maxLineBytes: number;
  maxPendingReplyBytes: number;
}

export interface ServerHandle {
  port: number;
  connectionCount(): number;
  /** Stops accepting, lets every connection finish its in-flight requests, then closes them. */
  close(graceMs: number): Promise<void>;
}

export async function startServer(
  options: ServerOptions,
  handler: LineHandler,
  log: Logger,
): Promise<ServerHandle> {
  const connections = new Set<Connection>();
  const encoder = new ReplyEncoder();
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (connections.size >= options.maxConnections) {
      log.warn("connection_refused", { reason: "max connections", max: options.maxConnections });
      socket.end(errorReply("max connections"));
      return;
    }
    const connection = new Connection(socket, options, handler, encoder, log);
    connections.add(connection);
    socket.on("close", () => connections.delete(connection));
  });
  server.on("error", (error) => log.error("server_error", { message: String(error) }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.host, port: options.port, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connectionCount: () => connections.size,
    close: async (graceMs) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...connections].map((connection) => connection.finish(graceMs)));
      await closed;
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/** Below this size Buffer's pool serves replies (it does up to half its 8 KiB slabs). */
const SHARED_REPLY_MIN_BYTES = Buffer.poolSize >>> 1;
const SHARED_REPLY_MAX_BYTES = 1024 * 1024;
/** The shared buffer is not used for a reply it exceeds this many times over. */
const SHARED_REPLY_MAX_WASTE = 4;

/**
 * Encodes large replies (4 KiB .. 1 MiB, which Buffer's pool does not serve) into one buffer
 * that all connections share, reused for as long as each socket takes its write whole at once
 * (the common case): no allocation and no zero-filling per reply. A socket that queues a write
 * keeps the buffer (handedOver()), so the next large reply gets a new one. A socket that has
 * writes queued already gets bytes of its own, so each slow reader holds at most one shared
 * buffer, of at most SHARED_REPLY_MAX_WASTE times the reply that was queued in it.
 */
class ReplyEncoder {
  #bytes: Buffer | null = null;

  /** The bytes of `text` for a socket with `queuedBytes` waiting; valid until the next call. */
  encode(text: string, queuedBytes: number): Uint8Array {
    const length = text.length;
    if (length < SHARED_REPLY_MIN_BYTES || length > SHARED_REPLY_MAX_BYTES || queuedBytes > 0) {
      return encodeLatin1(text);
    }
    let bytes = this.#bytes;
    if (bytes === null || bytes.length < length) {
      let size = SHARED_REPLY_MIN_BYTES;
      while (size < length) size *= 2;
      bytes = this.#bytes = Buffer.allocUnsafe(size);
    } else if (bytes.length > SHARED_REPLY_MAX_WASTE * length) return encodeLatin1(text);
    return bytes.subarray(0, writeLatin1(text, bytes, 0));
  }

  /** The bytes last returned are held by a socket's queue: encode into new ones from now on. */
  handedOver(): void {
    this.#bytes = null;
  }
}

/** Replies of one chunk held until the log has the chunk's writes. */
interface HeldReplies {
  out: string;
  replies: number;
  /** A deferred reply that follows them. */
  deferred: Promise<string> | null;
}

class Connection implements LogWaiter {
  readonly #socket: net.Socket;
  readonly #framer: LineFramer;
  readonly #handler: LineHandler;
  readonly #encoder: ReplyEncoder;
  readonly #log: Logger;
  readonly #maxPendingReplyBytes: number;
  readonly #client: ClientInfo;
  /** Replies are held or a deferred reply is outstanding; later lines wait so replies stay in order. */
  #waiting = false;
  #held: HeldReplies | null = null;
  /** Reading was paused because bytes kept arriving while #waiting. */
  #pausedWhileWaiting = false;
  #closing = false;
  /** Replies wait in the socket past maxPendingReplyBytes: read nothing until it drains. */
  #throttled = false;
  /** Set by finish(): end the connection once in-flight requests are answered. */
  #draining = false;
  #closed: Promise<void>;

  constructor(
    socket: net.Socket,
    options: ServerOptions,
    handler: LineHandler,
    encoder: ReplyEncoder,
    log: Logger,
  ) {
    this.#socket = socket;
    this.#framer = new LineFramer(options.maxLineBytes);
    this.#handler = handler;
    this.#encoder = encoder;
    this.#log = log;
    this.#maxPendingReplyBytes = options.maxPendingReplyBytes;
    const remoteAddress = socket.remoteAddress ?? "";
    this.#client = { remoteAddress, isLoopback: LOOPBACK.test(remoteAddress) };
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      // After QUIT, a line too long or the start of shutdown, new bytes are dropped unread.
      if (this.#closing || this.#draining) return;
      this.#framer.push(chunk);
      if (!this.#waiting) this.#run();
      else if (!this.#pausedWhileWaiting) {
        // A pipelining client: keep what came, read no more until the replies are out.
        this.#pausedWhileWaiting = true;
        socket.pause();
      }
    });
    socket.on("drain", () => {
      if (!this.#throttled) return;
      this.#throttled = false;
      if (!this.#waiting && !this.#closing) {
        if (!this.#draining) socket.resume();
        this.#run();
      }
    });
    socket.on("error", (error) => log.debug("connection_error", { message: String(error) }));
    this.#closed = new Promise((resolve) => socket.on("close", () => resolve()));
  }

  /**
   * Runs every complete line. Stops at a deferred reply, at replies held for the log, at a
   * close, or when replies reach maxPendingReplyBytes (then writes them and goes on only while
   * the socket keeps up).
   */
  #run(): void {
    const framer = this.#framer;
    let hinted = this.#handler.beforeLines(framer.bytes, framer.unreadStart, framer.bytes.length);
    for (;;) {
      let out = "";
      let replies = 0;
      let full = false;
      while (!this.#waiting && !this.#closing) {
        const framed = this.#framer.advance();
        if (framed === null) break;
        if (framed === LINE_TOO_LONG) {
          out += errorReply("line too long");
          this.#log.warn("line_too_long", { client: this.#client.remoteAddress });
          this.#closing = true;
          break;
        }
        if (framer.start > hinted) {
          hinted = this.#handler.beforeLines(framer.bytes, framer.start, framer.bytes.length);
        }
        const result = this.#handler.handleLine(this.#framer, this.#client);
        if (typeof result === "string") {
          out += result;
          replies++;
          if (out.length >= this.#maxPendingReplyBytes) {
            full = true;
            break;
          }
        } else if (result === null) this.#closing = true;
        else return this.#finishChunk(out, replies, result);
      }
      this.#finishChunk(out, replies, null);
      if (!full || this.#waiting || this.#closing || this.#throttled) break;
    }
    // Shutting down and every request received is answered: close.
    if (this.#draining && !this.#waiting && !this.#throttled && !this.#closing) this.#end();
  }

  /**
   * Writes the chunk's replies, then a deferred reply if any; or, when the chunk wrote, holds
   * them until the log has its writes (logged()). Until all are written, no further line of
   * this client runs.
   */
  #finishChunk(out: string, replies: number, deferred: Promise<string> | null): void {
    if (this.#handler.endOfChunk(this)) {
      this.#held = { out, replies, deferred };
      this.#waiting = true;
      return;
    }
    this.#write(out);
    if (deferred === null) this.#afterWrite();
    else this.#awaitDeferred(deferred);
  }

  /** The log has the held chunk's writes (error null), or could not take them. */
  logged(error: string | null): void {
    const held = this.#held as HeldReplies;
    this.#held = null;
    // On failure nothing in the chunk is acknowledged: each request gets the failure instead.
    this.#write(
      error === null ? held.out : errorReply(`write not durable: ${error}`).repeat(held.replies),
    );
    if (held.deferred === null) this.#continue();
    else this.#awaitDeferred(held.deferred);
  }

  #awaitDeferred(deferred: Promise<string>): void {
    this.#waiting = true;
    deferred.then(
      (reply) => this.#write(reply),
      (error) => this.#write(errorReply(messageOf(error))),
    ).finally(() => this.#continue());
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

  #write(out: string): void {
    if (out.length === 0 || this.#socket.destroyed) return;
    const queuedBytes = this.#socket.writableLength;
    this.#socket.write(this.#encoder.encode(out, queuedBytes));
    // What the socket could not take at once it holds by reference, the shared buffer too.
    if (queuedBytes === 0 && this.#socket.writableLength > 0) this.#encoder.handedOver();
  }

  #afterWrite(): void {
    if (this.#closing) {
      this.#end();
      return;
    }
    // A client that does not read its replies is paused, not buffered without bound.
    if (this.#socket.writableLength > this.#maxPendingReplyBytes) {
      this.#throttled = true;
      this.#socket.pause();
    }
  }

  /** Ends our side; reads on (dropping the bytes) so that the client's close is seen. */
  #end(): void {
    this.#socket.end();
    this.#socket.resume();
  }

  async finish(graceMs: number): Promise<void> {
    // Answer the requests already received (as the socket drains), then close; later bytes
    // are dropped.
    this.#draining = true;
    if (!this.#waiting && !this.#throttled) this.#run();
    const timer = setTimeout(() => this.#socket.destroy(), graceMs);
    await this.#closed;
    clearTimeout(timer);
  }
}
