import assert from "node:assert/strict";
import { Store } from "../../src/store/store.ts";
import { compareEntries, type Entry } from "../../src/store/entry.ts";
import { MAX_HEAP_VALUE_BYTES } from "../../src/store/value_heap.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const START_MS = 1_700_000_000_000;
const GRACE_MS = 60_000;

function makeStore(nodeId: string, clock: { ms: number }): Store {
  return new Store({
    nodeId,
    clock: { nowMs: () => clock.ms },
    tombstoneGraceMs: GRACE_MS,
    maxClockSkewMs: 60_000,
  });
}

/** A binary string of `length` bytes of any value but LF (10), as a value may hold. */
function valueBytes(random: SeededRandom, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const byte = random.below(255);
    text += String.fromCharCode(byte >= 10 ? byte + 1 : byte);
  }
  return text;
}

/** Mostly short values, some long, a few past what the heap holds (those stay strings). */
function randomValue(random: SeededRandom): string {
  const roll = random.next();
  if (roll < 0.7) return valueBytes(random, random.below(120));
  if (roll < 0.95) return valueBytes(random, random.below(4000));
  return valueBytes(random, MAX_HEAP_VALUE_BYTES - 2 + random.below(5));
}

interface Expected {
  value: string;
  expiresAtMs: number;
}

/** The model: what read() must give at `nowMs`. */
function liveValue(model: Map<string, Expected>, key: string, nowMs: number): string | undefined {
  const expected = model.get(key);
  if (expected === undefined) return undefined;
  return expected.expiresAtMs === 0 || expected.expiresAtMs > nowMs ? expected.value : undefined;
}

function assertStoreIsModel(
  store: Store,
  model: Map<string, Expected>,
  keys: string[],
  context: string,
) {
  const nowMs = store.nowMs();
  for (const key of keys) {
    assert.equal(store.read(key)?.value, liveValue(model, key, nowMs), `${context}: key ${key}`);
  }
  const live = keys.filter((key) => liveValue(model, key, nowMs) !== undefined).sort();
  assert.deepEqual(store.scan("", null, keys.length), live, context);
  for (const entry of store.entries()) {
    if (entry.value !== null && (entry.expiresAtMs === 0 || entry.expiresAtMs > nowMs)) {
      assert.equal(entry.value, liveValue(model, entry.key, nowMs), `${context}: entries()`);
    }
  }
}

/** One command of the mix against the store and the model; `peer` makes remote writes. */
function step(
  random: SeededRandom,
  store: Store,
  peer: Store,
  model: Map<string, Expected>,
  key: string,
): void {
  const nowMs = store.nowMs();
  const current = liveValue(model, key, nowMs);
  const roll = random.next();
  if (roll < 0.3) {
    const value = randomValue(random);
    store.write(key, value, 0);
    model.set(key, { value, expiresAtMs: 0 });
  } else if (roll < 0.4) {
    // APPEND: the value grows into a larger cell.
    const value = (store.read(key)?.value ?? "") + valueBytes(random, random.below(300));
    store.write(key, value, 0);
    model.set(key, { value, expiresAtMs: 0 });
  } else if (roll < 0.5) {
    // INC: a short number replaces whatever it was.
    const value = String(Number(current !== undefined && /^\d+$/.test(current) ? current : 0) + 1);
    store.write(key, value, 0);
    model.set(key, { value, expiresAtMs: 0 });
  } else if (roll < 0.6) {
    store.write(key, null, 0);
    model.delete(key);
  } else if (roll < 0.7 && current !== undefined) {
    // EXPIRE: the same value again with an expiry, soon or later.
    const expiresAtMs = nowMs + 1 + random.below(2000);
    store.write(key, store.read(key)!.value, expiresAtMs);
    model.set(key, { value: current, expiresAtMs });
  } else {
    remoteWrite(random, store, peer, model, key);
  }
}

/** A write on the peer merged into the store: the model follows whichever entry wins. */
function remoteWrite(
  random: SeededRandom,
  store: Store,
  peer: Store,
  model: Map<string, Expected>,
  key: string,
): void {
  const value = random.next() < 0.2 ? null : randomValue(random);
  const change: Entry = peer.write(key, value, 0);
  const local = store.entry(key);
  const wins = local === undefined || compareEntries(change, local) > 0;
  assert.equal(store.applyRemote(change), wins ? "applied" : "stale");
  if (!wins) return;
  if (value === null) model.delete(key);
  else model.set(key, { value, expiresAtMs: 0 });
}

Deno.test("the store with values in the value heap reads as a Map of strings through seeded command mixes", () => {
  for (const seed of [21, 22, 23, 24]) {
    const random = new SeededRandom(seed);
    const clock = { ms: START_MS };
    const store = makeStore("node-a", clock);
    const peer = makeStore(random.next() < 0.5 ? "node-b" : "node-0", clock);
    const model = new Map<string, Expected>();
    const keys = Array.from({ length: 60 }, (_, i) => `key-${i}`);
    for (let i = 0; i < 4000; i++) {
      step(random, store, peer, model, random.pick(keys));
      if (random.next() < 0.05) clock.ms += random.below(1000);
      if (random.next() < 0.02) store.compact(random.below(50));
      if (i % 500 === 499) assertStoreIsModel(store, model, keys, `seed ${seed}, step ${i}`);
    }
    clock.ms += 2 * GRACE_MS + 5000;
    store.purge(0, 65536);
    assertStoreIsModel(store, model, keys, `seed ${seed}, after purge`);
  }
});

