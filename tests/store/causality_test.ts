/**
 * Causality (version vectors, losers, conflict detection): the vector rules, and the store's
 * merge against a model, over versions made the way nodes make them (local writes, counters,
 * tombstones, and entries passed between stores in random order, with repeats).
 */

import assert from "node:assert/strict";
import {
  type Causality,
  type CausalVersion,
  type Dot,
  hasSeen,
  joinVectors,
  settle,
  vectorOf,
  writeCausality,
} from "../../src/store/causality.ts";
import { counterOf } from "../../src/store/counter_entry.ts";
import { incremented } from "../../src/store/counter.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { Store } from "../../src/store/store.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const NOW_MS = 1_700_000_000_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const NODES = ["node-a", "node-b", "node-c"];

function dot(node: string, hlc: number): Dot {
  return { node, hlc };
}

function version(node: string, hlc: number, seen: Dot[] = []): CausalVersion {
  return { node, hlc, seen };
}

Deno.test("hasSeen() holds for the version itself, older dots of its node and dots in its vector", () => {
  const x = version("b", 20, [dot("a", 10), dot("c", 5)]);
  assert.ok(hasSeen(x, dot("b", 20)));
  assert.ok(hasSeen(x, dot("b", 3)));
  assert.ok(hasSeen(x, dot("a", 10)));
  assert.ok(hasSeen(x, dot("a", 9)));
  assert.ok(!hasSeen(x, dot("a", 11)));
  assert.ok(!hasSeen(x, dot("b", 21)));
  assert.ok(!hasSeen(x, dot("d", 1)));
});

Deno.test("joinVectors() keeps the larger HLC per node, sorted by node id, whatever the order", () => {
  const a = [dot("a", 5), dot("c", 7)];
  const b = [dot("b", 1), dot("c", 9), dot("d", 2)];
  const expected = [dot("a", 5), dot("b", 1), dot("c", 9), dot("d", 2)];
  assert.deepEqual(joinVectors(a, b), expected);
  assert.deepEqual(joinVectors(b, a), expected);
  assert.deepEqual(joinVectors(a, a), a);
  assert.deepEqual(joinVectors([], b), b);
});

Deno.test("a write over two concurrent versions has seen both and has no losers", () => {
  const causality = writeCausality(dot("c", 30), [version("b", 20), version("a", 10)]);
  assert.deepEqual(causality, { seen: [dot("a", 10), dot("b", 20)], losers: [] });
  // Over its own node's version alone it needs nothing beyond its dot.
  assert.equal(writeCausality(dot("a", 30), [version("a", 10)]), undefined);
});

Deno.test("settle() keeps as losers exactly the versions no other has seen", () => {
  const x = version("a", 10);
  const y = version("b", 20, [dot("a", 10)]); // y saw x
  const z = version("c", 15); // concurrent with both
  const w = version("c", 25, [dot("a", 10), dot("b", 20), dot("c", 15)]); // saw all
  assert.deepEqual(settle(y, [], [x, y]), { seen: [dot("a", 10)], losers: [] });
  assert.deepEqual(settle(y, [], [x, z, y]), { seen: [dot("a", 10)], losers: [z] });
  assert.deepEqual(settle(w, [], [x, y, z, w]), { seen: w.seen.slice(0, 2), losers: [] });
  assert.equal(settle(x, [], [x]), undefined);
});

/** A few nodes' stores of one key, and every version their local writes made. */
class Cluster {
  readonly stores: Store[];
  /** Dot "hlc@node" -> the version's whole vector, for every local write. */
  readonly versions = new Map<string, CausalVersion>();
  /** Entries seen at any time on any store: the pool the merge laws are checked on. */
  readonly pool: Entry[] = [];
  /** Pairs onConflict was called with, per store. */
  readonly pairs: [Dot, Dot][][];
  #nowMs = NOW_MS;

  /** Dot "hlc@node" -> the value its local write wrote (null: a deletion). */
  readonly values = new Map<string, string | null>();
  /** Dot "hlc@node" -> the expiry its local write wrote (0: none). */
  readonly expiries = new Map<string, number>();

