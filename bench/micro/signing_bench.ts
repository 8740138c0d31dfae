/**
 * What signed replication costs per batch (see docs/replication-security.md, Cost): encode and
 * sign on the publisher, check the tag and decode on the receiver, for a batch of one 100 B
 * write, of 32 (one pipelined chunk) and of a full 256 KiB batch, against the same unsigned.
 * `deno task bench:micro`.
 */

import {
  decodeBatch,
  encodeBatch,
  SIGNED_BATCH_FORMAT_VERSION,
  signedParts,
} from "../../src/replication/codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import { keyIdOf, Signer } from "../../src/replication/signing.ts";

const KEY = new TextEncoder().encode(
  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
);
const signer = new Signer([{ id: keyIdOf(KEY), secret: KEY }]);

function entries(count: number, valueBytes: number): Entry[] {
  return Array.from({ length: count }, (_, index) => ({
    key: `key:${String(index).padStart(12, "0")}`,
    value: "v".repeat(valueBytes),
    hlc: 1_700_000_000_000 * 1024 + index,
    node: "node-a",
    expiresAtMs: 0,
  }));
}

const SIZES: [string, Entry[]][] = [
  ["1 x 100 B", entries(1, 100)],
  ["32 x 100 B", entries(32, 100)],
  ["256 KiB (64 x 4 KiB)", entries(64, 4096)],
];

for (const [name, batchEntries] of SIZES) {
  const batch = { origin: "node-a", incarnation: 1, firstSequence: 1, entries: batchEntries };
  Deno.bench(`unsigned: encode + decode, ${name}`, { group: name, baseline: true }, () => {
    if (!decodeBatch(encodeBatch(batch)).ok) throw new Error("did not decode");
  });
  Deno.bench(`signed: encode + sign + verify + decode, ${name}`, { group: name }, async () => {
    const bytes = encodeBatch(batch, signer.keyId);
    await signer.sign(bytes);
    const parts = signedParts(bytes, SIGNED_BATCH_FORMAT_VERSION);
    if (parts === null || (await signer.verify(parts)) !== null) throw new Error("not authentic");
    if (!decodeBatch(bytes).ok) throw new Error("did not decode");
  });
}
