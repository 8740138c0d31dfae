/**
 * One TCP connection to a node, speaking raw protocol lines (binary strings: one code unit per
 * byte, see docs/protocol.md).
 *
 * Requests are pipelined: send many lines, and each reply (one line, or a counted block such
 * as `VALUES n`) settles its request in order. Lines written while the socket still connects
 * wait in the socket and go out once it is open, in order.
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { Buffer } from "node:buffer";
import { INFO_END, replyLineCount } from "../protocol/mod.ts";
import { encodeLatin1 } from "../store/mod.ts";
import { ClientError, ServerError } from "./errors.ts";

export interface ConnectionOptions {
  host: string;
  port: number;
  /** Connect and per-request timeout; a request not answered within it rejects. */
  timeoutMs: number;
  /** Largest reply accepted, in bytes (see ClientOptions.maxReplyBytes). */
  maxReplyBytes: number;
  /**
   * `AUTH [user] password`, written before any other request on this connection; a reply other
   * than OK fails the connection and every request on it. null: none. Never put in a message.
   */
  authLine: string | null;
  /** null: plain TCP; else TLS with these settings (see ClientOptions.tls). */
  tls: ClientTls | null;
}

/**
 * TLS to a node whose client port has tls.cert_file set (see docs/security.md, TLS). PEM text,
 * not file paths: the caller reads the files (so a browser-free, file-free caller works too).
 */
export interface ClientTls {
  /** CA certificates that sign the node's certificate; unset: the system's trusted CAs. */
  ca?: string;
  /** This client's certificate chain, for nodes with tls.require_client_cert (with `key`). */
  cert?: string;
  /** The private key of `cert`. */
  key?: string;
  /** The name the node's certificate must hold; default: `host`. */
  serverName?: string;
  /** false accepts any certificate (tests only: anyone in the path can read and change data). */
  rejectUnauthorized?: boolean;
}

