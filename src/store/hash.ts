/**
 * 64-bit hashes as two 32-bit lanes, computed synchronously in plain JavaScript.
 *
 * Keys are short, and a per-call WebAssembly or WebCrypto hash costs more than this loop for
 * them (see docs/anti-entropy.md, Merkle tree). The same function runs on every node, so hashes
 * agree across the cluster. Results go to a shared two-lane buffer to avoid allocating on the write
 * path; copy the lanes out before the next call.
 */

/**
 * A 64-bit hash as two 32-bit lanes: [0] the low 32 bits, [1] the high 32 bits. The type says
 * both are there (an Int32Array's elements are otherwise `number | undefined` to the compiler).
 */
export type Lanes = Int32Array & { 0: number; 1: number };

/** The lanes of the last hash computed. Two elements from its allocation on. */
export const lanes = new Int32Array(2) as Lanes;

const PRIME_A = 0x9e3779b1;
const PRIME_B = 0x85ebca77;
const PRIME_C = 0xc2b2ae3d;
const PRIME_D = 0x27d4eb2f;

function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Hashes a binary string (code units 0..255, or any UTF-16) into `lanes`. */
export function hashString(text: string, seed: number): Lanes {
  let h1 = PRIME_A ^ seed;
  let h2 = PRIME_B ^ Math.imul(seed, PRIME_C);
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, PRIME_C);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ code, PRIME_D);
    h2 = (h2 << 17) | (h2 >>> 15);
  }
  return finish(h1, h2, length);
}

/** hashString of the binary string of bytes[start, end), read from the bytes. */
export function hashBytes(bytes: Uint8Array, start: number, end: number, seed: number): Lanes {
  let h1 = PRIME_A ^ seed;
  let h2 = PRIME_B ^ Math.imul(seed, PRIME_C);
  // The caller's range lies in `bytes`: no check per byte.
  for (let i = start; i < end; i++) {
    const code = bytes[i]!;
    h1 = Math.imul(h1 ^ code, PRIME_C);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = Math.imul(h2 ^ code, PRIME_D);
    h2 = (h2 << 17) | (h2 >>> 15);
  }
  return finish(h1, h2, end - start);
}

function finish(h1: number, h2: number, length: number): Lanes {
  h1 ^= length;
  h2 ^= length;
  h1 = finalMix(h1 ^ Math.imul(h2, PRIME_A));
  h2 = finalMix(h2 ^ Math.imul(h1, PRIME_B));
  lanes[0] = h1;
  lanes[1] = h2;
  return lanes;
}

/** Folds one 32-bit word into a running lane. */
function fold(h: number, word: number, prime: number): number {
  h = Math.imul(h ^ word, prime);
  return (h << 15) | (h >>> 17);
}

const TWO_POW_32 = 4294967296;

/**
 * Hash of an entry's identity: key hash, version, tombstone flag and expiry. The version
 * (HLC + node id) is unique per write, so it stands for the value (see docs/anti-entropy.md, Merkle
 * tree).
 */
export function hashEntry(
  keyLow: number,
  keyHigh: number,
  hlc: number,
  nodeHash: number,
  isTombstone: boolean,
  expiresAtMs: number,
): Lanes {
  const hlcLow = hlc >>> 0;
  const hlcHigh = Math.floor(hlc / TWO_POW_32);
  const expiryLow = expiresAtMs >>> 0;
  const expiryHigh = Math.floor(expiresAtMs / TWO_POW_32);
  const flags = isTombstone ? 1 : 2;
  let h1 = keyLow;
  let h2 = keyHigh;
  h1 = fold(h1, hlcLow, PRIME_A);
  h2 = fold(h2, hlcHigh, PRIME_B);
  h1 = fold(h1, nodeHash, PRIME_C);
  h2 = fold(h2, flags, PRIME_D);
  h1 = fold(h1, expiryLow, PRIME_B);
  h2 = fold(h2, expiryHigh, PRIME_A);
  h1 = finalMix(h1 ^ Math.imul(h2, PRIME_D));
  h2 = finalMix(h2 ^ Math.imul(h1, PRIME_C));
  lanes[0] = h1;
  lanes[1] = h2;
  return lanes;
}

/** Hex of a 64-bit hash given as lanes (high lane first), 16 characters. */
export function hashToHex(low: number, high: number): string {
  return (high >>> 0).toString(16).padStart(8, "0") + (low >>> 0).toString(16).padStart(8, "0");
}
