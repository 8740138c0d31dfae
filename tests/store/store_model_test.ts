/**
 * The store, which keeps its entries in columns by slot, against a model that keeps them as a
 * Map of entry objects with the merge rules written out plainly: LWW by compareEntries, counters
 * by joinEntries, tombstones without expiry, purges past the grace period. Keys are binary
 * strings of every byte, a few longer than the value heap holds (kept as strings beside it).
 */

import assert from "node:assert/strict";
import { Store } from "../../src/store/store.ts";
import { compareEntries, type Entry, isLive } from "../../src/store/entry.ts";
import { counterOf, joinEntries } from "../../src/store/counter_entry.ts";
import { incremented } from "../../src/store/counter.ts";
import { hlcFromMs, hlcToMs } from "../../src/store/hlc.ts";
import { SEGMENT_COUNT } from "../../src/store/merkle.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import { loadEntryBytes } from "../_support/load_bytes.ts";
import { encodeLatin1 } from "../../src/store/binary.ts";
import { MAX_HEAP_VALUE_BYTES } from "../../src/store/value_heap.ts";

const START_MS = 1_700_000_000_000;
const GRACE_MS = 5_000;
const KEY_COUNT = 80;

/**
 * The keys of a mix: short ASCII ones, binary ones with bytes past 0x7f (which sort after
 * ASCII in byte order), some sharing prefixes, and two longer than the value heap holds.
 */
function mixKeys(): string[] {
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `key:${i}`);
  for (let i = 0; i < 12; i++) keys.push(`k\xff\x80${String.fromCharCode(i * 21)}`);
  for (let i = 0; i < 2; i++) keys.push(`L${i}`.padEnd(MAX_HEAP_VALUE_BYTES + 1 + i, "l"));
  return keys;
}

/** SCAN's answer from the model: live keys with `prefix`, after `after`, sorted, `limit`. */
function modelScan(live: string[], prefix: string, after: string | null, limit: number) {
  const kept = live.filter((key) => key.startsWith(prefix) && (after === null || key > after));
  return kept.sort().slice(0, limit);
}

function makeStore(nodeId: string, clock: { ms: number }): Store {
  return new Store({
    nodeId,
    clock: { nowMs: () => clock.ms },
    tombstoneGraceMs: GRACE_MS,
    maxClockSkewMs: 3_600_000,
  });
}

/** The entries as a Map, with the store's merge written out (see store.ts, the merge). */
class Model {
  readonly entries = new Map<string, Entry>();

  /** What Store.applyRemote / load / writeCounter do with `received` at `nowMs`. */
  merge(received: Entry, nowMs: number): "applied" | "stale" {
    const remote = received.value === null && received.expiresAtMs !== 0
      ? { ...received, expiresAtMs: 0 }
      : received;
    const current = this.entries.get(remote.key);
    let next: Entry | null = remote;
    if (current !== undefined) {
      next = (remote.counter ?? current.counter) !== undefined
        ? joinEntries(current, remote)
        : compareEntries(remote, current) > 0
        ? remote
        : null;
    }
    if (next === null) return "stale";
    this.entries.set(remote.key, next);
    if (purgeable(next, nowMs)) this.entries.delete(remote.key);
    return "applied";
  }

  /** What Store.purge of every segment removes; returns how many. */
  purge(nowMs: number): number {
    let purged = 0;
    for (const [key, entry] of this.entries) {
      if (purgeable(entry, nowMs)) {
        this.entries.delete(key);
        purged++;
      }
    }
    return purged;
  }
}

function purgeable(entry: Entry, nowMs: number): boolean {
  if (entry.value === null) return hlcToMs(entry.hlc) + GRACE_MS <= nowMs;
  return entry.expiresAtMs !== 0 && entry.expiresAtMs + GRACE_MS <= nowMs;
}

/** An entry as a line to compare: every field, the counter's state included. */
function describe(entry: Entry): string {
  const counter = entry.counter === undefined ? "" : JSON.stringify(entry.counter, (_, value) => {
    return typeof value === "bigint" ? value.toString() : value;
  });
  return [entry.key, entry.value, entry.hlc, entry.node, entry.expiresAtMs, counter].join("|");
}

function randomValue(random: SeededRandom): string {
  const length = random.next() < 0.9 ? random.below(40) : 10_000 + random.below(60_000);
  return String.fromCharCode(97 + random.below(26)).repeat(length);
}

/** A local write: SET, DEL, SET with an expiry, or INC, as execute.ts makes them. */
function localWrite(random: SeededRandom, store: Store, model: Model, key: string): void {
  const roll = random.next();
  const nowMs = store.nowMs();
  if (roll < 0.15) {
    const live = store.read(key);
    const state = counterOf(live ?? store.entry(key), live !== undefined, (text) => {
      return /^-?\d{1,15}$/.test(text) ? BigInt(text) : null;
    });
    if (state === null) return;
    const next = incremented(state, store.nodeId, BigInt(random.below(7) - 3), store.hlc.tick());
    assert.equal(typeof next, "object");
    const change = store.writeCounter(key, next as Exclude<typeof next, string>, 0);
    assert.equal(model.merge(change, nowMs), "applied");
    return;
  }
  const value = roll < 0.35 ? null : randomValue(random);
  const expiresAtMs = roll > 0.85 ? nowMs + 1 + random.below(3_000) : 0;
  const change = store.write(key, value, expiresAtMs);
  model.entries.set(key, change);
  if (value === null) assert.equal(change.expiresAtMs, 0);
}

