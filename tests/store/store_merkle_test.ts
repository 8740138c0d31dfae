import assert from "node:assert/strict";
import { Store } from "../../src/store/store.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { branchOfSegment, SEGMENT_COUNT } from "../../src/store/merkle.ts";
import { nth } from "../_support/nth.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const START_MS = 1_700_000_000_000;
const GRACE_MS = 60_000;
const EMPTY_ROOT = "0000000000000000";

function makeStore(nodeId = "node-a") {
  const clock = { ms: START_MS, nowMs: () => clock.ms };
  const store = new Store({ nodeId, clock, tombstoneGraceMs: GRACE_MS, maxClockSkewMs: 60_000 });
  return { store, clock };
}

function randomEntries(random: SeededRandom, count: number): Entry[] {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({
      key: `key-${random.below(count)}`,
      value: random.below(5) === 0 ? null : `value-${i}`,
      hlc: hlcFromMs(START_MS - 30_000) + i,
      node: random.pick(["node-a", "node-b"]),
      expiresAtMs: random.below(4) === 0 ? START_MS + 10_000 : 0,
    });
  }
  return entries;
}

/** Recomputes segment, branch and root hashes from the tree's own segments: they must agree. */
function assertTreeConsistent(store: Store): void {
  const tree = store.tree;
  const branchLow = new Int32Array(tree.branchLow.length);
  const branchHigh = new Int32Array(tree.branchHigh.length);
  let rootLow = 0;
  let rootHigh = 0;
  for (let segment = 0; segment < SEGMENT_COUNT; segment++) {
    const branch = branchOfSegment(segment);
    const segmentLow = nth(tree.segmentLow, segment);
    const segmentHigh = nth(tree.segmentHigh, segment);
    branchLow[branch] = nth(branchLow, branch) ^ segmentLow;
    branchHigh[branch] = nth(branchHigh, branch) ^ segmentHigh;
    rootLow ^= segmentLow;
    rootHigh ^= segmentHigh;
    const empty = store.segmentEntries(segment).length === 0;
    if (empty) {
      assert.equal(segmentLow | segmentHigh, 0, `segment ${segment}`);
    }
  }
  assert.deepEqual(branchLow, tree.branchLow);
  assert.deepEqual(branchHigh, tree.branchHigh);
  assert.equal(rootLow, tree.rootLow);
  assert.equal(rootHigh, tree.rootHigh);
  let listed = 0;
  for (let segment = 0; segment < SEGMENT_COUNT; segment++) {
    listed += store.segmentEntries(segment).length;
  }
  assert.equal(listed, store.size);
}

Deno.test("the Merkle root of an empty store is zero and HASH is 16 hex digits", () => {
  const { store } = makeStore();
  assert.equal(store.rootHex(), EMPTY_ROOT);
  store.write("k", "v", 0);
  assert.match(store.rootHex(), /^[0-9a-f]{16}$/);
  assert.notEqual(store.rootHex(), EMPTY_ROOT);
});

Deno.test("two stores have equal roots when they hold the same entries, in any write order", () => {
  const random = new SeededRandom(42);
  const entries = randomEntries(random, 300);
  const roots = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const { store } = makeStore(`node-${i}`);
    for (const entry of random.shuffle(entries)) store.applyRemote(entry);
    assertTreeConsistent(store);
    roots.add(store.rootHex());
  }
  assert.equal(roots.size, 1);
});

Deno.test("a store's root equals that of a peer given its entries, after local writes", () => {
  const { store: local } = makeStore("node-a");
  local.write("a", "1", 0);
  local.write("b", "2", START_MS + 5_000);
  local.write("a", null, 0);
  local.write("c", "3", 0);
  local.write("c", "4", 0);
  const { store: peer } = makeStore("node-b");
  for (const entry of [...local.entries()].reverse()) peer.applyRemote({ ...entry });
  assert.equal(peer.rootHex(), local.rootHex());
});

Deno.test("the root differs when any part of one entry differs", () => {
  const base: Entry = {
    key: "k",
    value: "v",
    hlc: hlcFromMs(START_MS - 1_000),
    node: "node-a",
    expiresAtMs: 0,
  };
  const variants: Entry[] = [
    base,
    { ...base, key: "k2" },
    { ...base, hlc: base.hlc + 1 },
    { ...base, node: "node-b" },
    { ...base, value: null },
    { ...base, expiresAtMs: START_MS + 1_000 },
  ];
  const roots = variants.map((entry) => {
    const { store } = makeStore();
    store.applyRemote({ key: "other", value: "x", hlc: base.hlc, node: "node-a", expiresAtMs: 0 });
    store.applyRemote(entry);
    return store.rootHex();
  });
  assert.equal(new Set(roots).size, variants.length);
});

