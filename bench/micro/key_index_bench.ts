/**
 * The store's key index at 100,000 keys: a lookup that hits, one that misses, a lookup of a key
 * still in the received bytes, and filling an empty index (which grows it by incremental
 * resizes) with 10,000 keys. Hashes are computed before timing: the figures are the index's.
 * `deno task bench:micro`.
 */

import { hashBytes } from "../../src/store/hash.ts";
import { indexHashOfKey } from "../../src/store/store.ts";
import { KeyIndex } from "../../tests/_support/key_index.ts";

const KEY_COUNT = 100_000;
const FILL_KEYS = 10_000;
/** As the store seeds its key hash (store.ts): findBytes needs the same hash as find. */
const KEY_HASH_SEED = 0x4d4b5631;

interface BenchEntry {
  readonly key: string;
}

const keys = Array.from({ length: KEY_COUNT }, (_, i) => "key:" + String(i).padStart(8, "0"));
const hashes = Int32Array.from(keys, indexHashOfKey);
const missingKeys = keys.map((key) => "gone" + key.slice(4));
const missingHashes = Int32Array.from(missingKeys, indexHashOfKey);
const keyBytes = keys.map((key) => new TextEncoder().encode(key));
const index = new KeyIndex<BenchEntry>();
// hashes, missingHashes and keyBytes are built from keys, one element per key: the reads
// below, setup and timed alike, index them with a non-null assertion (no check timed).
for (const [i, key] of keys.entries()) index.put(undefined, { key }, hashes[i]!);
const [firstBytes] = keyBytes;
if (
  firstBytes === undefined ||
  hashBytes(firstBytes, 0, firstBytes.length, KEY_HASH_SEED)[0] !== hashes[0]
) {
  throw new Error("findBytes would look for another hash than find");
}
/** The key the next call looks up: always below KEY_COUNT. */
let next = 0;

Deno.bench("find, hit", { group: "lookup, 100,000 keys", baseline: true }, () => {
  if (index.find(keys[next]!, hashes[next]!) === undefined) throw new Error("key lost");
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("find, miss", { group: "lookup, 100,000 keys" }, () => {
  if (index.find(missingKeys[next]!, missingHashes[next]!) !== undefined) {
    throw new Error("found a missing key");
  }
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("findBytes, hit", { group: "lookup, 100,000 keys" }, () => {
  const bytes = keyBytes[next]!;
  if (index.findBytes(bytes, 0, bytes.length, hashes[next]!) === undefined) {
    throw new Error("key lost");
  }
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("put of 10,000 new keys into an empty index", { group: "fill" }, () => {
  const fresh = new KeyIndex<BenchEntry>();
  for (let i = 0; i < FILL_KEYS; i++) fresh.put(undefined, { key: keys[i]! }, hashes[i]!);
});
