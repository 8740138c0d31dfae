/**
 * What keeping the Merkle tree current costs a write, measured on the store itself: a write of
 * a held key, next to the tree's part of that write on its own (the old and the new entry
 * hash, one toggle of their difference; the key's hash is not counted, the index needs it
 * anyway) and next to a plain Map doing the least such a write must do (find the entry, change
 * it in place). The tree's share of a write is the second figure over the first.
 * `deno task bench:micro`.
 */

import { hashEntry, hashString } from "../../src/store/hash.ts";
import { MerkleTree, segmentOfKeyHash } from "../../src/store/merkle.ts";
import { Store } from "../../src/store/store.ts";

const KEY_COUNT = 100_000;
const OVERWRITE = "overwrite, 100,000 keys";
const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Any seed spreads keys over the segments as the store's own does. */
const KEY_HASH_SEED = 0x4d4b5631;
const NODE_HASH = 0x1234;

const keys = Array.from({ length: KEY_COUNT }, (_, i) => "key:" + String(i).padStart(8, "0"));
const keyLows = new Int32Array(KEY_COUNT);
const keyHighs = new Int32Array(KEY_COUNT);
for (const [i, key] of keys.entries()) {
  const hash = hashString(key, KEY_HASH_SEED);
  keyLows[i] = hash[0];
  keyHighs[i] = hash[1];
}

interface PlainEntry {
  value: string;
  hlc: number;
}

const store = new Store({
  nodeId: "bench",
  clock: { nowMs: () => Date.now() },
  tombstoneGraceMs: DAY_MS,
  maxClockSkewMs: MINUTE_MS,
});
const map = new Map<string, PlainEntry>();
for (const key of keys) {
  store.write(key, "value", 0);
  map.set(key, { value: "value", hlc: 0 });
}
const tree = new MerkleTree();
/**
 * The key the next call uses: always below KEY_COUNT, the length of keys, keyLows and
 * keyHighs, which the timed code therefore reads with a non-null assertion (no check timed).
 */
let next = 0;
let hlc = Date.now() * 1024;

Deno.bench("Store.write of a held key", { group: OVERWRITE, baseline: true }, () => {
  store.write(keys[next]!, "other", 0);
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("the tree's part: old and new entry hash, one toggle", { group: OVERWRITE }, () => {
  const keyLow = keyLows[next]!;
  const keyHigh = keyHighs[next]!;
  const old = hashEntry(keyLow, keyHigh, hlc, NODE_HASH, false, 0);
  const oldLow = old[0];
  const oldHigh = old[1];
  const hash = hashEntry(keyLow, keyHigh, ++hlc, NODE_HASH, false, 0);
  tree.toggle(segmentOfKeyHash(keyHigh), oldLow ^ hash[0], oldHigh ^ hash[1]);
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("Map: find the entry, change it in place", { group: OVERWRITE }, () => {
  const entry = map.get(keys[next]!) as PlainEntry;
  entry.value = "other";
  entry.hlc = ++hlc;
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("hashEntry", { group: "tree" }, () => {
  hashEntry(keyLows[next]!, keyHighs[next]!, ++hlc, NODE_HASH, false, 0);
  next = (next + 1) % KEY_COUNT;
});

Deno.bench("MerkleTree.toggle", { group: "tree" }, () => {
  tree.toggle(segmentOfKeyHash(keyHighs[next]!), keyLows[next]!, hlc);
  next = (next + 1) % KEY_COUNT;
});