Deno.test("the root differs when one store lacks a key the other has", () => {
  const random = new SeededRandom(5);
  const entries = randomEntries(random, 100);
  const { store: full } = makeStore();
  const { store: partial } = makeStore();
  for (const entry of entries) full.applyRemote(entry);
  const keys = [...full.entries()].map((entry) => entry.key);
  const missing = keys[random.below(keys.length)];
  for (const entry of entries) if (entry.key !== missing) partial.applyRemote(entry);
  assert.notEqual(partial.rootHex(), full.rootHex());
  for (const entry of entries) if (entry.key === missing) partial.applyRemote(entry);
  assert.equal(partial.rootHex(), full.rootHex());
});

Deno.test("purge() removes tombstones only after the grace period", () => {
  const { store, clock } = makeStore();
  store.write("live", "v", 0);
  const rootWithLiveOnly = store.rootHex();
  const tombstone = store.write("gone", null, 0);
  store.purge(0, SEGMENT_COUNT);
  assert.deepEqual(store.entry("gone"), tombstone, "a fresh tombstone is kept");
  clock.ms = START_MS + GRACE_MS - 1;
  assert.equal(store.purge(0, SEGMENT_COUNT), 0);
  assert.equal(store.tombstoneCount, 1);
  clock.ms = START_MS + GRACE_MS;
  assert.equal(store.purge(0, SEGMENT_COUNT), 1);
  assert.equal(store.entry("gone"), undefined);
  assert.equal(store.tombstoneCount, 0);
  assert.equal(store.entry("live")?.value, "v");
  assert.equal(store.rootHex(), rootWithLiveOnly);
  assertTreeConsistent(store);
});

Deno.test("purge() removes expired entries only after their expiry plus the grace period", () => {
  const { store, clock } = makeStore();
  store.write("short", "v", START_MS + 1_000);
  clock.ms = START_MS + 1_000 + GRACE_MS - 1;
  assert.equal(store.purge(0, SEGMENT_COUNT), 0);
  assert.equal(store.entry("short")?.value, "v");
  clock.ms = START_MS + 1_000 + GRACE_MS;
  assert.equal(store.purge(0, SEGMENT_COUNT), 1);
  assert.equal(store.size, 0);
  assert.equal(store.rootHex(), EMPTY_ROOT);
});

Deno.test("purge() works a slice of segments at a time and covers them all", () => {
  const { store, clock } = makeStore();
  for (let i = 0; i < 2_000; i++) store.write(`k${i}`, i % 2 === 0 ? null : "v", 0);
  clock.ms = START_MS + GRACE_MS + 1;
  let purged = 0;
  for (let first = 0; first < SEGMENT_COUNT; first += 4096) purged += store.purge(first, 4096);
  assert.equal(purged, 1_000);
  assert.equal(store.size, 1_000);
  assert.equal(store.tombstoneCount, 0);
  assertTreeConsistent(store);
});

Deno.test("applyRemote() of a tombstone already past its grace period stores nothing", () => {
  const { store } = makeStore();
  const outcome = store.applyRemote({
    key: "k",
    value: null,
    hlc: hlcFromMs(START_MS - GRACE_MS),
    node: "node-b",
    expiresAtMs: 0,
  });
  assert.equal(outcome, "applied");
  assert.equal(store.entry("k"), undefined);
  assert.equal(store.rootHex(), EMPTY_ROOT);
});

Deno.test("the tree stays consistent through random writes, deletes, merges and purges", () => {
  const random = new SeededRandom(99);
  const { store, clock } = makeStore();
  for (let step = 0; step < 3_000; step++) {
    const key = `k${random.below(200)}`;
    const choice = random.below(4);
    if (choice === 0) store.write(key, null, 0);
    else if (choice === 1) store.write(key, "v", clock.ms + random.below(5_000));
    else if (choice === 2) {
      store.applyRemote({
        key,
        value: random.below(3) === 0 ? null : "r",
        hlc: hlcFromMs(clock.ms - GRACE_MS * 2 + random.below(GRACE_MS * 3)),
        node: "node-b",
        expiresAtMs: 0,
      });
    } else store.purge(random.below(SEGMENT_COUNT), 8_192);
    clock.ms += random.below(100);
  }
  assertTreeConsistent(store);
  // A store rebuilt from the surviving entries has the same tree, segment by segment.
  store.purge(0, SEGMENT_COUNT);
  const { store: rebuilt, clock: rebuiltClock } = makeStore("node-c");
  rebuiltClock.ms = clock.ms;
  for (const entry of store.entries()) rebuilt.applyRemote({ ...entry });
  assert.equal(rebuilt.size, store.size);
  assert.deepEqual(rebuilt.tree.segmentLow, store.tree.segmentLow);
  assert.deepEqual(rebuilt.tree.segmentHigh, store.tree.segmentHigh);
  assert.equal(rebuilt.rootHex(), store.rootHex());
});
