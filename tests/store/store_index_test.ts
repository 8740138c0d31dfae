import assert from "node:assert/strict";
import { indexHashOfKey, Store } from "../../src/store/store.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { nth } from "../_support/nth.ts";
import { storeContents as plain } from "../_support/store_contents.ts";
import { loadEntryBytes } from "../_support/load_bytes.ts";

const NOW_MS = 1_700_000_000_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const T = hlcFromMs(NOW_MS - 10_000);

function makeStore(nowMs = NOW_MS): Store {
  return new Store({
    nodeId: "node-a",
    clock: { nowMs: () => nowMs },
    tombstoneGraceMs: DAY_MS,
    maxClockSkewMs: 60_000,
  });
}

/** The first `count` keys of the form `k<i>` whose index hashes are all equal. */
function collidingKeys(count: number): string[] {
  const byHash = new Map<number, string[]>();
  for (let i = 0;; i++) {
    const key = `k${i}`;
    const hash = indexHashOfKey(key);
    const keys = byHash.get(hash);
    if (keys === undefined) byHash.set(hash, [key]);
    else {
      keys.push(key);
      if (keys.length === count) return keys;
    }
  }
}

Deno.test("keys with equal index hashes are stored, overwritten and read apart", () => {
  const [first, second] = collidingKeys(2);
  assert.ok(first !== undefined && second !== undefined, "two colliding keys");
  assert.equal(indexHashOfKey(first), indexHashOfKey(second));
  const store = makeStore();
  store.write(first, "1", 0);
  store.write(second, "2", 0);
  store.write(first, "3", 0);
  assert.equal(store.read(first)?.value, "3");
  assert.equal(store.read(second)?.value, "2");
  assert.equal(store.size, 2);
  assert.deepEqual(plain(store).map((entry) => entry.key).sort(), [first, second].sort());
});

Deno.test("removing one of two keys with equal index hashes leaves the other, and the root matches", () => {
  const [first, second] = collidingKeys(2);
  assert.ok(first !== undefined && second !== undefined, "two colliding keys");
  for (const purged of [first, second]) {
    const kept: string = purged === first ? second : first;
    const store = makeStore();
    store.applyRemote({ key: first, value: "1", hlc: T, node: "node-b", expiresAtMs: 0 });
    store.applyRemote({ key: second, value: "2", hlc: T + 1, node: "node-b", expiresAtMs: 0 });
    store.applyRemote({ key: purged, value: null, hlc: T + 2, node: "node-b", expiresAtMs: 0 });
    assert.equal(store.discard(purged, T + 2, "node-b"), true);
    assert.equal(store.size, 1);
    assert.equal(store.entry(purged), undefined);
    assert.equal(store.read(kept)?.value, kept === first ? "1" : "2");
    const alone = makeStore();
    alone.applyRemote(store.entry(kept) as Entry);
    assert.equal(store.rootHex(), alone.rootHex());
  }
});

Deno.test("loadBytes() fills an empty store like load(), and refuses a key already present", () => {
  const keys = [...collidingKeys(2), "other"];
  const entries: Entry[] = keys.map((key, i) => ({
    key,
    value: i === 1 ? null : `v${i}`,
    hlc: T + i,
    node: "node-b",
    expiresAtMs: i === 2 ? NOW_MS + 1000 : 0,
  }));
  const fast = makeStore();
  for (const entry of entries) assert.equal(loadEntryBytes(fast, entry), true);
  const merged = makeStore();
  for (const entry of entries) merged.load(entry);
  assert.deepEqual(plain(fast), plain(merged));
  assert.equal(fast.rootHex(), merged.rootHex());
  assert.equal(fast.tombstoneCount, 1);
  assert.equal(fast.countLive(), 2);
  assert.equal(loadEntryBytes(fast, { ...nth(entries, 0), hlc: T + 10 }), false);
  assert.equal(fast.read(nth(keys, 0))?.value, "v0", "the refused entry changed nothing");
});

Deno.test("keys that arrive in tree-segment order, as recovery and anti-entropy bring them, leave the index's runs short", () => {
  const all: Entry[] = Array.from({ length: 200_000 }, (_, i) => ({
    key: `key:${i}`,
    value: "v",
    hlc: T,
    node: "node-b",
    expiresAtMs: 0,
  }));
  const probe = makeStore();
  all.sort((a, b) => probe.segmentOfKey(a.key) - probe.segmentOfKey(b.key));
  // The first tenth in segment order: what a node holds partway through such a transfer.
  const entries = all.slice(0, 20_000);
  const recovered = makeStore();
  for (const entry of entries) assert.equal(loadEntryBytes(recovered, entry), true);
  const synced = makeStore();
  for (const entry of entries) assert.equal(synced.applyRemote(entry), "applied");
  for (const store of [recovered, synced]) {
    assert.equal(store.size, entries.length);
    // Random homes at most 3/4 full give runs of a few dozen cells; bunched ones, thousands.
    assert.ok(store.indexMaxDisplacement() < 200, `displacement ${store.indexMaxDisplacement()}`);
  }
});

Deno.test("a store reserved for more or fewer keys than it then loads holds, lists, scans, purges and compacts them as one not reserved", () => {
  const entries: Entry[] = Array.from({ length: 3000 }, (_, i) => ({
    key: `key:${i}`,
    value: i % 7 === 0 ? null : `value ${i}`,
    hlc: i % 7 === 0 ? hlcFromMs(NOW_MS - 2 * DAY_MS) + i : T + i,
    node: i % 2 === 0 ? "node-b" : "node-c",
    expiresAtMs: i % 5 === 1 ? NOW_MS - 1 : 0,
  }));
  for (const reserved of [0, 10, 3000, 50_000]) {
    const store = makeStore(NOW_MS + DAY_MS);
    const plainStore = makeStore(NOW_MS + DAY_MS);
    store.reserve(reserved);
    for (const entry of entries) {
      assert.equal(loadEntryBytes(store, entry), true);
      plainStore.load(entry);
    }
    store.reserve(0);
    const label = `reserved ${reserved}`;
    assert.equal(store.size, plainStore.size, label);
    assert.deepEqual(plain(store), plain(plainStore), label);
    assert.equal(store.rootHex(), plainStore.rootHex(), label);
    assert.deepEqual(store.scan("key:1", null, 50), plainStore.scan("key:1", null, 50), label);
    // Writes after the load take freed slots and slots past those loaded alike.
    for (const target of [store, plainStore]) {
      for (let i = 0; i < 200; i++) target.write(`key:${i * 13}`, i % 2 === 0 ? null : "w", 0);
      for (let i = 0; i < 200; i++) target.write(`more:${i}`, "m", 0);
    }
    assert.equal(store.purge(0, 65536), plainStore.purge(0, 65536), label);
    store.compact(10_000);
    assert.deepEqual(plain(store), plain(plainStore), label);
    assert.equal(store.rootHex(), plainStore.rootHex(), label);
    assert.equal(store.countLive(), plainStore.countLive(), label);
  }
});
