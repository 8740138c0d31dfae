/**
 * A raw TCP connection for tests that need what MerkleKVClient hides: exact bytes received,
 * when the server closes, and a reader that stops reading on purpose.
 */

import * as net from "node:net";
import { Buffer } from "node:buffer";

export class RawSocket {
  readonly socket: net.Socket;
  /** Every byte received so far, as a binary string. */
  received = "";
  receivedBytes = 0;
  /** Settles when the connection is fully closed (either side). */
  readonly closed: Promise<void>;
  /** Keep the received text (false: only count bytes, for large transfers). */
  keepText = true;
  #isClosed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.receivedBytes += chunk.length;
      if (this.keepText) this.received += chunk.toString("latin1");
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.#isClosed = true;
        resolve();
      })
    );
  }

  static connect(
    port: number,
    options: { allowHalfOpen?: boolean; host?: string } = {},
  ): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host: options.host ?? "127.0.0.1",
        port,
        allowHalfOpen: options.allowHalfOpen ?? false,
      });
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawSocket(socket));
      });
      socket.once("error", reject);
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Writes a binary string; resolves once it is handed to the operating system. */
  write(bytes: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(Buffer.from(bytes, "latin1"), (error) => error ? reject(error) : resolve());
    });
  }

  /** Waits until `predicate(received)` holds, or throws after timeoutMs. */
  async waitFor(what: string, predicate: (received: string) => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.tail())}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits for the close, or throws after timeoutMs. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("connection not closed in time")), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  tail(): string {
    return this.received.length > 200 ? "…" + this.received.slice(-200) : this.received;
  }

  /** Closes at once and waits for the close. */
  async destroy(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }
}