interface Pending {
  lines: string[];
  /** Lines still expected after the header: a count, or -1 while reading INFO until END. */
  remaining: number;
  headerSeen: boolean;
  /** Bytes of this reply received so far. */
  bytes: number;
  resolve: (lines: string[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Reply lines kept that answered no request (for diagnosis); later ones are dropped. */
const MAX_UNEXPECTED_LINES = 100;
/** A server that does not close its side within this long after ours is cut off. */
const CLOSE_GRACE_MS = 1000;

export class Connection {
  readonly #socket: net.Socket;
  readonly #options: ConnectionOptions;
  readonly #pending: Pending[] = [];
  /** Settles when the socket connects (or fails to). */
  readonly #ready: Promise<void>;
  /** Settles when the AUTH line (if any) has been accepted, or rejects with the refusal. */
  readonly #authenticated: Promise<void>;
  #buffer = "";
  #closedError: Error | null = null;

  /** Reply lines that arrived with no request outstanding (should stay empty). */
  readonly unexpected: string[] = [];

  /** Starts connecting; requests may be sent at once (they wait in the socket). */
  constructor(options: ConnectionOptions) {
    this.#options = options;
    const address = `${options.host}:${options.port}`;
    const socket = openSocket(options);
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk.toString("latin1")));
    socket.on("error", (error) => {
      // The socket's own message (e.g. "connect ECONNREFUSED ...") stays in ours.
      this.#fail(
        new ClientError(`connection to ${address} failed: ${error.message}`, { cause: error }),
      );
    });
    socket.on("close", () => this.#fail(new ClientError(closedMessage(socket, options))));
    this.#ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new ClientError(`connect to ${address} timed out`));
        socket.destroy();
      }, options.timeoutMs);
      // A TLS socket is ready once its handshake is done (the server's certificate checked).
      socket.once(options.tls === null ? "connect" : "secureConnect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("close", () => {
        clearTimeout(timer);
        reject(this.#closedError);
      });
    });
    // Nobody may wait for it (a connection opened on demand): failures reach the requests.
    this.#ready.catch(() => {});
    // First in the socket, so requests written after it (queued while connecting) follow it.
    this.#authenticated = options.authLine === null
      ? Promise.resolve()
      : this.#authenticate(options.authLine);
    this.#authenticated.catch(() => {});
  }

  /** A connection once it is open; rejects when it cannot be opened within the timeout. */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const connection = new Connection(options);
    await connection.#ready;
    try {
      await connection.#authenticated;
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  /**
   * Sends the AUTH line; on a refusal fails the connection (requests queued behind it reject
   * with the refusal) and rejects. The server's reply never holds the password.
   */
  async #authenticate(line: string): Promise<void> {
    const [reply] = await this.pipeline([line]);
    if (reply?.[0] === "OK") return;
    const header = reply?.[0] ?? "";
    const error = header.startsWith("ERROR ")
      ? new ServerError(header.slice("ERROR ".length))
      : new ClientError(`unexpected reply to AUTH: ${JSON.stringify(header.slice(0, 64))}`);
    this.#fail(error);
    this.#socket.destroy();
    throw error;
  }

  /** Open or still connecting: not failed, not closed. */
  get isOpen(): boolean {
    return this.#closedError === null && !this.#socket.destroyed;
  }

  /** Sends many request lines in one write; resolves to their replies, in order. */
  pipeline(lines: readonly string[]): Promise<string[][]> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    // LF ends a request line: a request holding one would be read as two.
    const split = lines.find((line) => line.includes("\n"));
    if (split !== undefined) {
      return Promise.reject(
        new ClientError(`request holds LF: ${JSON.stringify(split.slice(0, 64))}`),
      );
    }
    const replies = lines.map(() =>
      new Promise<string[]>((resolve, reject) => {
        this.#pending.push({
          lines: [],
          remaining: 0,
          headerSeen: false,
          bytes: 0,
          resolve,
          reject,
          timer: undefined,
        });
      })
    );
    this.#armTimer();
    this.#socket.write(encodeLatin1(lines.map((line) => line + "\r\n").join("")));
    return Promise.all(replies);
  }

  /** Writes raw bytes (binary string) without waiting for anything: for tests of framing. */
  writeRaw(bytes: string): void {
    this.#socket.write(encodeLatin1(bytes));
  }

  /**
   * Sends QUIT and resolves once the server has closed the connection (it answers the requests
   * before QUIT first; they settle as usual).
   */
  quit(): Promise<void> {
    if (this.#closedError !== null || this.#socket.destroyed) return this.close();
    const closed = this.#closedPromise(this.#options.timeoutMs);
    this.#socket.write(encodeLatin1("QUIT\r\n"));
    return closed;
  }

  close(): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    const closed = this.#closedPromise(CLOSE_GRACE_MS);
    this.#socket.end();
    return closed;
  }

  /** Resolves on the socket's close; destroys it when the other side waits longer than graceMs. */
  #closedPromise(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#socket.destroy(), graceMs);
      this.#socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #receive(text: string): void {
    this.#buffer += text;
    let start = 0;
    for (;;) {
      const newline = this.#buffer.indexOf("\n", start);
      if (newline === -1) break;
      const end = newline > start && this.#buffer.charCodeAt(newline - 1) === 13
        ? newline - 1
        : newline;
      this.#line(this.#buffer.slice(start, end));
      if (this.#closedError !== null) return;
      start = newline + 1;
    }
    this.#buffer = this.#buffer.slice(start);
    const pending = this.#pending[0];
    if ((pending?.bytes ?? 0) + this.#buffer.length > this.#options.maxReplyBytes) {
      this.#tooLarge();
    }
  }

  #tooLarge(): void {
    this.#fail(new ClientError(`reply larger than ${this.#options.maxReplyBytes} bytes`));
    this.#buffer = "";
    this.#socket.destroy();
  }

  #line(line: string): void {
    const pending = this.#pending[0];
    if (pending === undefined) {
      if (this.unexpected.length < MAX_UNEXPECTED_LINES) this.unexpected.push(line);
      return;
    }
    pending.lines.push(line);
    pending.bytes += line.length + 2;
    if (pending.bytes > this.#options.maxReplyBytes) return this.#tooLarge();
    if (!pending.headerSeen) {
      pending.headerSeen = true;
      pending.remaining = replyLineCount(line);
    } else if (pending.remaining === -1) {
      if (line === INFO_END) pending.remaining = 0;
    } else {
      pending.remaining--;
    }
    if (pending.remaining !== 0) return;
    this.#pending.shift();
    clearTimeout(pending.timer);
    pending.resolve(pending.lines);
    this.#armTimer();
  }

  /** One timer at a time, on the oldest outstanding request. */
  #armTimer(): void {
    const head = this.#pending[0];
    if (head === undefined || head.timer !== undefined) return;
    head.timer = setTimeout(() => {
      this.#fail(new ClientError(`no reply within ${this.#options.timeoutMs} ms`));
      this.#socket.destroy();
    }, this.#options.timeoutMs);
  }

  #fail(error: Error): void {
    this.#closedError ??= error;
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

function openSocket(options: ConnectionOptions): net.Socket {
  const { host, port } = options;
  if (options.tls === null) return net.connect({ host, port });
  const { ca, cert, key, serverName, rejectUnauthorized } = options.tls;
  return tls.connect({
    host,
    port,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    // SNI carries names only; an IP address is checked against the certificate's IP entries.
    ...(serverName !== undefined ? { servername: serverName } : net.isIP(host) ? {} : {
      servername: host,
    }),
    rejectUnauthorized: rejectUnauthorized ?? true,
  });
}

/**
 * Why the connection closed, as far as the client can tell. A TLS server that refuses the client
 * certificate may finish the handshake first (TLS 1.3) and close before any reply.
 */
function closedMessage(socket: net.Socket, options: ConnectionOptions): string {
  if (options.tls === null || socket.bytesRead > 0) return "connection closed";
  return "connection closed before any reply (the server may have refused this client's " +
    "TLS certificate, or it has none)";
}
