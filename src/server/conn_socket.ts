/**
 * A Deno.Conn (the TLS port's, from Deno.listenTls) as the ClientSocket a Connection serves,
 * with node:net's meanings: "data" events unless paused, writes queued by reference and
 * written one op at a time (what queues meanwhile goes out together), "drain" after a write
 * returned false, and, like node:net without allowHalfOpen, the end of the client's bytes ends
 * our side once our writes are out. Bounded: one read buffer per connection of at most
 * MAX_READ_BUFFER_BYTES; what is queued for writing the Connection bounds
 * (maxPendingReplyBytes).
 */

import { Buffer } from "node:buffer";
import type { ClientSocket } from "./client_socket.ts";

/** A connection reads into a buffer this big at first, doubled each time a read fills it. */
const READ_BUFFER_BYTES = 4 * 1024;
const MAX_READ_BUFFER_BYTES = 64 * 1024;
/** As node:net's default: write() returns false once this much is queued. */
const HIGH_WATER_MARK_BYTES = 16 * 1024;

const encoder = new TextEncoder();

export class ConnSocket implements ClientSocket {
  readonly remoteAddress: string;
  bytesRead = 0;
  bytesWritten = 0;
  writableLength = 0;
  writableNeedDrain = false;
  destroyed = false;
  readonly #conn: Deno.Conn;
  #readBuffer = new Uint8Array(READ_BUFFER_BYTES);
  /** Bytes to write, in order; the op in flight has taken the ones before. */
  #queue: Uint8Array[] = [];
  #writing = false;
  /** end() was called: our side ends once the queue is written. */
  #ending = false;
  /** The client's side ended (read returned null), and ours (closeWrite done). */
  #readEnded = false;
  #writeEnded = false;
  #paused = false;
  /** Wakes the read loop when resume() is called while it waits. */
  #wake: (() => void) | null = null;
  /** Bytes read while paused, handed out by resume(). */
  #stashed: Uint8Array[] = [];
  #onData: ((chunk: Uint8Array) => void)[] = [];
  #onDrain: (() => void)[] = [];
  #onClose: (() => void)[] = [];
  #onError: ((error: Error) => void)[] = [];

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    const address = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = address.hostname;
    this.#readLoop();
  }

  /** Deno sets TCP_NODELAY on every TCP connection already. */
  setNoDelay(): this {
    return this;
  }

  on(event: "data", listener: (chunk: Uint8Array) => void): this;
  on(event: "drain" | "close", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(event: string, listener: (argument: never) => void): this {
    const listeners = {
      data: this.#onData,
      drain: this.#onDrain,
      close: this.#onClose,
      error: this.#onError,
    }[event] as ((argument: never) => void)[] | undefined;
    if (listeners === undefined) throw new Error(`bug: ConnSocket has no "${event}" event`);
    listeners.push(listener);
    return this;
  }

  pause(): this {
    this.#paused = true;
    return this;
  }

  resume(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    while (this.#stashed.length > 0 && !this.#paused && !this.destroyed) {
      this.#emitData(this.#stashed.shift() as Uint8Array);
    }
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    return this;
  }

  write(bytes: Uint8Array | string): boolean {
    if (this.destroyed || this.#ending) return false;
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    if (data.length > 0) {
      this.#queue.push(data);
      this.writableLength += data.length;
      if (!this.#writing) this.#writeLoop();
    }
    if (this.writableLength < HIGH_WATER_MARK_BYTES) return true;
    this.writableNeedDrain = true;
    return false;
  }

  end(): this;
  end(bytes: string): this;
  end(bytes?: string): this {
    if (bytes !== undefined) this.write(bytes);
    if (this.#ending || this.destroyed) return this;
    this.#ending = true;
    if (!this.#writing) this.#endWrites();
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.#queue = [];
    this.#stashed = [];
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
    // As node:net: "close" comes after the current call, once.
    queueMicrotask(() => {
      for (const listener of this.#onClose) listener();
    });
    return this;
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.destroyed) {
        if (this.#paused) await new Promise<void>((resolve) => this.#wake = resolve);
        if (this.destroyed) return;
        const buffer = this.#readBuffer;
        const count = await this.#conn.read(buffer);
        if (count === null || this.destroyed) break;
        this.bytesRead += count;
        // The framer keeps what it is given: a copy, so that the buffer can be read into again.
        const chunk = Buffer.allocUnsafe(count);
        chunk.set(buffer.subarray(0, count));
        if (count === buffer.length && buffer.length < MAX_READ_BUFFER_BYTES) {
          this.#readBuffer = new Uint8Array(2 * buffer.length);
        }
        if (this.#paused) this.#stashed.push(chunk);
        else this.#emitData(chunk);
      }
    } catch (error) {
      if (this.destroyed) return;
      for (const listener of this.#onError) listener(error as Error);
      this.destroy();
      return;
    }
    // The client ended its side: ours ends once our writes are out (node:net, allowHalfOpen off).
    this.#readEnded = true;
    if (this.#writeEnded) this.destroy();
    else this.end();
  }

  #emitData(chunk: Uint8Array): void {
    for (const listener of this.#onData) listener(chunk);
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.destroyed) {
        const queue = this.#queue;
        this.#queue = [];
        const bytes = queue.length === 1 ? queue[0] as Uint8Array : Buffer.concat(queue);
        let written = 0;
        while (written < bytes.length) {
          written += await this.#conn.write(bytes.subarray(written));
        }
        this.bytesWritten += bytes.length;
        this.writableLength -= bytes.length;
      }
    } catch (error) {
      this.#writing = false;
      if (this.destroyed) return;
      for (const listener of this.#onError) listener(error as Error);
      this.destroy();
      return;
    }
    this.#writing = false;
    if (this.destroyed) return;
    if (this.writableNeedDrain) {
      this.writableNeedDrain = false;
      for (const listener of this.#onDrain) listener();
    }
    if (this.#ending && this.#queue.length === 0) this.#endWrites();
  }

  /** Everything queued is written: ends our side, and closes once the client's has ended. */
  async #endWrites(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch {
      this.destroy();
      return;
    }
    this.#writeEnded = true;
    if (this.#readEnded) this.destroy();
  }
}