/** An entry from a peer, or one from the past again, merged by both. */
function remoteWrite(
  random: SeededRandom,
  parts: { store: Store; peers: Store[]; model: Model; seen: Entry[] },
  key: string,
): void {
  const { store, peers, model, seen } = parts;
  const roll = random.next();
  let entry: Entry;
  if (roll < 0.2 && seen.length > 0) entry = random.pick(seen);
  else if (roll < 0.4) {
    // A node id met once, at a version near the clock: the table of node ids comes and goes.
    const hlc = hlcFromMs(store.nowMs() - random.below(2_000)) + random.below(4);
    const value = random.next() < 0.3 ? null : randomValue(random);
    entry = { key, value, hlc, node: `peer-${random.below(40)}`, expiresAtMs: 0 };
  } else {
    const peer = random.pick(peers);
    const live = peer.read(key);
    if (random.next() < 0.3) {
      const state = counterOf(live ?? peer.entry(key), live !== undefined, () => 0n);
      const next = incremented(state!, peer.nodeId, 1n, peer.hlc.tick());
      entry = peer.writeCounter(key, next as Exclude<typeof next, string>, 0);
    } else entry = peer.write(key, random.next() < 0.2 ? null : randomValue(random), 0);
  }
  seen.push(entry);
  if (seen.length > 200) seen.splice(0, 100);
  const expected = model.merge(entry, store.nowMs());
  assert.equal(store.applyRemote(entry), expected, describe(entry));
}

/** Prefixes, `after` keys and limits that the model check scans with. */
const SCANS: [string, string | null, number][] = [
  ["key:1", null, 5],
  ["key:", "key:5", 10],
  ["k\xff", null, 4],
  ["k\xff\x80", "k\xff\x80\x15", 100],
  ["", "key:9", 3],
  ["L", null, 2],
  ["", null, 0],
];

function assertStoreIsModel(store: Store, model: Model, keys: string[], context: string): void {
  const nowMs = store.nowMs();
  const expected = [...model.entries.values()].map(describe).sort();
  assert.deepEqual([...store.entries()].map(describe).sort(), expected, context);
  assert.equal(store.size, model.entries.size, context);
  const entries = [...model.entries.values()];
  const tombstones = entries.filter((entry) => entry.value === null).length;
  assert.equal(store.tombstoneCount, tombstones, context);
  const live = entries.filter((entry) => isLive(entry, nowMs));
  assert.equal(store.countLive(), live.length, context);
  const liveKeys = live.map((entry) => entry.key);
  assert.deepEqual(store.scan("", null, keys.length), liveKeys.sort());
  for (const [prefix, after, limit] of SCANS) {
    const expected = modelScan(liveKeys, prefix, after, limit);
    assert.deepEqual(store.scan(prefix, after, limit), expected, `${context}: scan ${prefix}`);
  }
  for (const key of keys) {
    const entry = model.entries.get(key);
    const value = entry !== undefined && isLive(entry, nowMs) ? entry.value : undefined;
    assert.equal(store.readValue(key), value, `${context}: ${key}`);
    assert.equal(store.has(key), value !== undefined, `${context}: ${key}`);
    const bytes = encodeLatin1(`<${key}>`);
    const found = store.findValue(bytes, 1, bytes.length - 1);
    const read = typeof found === "number" ? store.valueLength(found) : found?.length;
    assert.equal(read, value?.length, `${context}: findValue ${key}`);
  }
  // The tree: what a store built at once from the model's entries holds (a clock far behind,
  // so that nothing is purged on the way in).
  const fresh = makeStore("node-fresh", { ms: START_MS - 10_000_000 });
  for (const entry of entries) {
    const plain = entry.counter === undefined && entry.causality === undefined;
    if (plain) assert.equal(loadEntryBytes(fresh, entry), true);
    else fresh.load(entry);
  }
  assert.equal(store.rootHex(), fresh.rootHex(), `${context}: root`);
  for (const key of keys.slice(0, 8)) {
    const segment = store.segmentOfKey(key);
    const mine = store.segmentContents(segment);
    const theirs = fresh.segmentContents(segment);
    assert.deepEqual(mine.hashes, theirs.hashes, `${context}: segment ${segment}`);
    assert.deepEqual(mine.entries.map(describe).sort(), theirs.entries.map(describe).sort());
  }
}

for (const seed of [1, 2, 3, 4, 5, 6]) {
  Deno.test(`the store reads as a Map of entries through seeded mixes of writes, merges, purges, compaction and resets (seed ${seed})`, () => {
    const random = new SeededRandom(seed);
    const clock = { ms: START_MS };
    const store = makeStore("node-m", clock);
    const peers = ["node-b", "node-0", "node-z"].map((id) => makeStore(id, clock));
    const model = new Model();
    const seen: Entry[] = [];
    const keys = mixKeys();
    for (let i = 0; i < 5000; i++) {
      const key = random.pick(keys);
      const roll = random.next();
      if (roll < 0.45) localWrite(random, store, model, key);
      else if (roll < 0.9) remoteWrite(random, { store, peers, model, seen }, key);
      else if (roll < 0.93) {
        const entry = model.entries.get(key);
        const dropped = entry !== undefined && random.next() < 0.5;
        const [hlc, node] = dropped ? [entry.hlc, entry.node] : [hlcFromMs(clock.ms), "node-q"];
        assert.equal(store.discard(key, hlc, node), dropped);
        if (dropped) model.entries.delete(key);
      } else if (roll < 0.96) {
        assert.equal(store.purge(0, SEGMENT_COUNT), model.purge(clock.ms));
      } else if (roll < 0.99) store.compact(random.below(100));
      else if (roll < 0.995) {
        store.reset();
        model.entries.clear();
      }
      if (random.next() < 0.1) clock.ms += random.below(1_500);
      if (i % 250 === 249) assertStoreIsModel(store, model, keys, `seed ${seed}, step ${i}`);
    }
  });
}
