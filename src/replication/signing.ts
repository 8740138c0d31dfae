/**
 * HMAC-SHA256 tags on replication messages (see docs/replication-security.md). The keys are
 * imported into Web Crypto once, as non-extractable keys; after that a tag costs one
 * crypto.subtle call per batch (one per event-loop tick), not per write.
 */

import { createHash } from "node:crypto";
import { KEY_ID_BYTES, type SignedParts, TAG_BYTES } from "./codec.ts";

const HMAC_SHA256 = { name: "HMAC", hash: "SHA-256" } as const;

/** A key from replication.signing_key_file: its bytes stay here and in Web Crypto only. */
export interface SigningKey {
  /** The first KEY_ID_BYTES bytes of SHA-256 of the secret: sent, never the secret. */
  id: Uint8Array;
  secret: Uint8Array;
}

/** The key id of a secret: the first 8 bytes of its SHA-256. */
export function keyIdOf(secret: Uint8Array): Uint8Array {
  const digest = createHash("sha256").update(secret).digest();
  return new Uint8Array(digest.subarray(0, KEY_ID_BYTES));
}

export function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

/** Signs with the first key, verifies with any of them. */
export class Signer {
  /** The id of the key that signs (the first in the file). */
  readonly keyId: Uint8Array;
  readonly keyCount: number;
  /** Key id (hex) -> imported key. Resolves once, at start. */
  readonly #keys: Promise<Map<string, CryptoKey>>;
  readonly #signingKey: Promise<CryptoKey>;

  constructor(keys: readonly SigningKey[]) {
    const first = keys[0];
    if (first === undefined) throw new Error("a signer needs at least one key");
    this.keyId = first.id;
    this.keyCount = keys.length;
    this.#keys = importKeys(keys);
    this.#signingKey = this.#keys.then((imported) => {
      const key = imported.get(hex(first.id));
      if (key === undefined) throw new Error("the signing key was not imported");
      return key;
    });
  }

  /** Writes the tag into the last TAG_BYTES bytes, over every byte before them. */
  async sign(message: Uint8Array): Promise<void> {
    const tagStart = message.byteLength - TAG_BYTES;
    const key = await this.#signingKey;
    const tag = await crypto.subtle.sign("HMAC", key, bufferSource(message.subarray(0, tagStart)));
    message.set(new Uint8Array(tag), tagStart);
  }

  /** null when the tag is right for one of our keys; else why not (no key is ever named). */
  async verify(parts: SignedParts): Promise<string | null> {
    const keyIdHex = hex(parts.keyId);
    const key = (await this.#keys).get(keyIdHex);
    if (key === undefined) return `signed with key id ${keyIdHex}, which this node does not have`;
    const authentic = await crypto.subtle.verify(
      "HMAC",
      key,
      bufferSource(parts.tag),
      bufferSource(parts.signed),
    );
    return authentic ? null : `wrong tag for key id ${keyIdHex}`;
  }
}

async function importKeys(keys: readonly SigningKey[]): Promise<Map<string, CryptoKey>> {
  const imported = new Map<string, CryptoKey>();
  for (const { id, secret } of keys) {
    // Not extractable: not even this process can read the key back out of Web Crypto.
    const key = await crypto.subtle.importKey("raw", bufferSource(secret), HMAC_SHA256, false, [
      "sign",
      "verify",
    ]);
    imported.set(hex(id), key);
  }
  return imported;
}

/**
 * Web Crypto's types refuse views of a SharedArrayBuffer; these bytes (MQTT payloads, encoded
 * messages, keys read from a file) are views of ordinary ArrayBuffers.
 */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}