  constructor(
    readonly random: SeededRandom,
    skewsMs: readonly number[],
    readonly siblings = false,
  ) {
    this.stores = NODES.map((nodeId, i) =>
      makeStore(nodeId, () => this.#nowMs + (skewsMs[i] ?? 0), siblings)
    );
    this.pairs = this.stores.map(() => []);
    this.stores.forEach((store, i) => {
      store.onConflict = (_key, winner, loser) => this.pairs[i]!.push([winner, loser]);
    });
  }

  /** One random step: a local write somewhere, or one store's entry sent to another. */
  step(counters: boolean): void {
    this.#nowMs += this.random.below(3);
    const store = this.random.pick(this.stores);
    const choice = this.random.below(counters ? 5 : 4);
    let written: Entry | undefined;
    if (choice === 0) {
      // One value in three with an expiry (a day ahead: every version stays live here).
      const n = this.random.below(1000);
      written = store.write("k", "v" + n, n % 3 === 0 ? NOW_MS + DAY_MS + n : 0);
    } else if (choice === 1) written = store.write("k", null, 0);
    else if (choice === 4) written = increment(store, BigInt(this.random.below(5) + 1));
    else {
      const from = this.random.pick(this.stores).entry("k");
      if (from !== undefined) store.applyRemote(from);
    }
    if (written !== undefined && written.counter === undefined) this.#record(written);
    // A copy: the store may hand out its own object, which later writes change in place.
    const held = store.entry("k");
    if (held !== undefined) this.pool.push({ ...held });
  }

  #record(entry: Entry): void {
    const seen = entry.causality?.seen ?? [];
    this.versions.set(entry.hlc + "@" + entry.node, version(entry.node, entry.hlc, [...seen]));
    this.values.set(entry.hlc + "@" + entry.node, entry.value);
    this.expiries.set(entry.hlc + "@" + entry.node, entry.expiresAtMs);
  }

  /** Every store sends its entry to every other until none changes. */
  settle(): void {
    for (let round = 0; round < 10; round++) {
      let changed = false;
      for (const from of this.stores) {
        const entry = from.entry("k");
        if (entry === undefined) continue;
        for (const to of this.stores) if (to.applyRemote(entry) === "applied") changed = true;
      }
      if (!changed) return;
    }
    throw new Error("stores did not settle in 10 rounds");
  }
}

function makeStore(nodeId: string, nowMs: () => number, siblings = false): Store {
  return new Store({
    nodeId,
    clock: { nowMs },
    tombstoneGraceMs: DAY_MS,
    maxClockSkewMs: DAY_MS,
    trackCausality: true,
    keepSiblings: siblings,
  });
}

/** INC as the node executes it (see execute.ts). */
function increment(store: Store, amount: bigint): Entry | undefined {
  const live = store.read("k");
  const state = counterOf(live ?? store.entry("k"), live !== undefined, (text) => {
    return /^-?[0-9]{1,18}$/.test(text) ? BigInt(text) : null;
  });
  if (state === null) return undefined;
  const next = incremented(state, store.nodeId, amount, store.hlc.tick());
  return typeof next === "string" ? undefined : store.writeCounter("k", next, 0);
}

/** The key's state after merging `entries` in order into a fresh store, and its root. */
function merged(entries: readonly Entry[], siblings = false): { entry: unknown; root: string } {
  const store = makeStore("observer", () => NOW_MS, siblings);
  for (const entry of entries) store.applyRemote(entry);
  return { entry: plain(store.entry("k")), root: store.rootHex() };
}

/** An entry as plain data, for deepEqual. */
function plain(entry: Entry | undefined): unknown {
  return entry === undefined ? undefined : JSON.parse(JSON.stringify(entry, bigints));
}

function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** The one entry a store holds after merging `entries`: what a peer would send of it. */
function mergedEntry(entries: readonly Entry[], siblings = false): Entry {
  const store = makeStore("observer", () => NOW_MS, siblings);
  for (const entry of entries) store.applyRemote(entry);
  const entry = store.entry("k");
  assert.ok(entry !== undefined);
  return entry;
}

