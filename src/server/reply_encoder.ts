import { Buffer } from "node:buffer";
import { encodeLatin1, writeLatin1 } from "../store/mod.ts";
import type { ReplyBytes } from "./server.ts";

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
export class ReplyEncoder {
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

/** The chunk buffer's size at first and after a large chunk. */
const CHUNK_INITIAL_BYTES = 16 * 1024;

/**
 * The replies of the chunk of lines being run, as bytes: strings are encoded into it, and the
 * GET path copies values straight from the store (ReplyBytes). One per server: a connection
 * runs its lines and takes their replies out (take()) before any other connection runs, since
 * nothing runs a connection's lines from within the node's handleLine.
 *
 * The socket may keep what it is given by reference until the kernel takes it (node:net does,
 * measured: see docs/performance.md, Values outside the heap), so take() hands out either a
 * copy or the buffer itself, lent: while lent, the next chunk goes into a new buffer, and the
 * lent one is reused only when giveBack() says the socket wrote it whole at once.
 */
export class ReplyChunk implements ReplyBytes {
  #bytes: Buffer = Buffer.allocUnsafe(CHUNK_INITIAL_BYTES);
  #lent = false;
  length = 0;

  /** Starts a chunk: what an earlier one left (only a thrown error leaves any) is dropped. */
  start(): void {
    this.length = 0;
  }

  room(bytes: number): Uint8Array {
    const needed = this.length + bytes;
    if (this.#lent || needed > this.#bytes.length) {
      let size = CHUNK_INITIAL_BYTES;
      while (size < needed) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      grown.set(this.#bytes.subarray(0, this.length));
      this.#bytes = grown;
      this.#lent = false;
    }
    return this.#bytes;
  }

  appendText(text: string): void {
    const bytes = this.room(text.length);
    this.length = writeLatin1(text, bytes, this.length);
  }

  /**
   * The chunk's bytes, and the chunk emptied: a copy when they are few, or wasteful to lend,
   * or `queuedBytes` says the socket has writes waiting (it would keep them); else the buffer
   * itself, lent.
   */
  take(queuedBytes: number): Uint8Array {
    const length = this.length;
    this.length = 0;
    const bytes = this.#bytes;
    if (
      length < SHARED_REPLY_MIN_BYTES || queuedBytes > 0 ||
      bytes.length > SHARED_REPLY_MAX_WASTE * length
    ) {
      const copy = Buffer.allocUnsafe(length);
      copy.set(bytes.subarray(0, length));
      return copy;
    }
    this.#lent = true;
    return bytes.subarray(0, length);
  }

  /** `taken`, from take(), to be kept a while: a copy if it is the lent buffer, then reused. */
  keep(taken: Uint8Array): Uint8Array {
    if (!this.#lent || taken.buffer !== this.#bytes.buffer) return taken;
    const copy = Buffer.allocUnsafe(taken.length);
    copy.set(taken);
    this.giveBack(taken);
    return copy;
  }

  /** `taken`, from take(), has left the socket's queue: its buffer, if lent, may be reused. */
  giveBack(taken: Uint8Array): void {
    if (this.#lent && taken.buffer === this.#bytes.buffer && this.length === 0) this.#lent = false;
  }
}