Deno.test("compact() moves the values of sparse slabs a bounded step at a time and frees the slabs", () => {
  const clock = { ms: START_MS };
  const store = makeStore("node-a", clock);
  const random = new SeededRandom(31);
  const model = new Map<string, Expected>();
  for (let i = 0; i < 50_000; i++) {
    const value = valueBytes(random, 100);
    store.write(`key-${i}`, value, 0);
    model.set(`key-${i}`, { value, expiresAtMs: 0 });
  }
  for (let i = 0; i < 50_000; i++) {
    if (i % 10 !== 0) {
      store.write(`key-${i}`, null, 0);
      model.delete(`key-${i}`);
    }
  }
  const before = store.valueHeapStats();
  let steps = 0;
  while (store.compact(1000) > 0) {
    steps++;
    assert.ok(steps < 1000, "compaction ends");
  }
  const after = store.valueHeapStats();
  assert.ok(steps > 1, `${steps} steps of at most 1000 entries`);
  assert.equal(after.evacuatingSlabs, 0);
  assert.ok(after.slabBytes < before.slabBytes, `${after.slabBytes} < ${before.slabBytes}`);
  assert.ok(
    after.fragmentationRatio < before.fragmentationRatio,
    `${after.fragmentationRatio} < ${before.fragmentationRatio}`,
  );
  const keys = Array.from({ length: 50_000 }, (_, i) => `key-${i}`);
  for (const key of keys) assert.equal(store.read(key)?.value, model.get(key)?.value, key);
});

Deno.test("writes, deletes, merges and purges between compaction steps leave every value as the model says", () => {
  for (const seed of [41, 42]) {
    const clock = { ms: START_MS };
    const store = makeStore("node-a", clock);
    const peer = makeStore("node-b", clock);
    const random = new SeededRandom(seed);
    const model = new Map<string, Expected>();
    const keys = Array.from({ length: 40_000 }, (_, i) => `key-${i}`);
    for (const key of keys) {
      const value = valueBytes(random, 90 + random.below(20));
      store.write(key, value, 0);
      model.set(key, { value, expiresAtMs: 0 });
    }
    // Nine in ten deleted: every slab sparse; then steps with commands between them.
    for (const key of keys) {
      if (random.next() < 0.9) {
        store.write(key, null, 0);
        model.delete(key);
      }
    }
    let visited = 0;
    for (let round = 0; round < 400; round++) {
      visited += store.compact(1 + random.below(500));
      for (let i = 0; i < 20; i++) step(random, store, peer, model, random.pick(keys));
      if (round % 100 === 99) {
        clock.ms += 2 * GRACE_MS;
        store.purge(0, 65536);
      }
    }
    assert.ok(visited > 0, `seed ${seed}: compaction ran`);
    const nowMs = store.nowMs();
    for (const key of keys) {
      assert.equal(store.read(key)?.value, liveValue(model, key, nowMs), `seed ${seed}: ${key}`);
    }
  }
});

Deno.test("a value too long for the value heap is stored and read as it was", () => {
  const store = makeStore("node-a", { ms: START_MS });
  const long = "x".repeat(MAX_HEAP_VALUE_BYTES + 1);
  store.write("long", long, 0);
  assert.equal(store.read("long")?.value, long);
  // The heap holds the key alone: one 8-byte cell (its 4-byte length and "long").
  assert.equal(store.valueHeapStats().usedBytes, 8);
  store.write("long", "short", 0);
  assert.equal(store.read("long")?.value, "short");
  assert.equal(store.valueHeapStats().usedBytes, 8 + 16);
});

Deno.test("a key too long for the value heap is stored, found, scanned and removed as any other", () => {
  const clock = { ms: START_MS };
  const store = makeStore("node-a", clock);
  const long = "k".repeat(MAX_HEAP_VALUE_BYTES + 1);
  store.write(long, "v1", 0);
  store.write("short", "v2", 0);
  const bytes = new TextEncoder().encode(long);
  assert.equal(store.readBytes(bytes, 0, bytes.length)?.value, "v1");
  assert.deepEqual(store.scan("k", null, 10), [long]);
  // Only the two values and the short key are in the heap: cells of 8, 8 and 16 bytes.
  assert.equal(store.valueHeapStats().usedBytes, 32);
  const peer = makeStore("node-b", clock);
  for (const entry of store.entries()) peer.applyRemote(entry);
  assert.equal(peer.rootHex(), store.rootHex());
  store.write(long, null, 0);
  clock.ms += 2 * GRACE_MS;
  assert.equal(store.purge(0, 65536), 1);
  assert.equal(store.size, 1);
  assert.equal(store.read(long), undefined);
});