const MERGE_CASES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [
  true,
  true,
]];
for (const [counters, siblings] of MERGE_CASES) {
  const what = (counters ? "values, tombstones and counters" : "values and tombstones") +
    (siblings ? " with sibling values" : "");
  Deno.test(`the merge of ${what} with causality is commutative, associative and idempotent (seeded)`, () => {
    for (let seed = 1; seed <= 15; seed++) {
      const random = new SeededRandom(seed);
      const cluster = new Cluster(random, [0, 0, 0], siblings);
      for (let i = 0; i < 60; i++) cluster.step(counters);
      const pool = cluster.pool;
      if (siblings) {
        const held = pool.some((x) => x.causality?.losers.some((l) => l.value !== undefined));
        assert.ok(held, `seed ${seed}: the pool holds entries with sibling values`);
      }
      const merge = (entries: Entry[]) => merged(entries, siblings);
      const mergeEntry = (entries: Entry[]) => mergedEntry(entries, siblings);
      for (let check = 0; check < 40; check++) {
        const [a, b, c] = [random.pick(pool), random.pick(pool), random.pick(pool)];
        const context = `seed ${seed}, check ${check}`;
        assert.deepEqual(merge([a, b]), merge([b, a]), `commutative, ${context}`);
        assert.deepEqual(merge([a, a]), merge([a]), `idempotent, ${context}`);
        assert.deepEqual(merge([a, b, a]), merge([a, b]), `idempotent, ${context}`);
        assert.deepEqual(
          merge([mergeEntry([a, b]), c]),
          merge([a, mergeEntry([b, c])]),
          `associative, ${context}`,
        );
        assert.deepEqual(merge([a, b, c]), merge([c, b, a]), `order-free, ${context}`);
      }
    }
  });
}

Deno.test("stores that exchange entries at random converge on the model: the antichain of every version (seeded)", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = new SeededRandom(1000 + seed);
    // Clocks skewed both ways: causality, not the clocks, says what is concurrent.
    const cluster = new Cluster(random, [0, -5_000, 7_000]);
    for (let i = 0; i < 80; i++) cluster.step(false);
    cluster.settle();
    const all = [...cluster.versions.values()];
    const wholeVector = (x: CausalVersion) => ({ ...x, seen: vectorOf(x) });
    const maximal = all.filter((x) => !all.some((y) => y !== x && hasSeen(wholeVector(y), x)));
    const entries = cluster.stores.map((store) => store.entry("k"));
    const first = entries[0];
    assert.ok(first !== undefined);
    for (const entry of entries) assert.deepEqual(plain(entry), plain(first), `seed ${seed}`);
    const expected: [string, number][] = maximal
      .filter((x) => x.node !== first.node || x.hlc !== first.hlc)
      .map((x): [string, number] => [x.node, x.hlc]).sort();
    const losers = (first.causality?.losers ?? []).map((x) => [x.node, x.hlc]).sort();
    assert.deepEqual(losers, expected, `seed ${seed}: losers are the antichain less the winner`);
    for (const [i, pairs] of cluster.pairs.entries()) {
      for (const [winner, loser] of pairs) {
        const w = cluster.versions.get(winner.hlc + "@" + winner.node);
        const l = cluster.versions.get(loser.hlc + "@" + loser.node);
        assert.ok(w !== undefined && l !== undefined);
        assert.ok(
          !hasSeen(w, l) && !hasSeen(l, w),
          `seed ${seed}: store ${i} reported a pair of which one had seen the other`,
        );
      }
      // Every pair of the final state was reported on every store, once.
      const reported = pairs.map(([w, l]) => `${w.hlc}@${w.node}>${l.hlc}@${l.node}`);
      assert.equal(new Set(reported).size, reported.length, `seed ${seed}: a pair twice`);
      for (const [node, hlc] of expected) {
        const pair: string = `${first.hlc}@${first.node}>${hlc}@${node}`;
        assert.ok(reported.includes(pair), `seed ${seed}: store ${i} missed ${pair}`);
      }
    }
  }
});

Deno.test("writes made one after another through different stores are never conflicts, clocks skewed either way", () => {
  for (const skews of [[0, -30_000, 30_000], [0, 30_000, -30_000]]) {
    const cluster = new Cluster(new SeededRandom(7), skews);
    let previous: Entry | undefined;
    for (let i = 0; i < 30; i++) {
      const store = cluster.stores[i % 3]!;
      if (previous !== undefined) store.applyRemote(previous);
      previous = i % 5 === 4 ? store.write("k", null, 0) : store.write("k", "v" + i, 0);
    }
    cluster.settle();
    for (const store of cluster.stores) {
      assert.equal(store.causality.conflictsDetected, 0);
      assert.deepEqual(store.entry("k")?.causality?.losers ?? [], []);
    }
  }
});

