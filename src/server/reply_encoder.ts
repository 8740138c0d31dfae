import { Buffer } from "node:buffer";
import { encodeLatin1, writeLatin1 } from "../store/mod.ts";

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
