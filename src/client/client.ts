/**
 * A small MerkleKV client over TCP, for users, tests, benchmarks and node-to-node sync.
 *
 * Requests are pipelined: send many lines, and each reply (one line, or a counted block such
 * as `VALUES n`) settles its request in order. Keys and values are binary strings (one code
 * unit per byte, see docs/protocol.md); use toBinary/fromBinary for UTF-8 text.
 */

import * as net from "node:net";
import { Buffer } from "node:buffer";
import { INFO_END, replyLineCount } from "../protocol/mod.ts";
import { encodeLatin1 } from "../store/mod.ts";

export interface ClientOptions {
  host?: string;
  port: number;
  /** Connect and per-request timeout; a request not answered within it rejects. */
  timeoutMs?: number;
  /**
   * Largest reply accepted, in bytes; a larger one fails every outstanding request and closes
   * the connection (a peer cannot make the client buffer without bound). Default 64 MiB.
   */
  maxReplyBytes?: number;
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

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024;
/** Reply lines kept that answered no request (for diagnosis); later ones are dropped. */
const MAX_UNEXPECTED_LINES = 100;

/** UTF-8 text -> binary string (what goes on the wire). */
export function toBinary(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** Binary string -> UTF-8 text. */
export function fromBinary(binary: string): string {
  return Buffer.from(binary, "latin1").toString("utf8");
}

export class ClientError extends Error {}

export class MerkleKVClient {
  readonly #socket: net.Socket;
  readonly #timeoutMs: number;
  readonly #maxReplyBytes: number;
  readonly #pending: Pending[] = [];
  #buffer = "";
  #closedError: Error | null = null;

  private constructor(socket: net.Socket, timeoutMs: number, maxReplyBytes: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#maxReplyBytes = maxReplyBytes;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk.toString("latin1")));
    socket.on("error", (error) => this.#fail(error));
    socket.on("close", () => this.#fail(new ClientError("connection closed")));
  }

  static connect(options: ClientOptions): Promise<MerkleKVClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const host = options.host ?? "127.0.0.1";
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ClientError(`connect to ${host}:${options.port} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(
          new MerkleKVClient(socket, timeoutMs, options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES),
        );
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Sends one request line; resolves to its reply lines (header first). */
  request(line: string): Promise<string[]> {
    return this.pipeline([line]).then((replies) => replies[0]);
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

  /** Reply lines that arrived with no request outstanding (should stay empty). */
  readonly unexpected: string[] = [];

  async get(key: string): Promise<string | null> {
    const [line] = await this.request(`GET ${key}`);
    if (line === "NOT_FOUND") return null;
    return expectPrefix(line, "VALUE ");
  }

  async set(key: string, value: string): Promise<void> {
    expectExactly((await this.request(`SET ${key} ${value}`))[0], "OK");
  }

  async del(key: string): Promise<boolean> {
    const [line] = await this.request(`DEL ${key}`);
    if (line === "NOT_FOUND") return false;
    expectExactly(line, "DELETED");
    return true;
  }

  async hash(): Promise<string> {
    return expectPrefix((await this.request("HASH"))[0], "HASH ");
  }

  /** INFO as a map of name -> value. */
  async info(): Promise<Map<string, string>> {
    const lines = await this.request("INFO");
    const fields = new Map<string, string>();
    for (const line of lines.slice(1, -1)) {
      const colon = line.indexOf(":");
      fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
    return fields;
  }

  close(): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // A server that does not close its side within a second is cut off.
      const timer = setTimeout(() => this.#socket.destroy(), 1000);
      this.#socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.#socket.end();
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
    if ((pending?.bytes ?? 0) + this.#buffer.length > this.#maxReplyBytes) this.#tooLarge();
  }

  #tooLarge(): void {
    this.#fail(new ClientError(`reply larger than ${this.#maxReplyBytes} bytes`));
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
    if (pending.bytes > this.#maxReplyBytes) return this.#tooLarge();
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
      this.#fail(new ClientError(`no reply within ${this.#timeoutMs} ms`));
      this.#socket.destroy();
    }, this.#timeoutMs);
  }

  #fail(error: Error): void {
    this.#closedError ??= error;
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
  }
}

function expectPrefix(line: string, prefix: string): string {
  if (!line.startsWith(prefix)) throw new ClientError(`unexpected reply: ${line}`);
  return line.slice(prefix.length);
}

function expectExactly(line: string, expected: string): void {
  if (line !== expected) throw new ClientError(`unexpected reply: ${line}`);
}