Deno.test("two writes on two stores that had not seen each other are one conflict on every store, the winner's included", () => {
  const cluster = new Cluster(new SeededRandom(8), [0, 0, 0]);
  const [a, b, c] = cluster.stores as [Store, Store, Store];
  const first = a.write("k", "from-a", 0);
  const second = b.write("k", "from-b", 0); // b's clock reads later: b wins by LWW
  a.applyRemote(second);
  b.applyRemote(a.entry("k")!); // b learns of the loser only from a's resolved state
  c.applyRemote(first);
  c.applyRemote(second);
  for (const [i, store] of [a, b, c].entries()) {
    assert.equal(store.read("k")?.value, "from-b");
    assert.equal(store.causality.conflictsDetected, 1, `store ${i}`);
    assert.deepEqual(cluster.pairs[i], [[
      dot(second.node, second.hlc),
      dot(first.node, first.hlc),
    ]]);
  }
  assert.equal(a.rootHex(), b.rootHex());
  // A write that saw both resolves the conflict everywhere: no losers, nothing new reported.
  const resolved = c.write("k", "resolved", 0);
  assert.deepEqual(resolved.causality?.losers, []);
  a.applyRemote(resolved);
  b.applyRemote(resolved);
  for (const store of [a, b, c]) {
    assert.equal(store.causality.conflictsDetected, 1);
    assert.deepEqual(store.entry("k")?.causality?.losers, []);
  }
});

Deno.test("concurrent increments of one counter on two stores merge without a conflict", () => {
  const cluster = new Cluster(new SeededRandom(9), [0, 0, 0]);
  const [a, b] = cluster.stores as [Store, Store, Store];
  const fromA = increment(a, 5n)!;
  const fromB = increment(b, 7n)!;
  a.applyRemote(fromB);
  b.applyRemote(fromA);
  assert.equal(a.read("k")?.value, "12");
  assert.equal(b.read("k")?.value, "12");
  assert.equal(a.causality.conflictsDetected + b.causality.conflictsDetected, 0);
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("a DEL concurrent with a SET is a conflict, as values are", () => {
  const cluster = new Cluster(new SeededRandom(10), [0, 0, 0]);
  const [a, b] = cluster.stores as [Store, Store, Store];
  a.write("k", "x", 0);
  b.write("k", null, 0);
  a.applyRemote(b.entry("k")!);
  b.applyRemote(a.entry("k")!);
  assert.equal(a.causality.conflictsDetected, 1);
  assert.equal(b.causality.conflictsDetected, 1);
});

Deno.test("a store that does not track causality merges entries that carry it as before, and keeps none", () => {
  const tracking = makeStore("node-a", () => NOW_MS);
  const plainStore = new Store({
    nodeId: "node-b",
    clock: { nowMs: () => NOW_MS },
    tombstoneGraceMs: DAY_MS,
    maxClockSkewMs: DAY_MS,
  });
  const remote: Entry = {
    key: "k",
    value: "v",
    hlc: hlcFromMs(NOW_MS),
    node: "node-c",
    expiresAtMs: 0,
    causality: { seen: [], losers: [version("node-d", hlcFromMs(NOW_MS) - 5)] },
  };
  tracking.applyRemote(remote);
  plainStore.applyRemote(remote);
  assert.equal(tracking.causality.conflictsDetected, 1);
  assert.equal(plainStore.causality.conflictsDetected, 0);
  assert.equal(plainStore.entry("k")?.causality, undefined);
  const { causality: _, ...withoutCausality } = remote;
  const reference = new Store({
    nodeId: "node-b",
    clock: { nowMs: () => NOW_MS },
    tombstoneGraceMs: DAY_MS,
    maxClockSkewMs: DAY_MS,
  });
  reference.applyRemote(withoutCausality);
  assert.equal(plainStore.rootHex(), reference.rootHex());
  assert.notEqual(tracking.rootHex(), reference.rootHex());
  // Writes on a tracking store that only its own node made carry nothing extra either.
  const own = makeStore("node-a", () => NOW_MS);
  own.write("j", "1", 0);
  assert.equal(own.write("j", "2", 0).causality, undefined);
  const causality: Causality | undefined = own.entry("j")?.causality;
  assert.equal(causality, undefined);
});

Deno.test("stores in siblings mode converge on the model, each sibling with the value its write wrote (seeded)", () => {
  let withSiblings = 0;
  let withExpiry = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const random = new SeededRandom(2000 + seed);
    const cluster = new Cluster(random, [0, -5_000, 7_000], true);
    for (let i = 0; i < 80; i++) cluster.step(false);
    cluster.settle();
    const all = [...cluster.versions.values()];
    const wholeVector = (x: CausalVersion) => ({ ...x, seen: vectorOf(x) });
    const maximal = all.filter((x) => !all.some((y) => y !== x && hasSeen(wholeVector(y), x)));
    const first = cluster.stores[0]!.entry("k");
    assert.ok(first !== undefined);
    const expected = maximal
      .filter((x) => x.node !== first.node || x.hlc !== first.hlc)
      .map((x) => ({ node: x.node, hlc: x.hlc, value: cluster.values.get(x.hlc + "@" + x.node) }))
      .sort((x, y) => y.hlc - x.hlc || (y.node > x.node ? 1 : -1));
    for (const [i, store] of cluster.stores.entries()) {
      assert.deepEqual(plain(store.entry("k")), plain(first), `seed ${seed}, store ${i}`);
      const listed = store.siblings("k");
      if (expected.length === 0) {
        assert.equal(listed, undefined, `seed ${seed}: no siblings without concurrent versions`);
        assert.equal(store.causality.siblingKeys, 0);
        continue;
      }
      withSiblings++;
      assert.equal(store.causality.siblingKeys, 1);
      assert.ok(listed !== undefined);
      const [winner, ...others] = listed;
      assert.deepEqual(winner, { node: first.node, hlc: first.hlc, value: first.value });
      assert.deepEqual(
        others,
        expected,
        `seed ${seed}: siblings are the antichain less the winner`,
      );
      for (const loser of store.entry("k")?.causality?.losers ?? []) {
        const written = cluster.expiries.get(loser.hlc + "@" + loser.node);
        assert.equal(loser.expiresAtMs ?? 0, written, `seed ${seed}: a sibling keeps its expiry`);
        if (loser.expiresAtMs !== undefined) withExpiry++;
      }
    }
  }
  assert.ok(withSiblings > 20, `${withSiblings} stores held siblings: the runs test something`);
  assert.ok(withExpiry > 5, `${withExpiry} siblings had an expiry: the runs test something`);
});

/** Two siblings-mode stores whose writes of "k" crossed: a wins by LWW, b's value is a sibling. */
function crossedWrites(): { a: Store; b: Store; nowMs: { value: number } } {
  const nowMs = { value: NOW_MS };
  const a = makeStore("node-a", () => nowMs.value + 10, true);
  const b = makeStore("node-b", () => nowMs.value, true);
  a.write("k", "from-a", 0);
  b.write("k", "from-b", 0);
  a.applyRemote(b.entry("k")!);
  b.applyRemote(a.entry("k")!);
  return { a, b, nowMs };
}

Deno.test("a local write on a key with siblings supersedes them all, and the peers that merge it drop them too", () => {
  const { a, b } = crossedWrites();
  for (const store of [a, b]) {
    assert.deepEqual(store.siblings("k")?.map((x) => x.value), ["from-a", "from-b"]);
    assert.equal(store.causality.siblingKeys, 1);
  }
  assert.equal(a.rootHex(), b.rootHex());
  const resolved = b.write("k", "both", 0);
  assert.deepEqual(resolved.causality?.losers, []);
  a.applyRemote(resolved);
  for (const store of [a, b]) {
    assert.equal(store.siblings("k"), undefined);
    assert.equal(store.causality.siblingKeys, 0);
    assert.equal(store.read("k")?.value, "both");
  }
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("a deletion concurrent with a write is a sibling with a null value, and its tombstone outlives the grace period until resolved", () => {
  const nowMs = { value: NOW_MS };
  const a = makeStore("node-a", () => nowMs.value + 10, true);
  const b = makeStore("node-b", () => nowMs.value, true);
  a.write("k", null, 0); // newer: the tombstone wins by LWW
  b.write("k", "kept", 0);
  b.applyRemote(a.entry("k")!);
  assert.equal(b.read("k"), undefined);
  assert.deepEqual(b.siblings("k")?.map((x) => x.value), [null, "kept"]);
  nowMs.value += 2 * DAY_MS;
  assert.equal(b.purge(0, 65536), 0);
  assert.deepEqual(b.siblings("k")?.map((x) => x.value), [null, "kept"]);
  b.write("k", "resolved", 0);
  b.write("k", null, 0);
  nowMs.value += 2 * DAY_MS;
  assert.equal(b.purge(0, 65536), 1, "a resolved tombstone is purged as ever");
  assert.equal(b.causality.siblingKeys, 0);
});

Deno.test("a store in record mode keeps the dots of a peer's siblings, never their values", () => {
  const { a } = crossedWrites();
  const record = makeStore("node-c", () => NOW_MS + 10);
  const entry = a.entry("k")!;
  assert.ok(entry.causality?.losers.some((x) => x.value === "from-b"));
  record.applyRemote(entry);
  const losers = record.entry("k")?.causality?.losers ?? [];
  assert.deepEqual(losers.map((x) => [x.node, x.value]), [["node-b", undefined]]);
  assert.equal(record.siblings("k"), undefined);
  assert.equal(record.causality.siblingKeys, 0);
});

Deno.test("a sibling keeps its version's expiry, and once past it GET lists it as deleted while the key still holds siblings", () => {
  const nowMs = { value: NOW_MS };
  const a = makeStore("node-a", () => nowMs.value + 10, true);
  const b = makeStore("node-b", () => nowMs.value, true);
  const expiresAtMs = NOW_MS + 60_000;
  // b's value has an expiry and loses by LWW to a's concurrent write: on b it was the winner
  // (current) when a's arrived; on a it arrives (remote). Both keep its expiry.
  b.write("k", "from-b", expiresAtMs);
  a.write("k", "from-a", 0);
  a.applyRemote(b.entry("k")!);
  b.applyRemote(a.entry("k")!);
  const c = makeStore("node-c", () => nowMs.value, true);
  c.applyRemote(b.entry("k")!);
  for (const store of [a, b, c]) {
    const losers = store.entry("k")?.causality?.losers ?? [];
    assert.deepEqual(losers.map((x) => [x.node, x.value, x.expiresAtMs]), [
      ["node-b", "from-b", expiresAtMs],
    ]);
    assert.deepEqual(store.siblings("k")?.map((x) => x.value), ["from-a", "from-b"]);
  }
  assert.equal(a.rootHex(), b.rootHex());
  assert.equal(a.rootHex(), c.rootHex());
  nowMs.value = expiresAtMs - 1;
  assert.deepEqual(c.siblings("k")?.map((x) => x.value), ["from-a", "from-b"]);
  nowMs.value = expiresAtMs;
  for (const store of [a, b, c]) {
    const listed = store.siblings("k");
    assert.deepEqual(listed?.map((x) => [x.node, x.value]), [["node-a", "from-a"], [
      "node-b",
      null,
    ]]);
    // Still a version concurrent with the winner: listed, and counted, until a write resolves.
    assert.equal(store.causality.siblingKeys, 1);
    assert.equal(store.read("k")?.value, "from-a");
  }
  b.write("k", "resolved", 0);
  assert.equal(b.siblings("k"), undefined);
  assert.equal(b.causality.siblingKeys, 0);
});

Deno.test("an expired winner and an expired sibling are listed alike, as deleted", () => {
  const nowMs = { value: NOW_MS };
  const a = makeStore("node-a", () => nowMs.value + 10, true);
  const b = makeStore("node-b", () => nowMs.value, true);
  a.write("k", "from-a", NOW_MS + 1_000);
  b.write("k", "from-b", NOW_MS + 2_000);
  a.applyRemote(b.entry("k")!);
  assert.deepEqual(a.siblings("k")?.map((x) => x.value), ["from-a", "from-b"]);
  nowMs.value = NOW_MS + 1_000;
  assert.deepEqual(a.siblings("k")?.map((x) => x.value), [null, "from-b"]);
  nowMs.value = NOW_MS + 2_000;
  assert.deepEqual(a.siblings("k")?.map((x) => x.value), [null, null]);
  assert.equal(a.read("k"), undefined);
  assert.equal(a.causality.siblingKeys, 1);
});

Deno.test("a store in record mode keeps neither a peer's sibling values nor their expiries", () => {
  const nowMs = { value: NOW_MS };
  const a = makeStore("node-a", () => nowMs.value + 10, true);
  const b = makeStore("node-b", () => nowMs.value, true);
  b.write("k", "from-b", NOW_MS + 60_000);
  a.write("k", "from-a", 0);
  a.applyRemote(b.entry("k")!);
  const record = makeStore("node-c", () => NOW_MS + 10);
  record.applyRemote(a.entry("k")!);
  assert.deepEqual(record.entry("k")?.causality?.losers, [{
    node: "node-b",
    hlc: b.entry("k")!.hlc,
    seen: [],
  }]);
});
