import assert from "node:assert/strict";
import { Store } from "../../src/store/store.ts";
import { compareEntries, type Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import { storeContents as snapshot } from "../_support/store_contents.ts";

const NOW_MS = 1_700_000_000_000;
const DAY_MS = 24 * 60 * 60 * 1000;

function makeStore(nodeId = "node-a", nowMs = NOW_MS): Store {
  return new Store({
    nodeId,
    clock: { nowMs: () => nowMs },
    tombstoneGraceMs: DAY_MS,
    maxClockSkewMs: 60_000,
  });
}

function entry(fields: Partial<Entry> & { key: string; hlc: number }): Entry {
  return { value: "v", node: "node-x", expiresAtMs: 0, ...fields };
}

const T = hlcFromMs(NOW_MS - 10_000);

Deno.test("applyRemote() keeps the entry with the newer HLC, whichever arrives first", () => {
  const older = entry({ key: "k", hlc: T, value: "old", node: "node-z" });
  const newer = entry({ key: "k", hlc: T + 1, value: "new", node: "node-a" });
  for (const order of [[older, newer], [newer, older]]) {
    const store = makeStore();
    for (const e of order) store.applyRemote(e);
    assert.equal(store.read("k")?.value, "new");
  }
});

Deno.test("applyRemote() breaks an HLC tie by the larger node id", () => {
  const fromA = entry({ key: "k", hlc: T, value: "from-a", node: "node-a" });
  const fromB = entry({ key: "k", hlc: T, value: "from-b", node: "node-b" });
  for (const order of [[fromA, fromB], [fromB, fromA]]) {
    const store = makeStore("node-c");
    for (const e of order) store.applyRemote(e);
    assert.equal(store.read("k")?.value, "from-b");
  }
});

Deno.test("applyRemote() lets a tombstone win an exact version tie", () => {
  const value = entry({ key: "k", hlc: T, value: "alive", node: "node-a" });
  const tombstone = entry({ key: "k", hlc: T, value: null, node: "node-a" });
  for (const order of [[value, tombstone], [tombstone, value]]) {
    const store = makeStore();
    for (const e of order) store.applyRemote(e);
    assert.equal(store.read("k"), undefined);
    assert.equal(store.entry("k")?.value, null);
    assert.equal(store.tombstoneCount, 1);
  }
});

Deno.test("applyRemote() is idempotent: a second apply is stale and changes nothing", () => {
  const store = makeStore();
  const e = entry({ key: "k", hlc: T, value: "v" });
  assert.equal(store.applyRemote(e), "applied");
  const root = store.rootHex();
  assert.equal(store.applyRemote({ ...e }), "stale");
  assert.equal(store.rootHex(), root);
  assert.deepEqual(snapshot(store), [e]);
});

Deno.test("applyRemote() reports an older entry as stale and keeps the local write", () => {
  const store = makeStore();
  store.write("k", "local", 0);
  const outcome = store.applyRemote(entry({ key: "k", hlc: T, value: "remote" }));
  assert.equal(outcome, "stale");
  assert.equal(store.read("k")?.value, "local");
});

Deno.test("applyRemote() refuses a version further ahead than max clock skew", () => {
  const store = makeStore();
  const future = entry({ key: "k", hlc: hlcFromMs(NOW_MS + 60_001) });
  assert.equal(store.applyRemote(future), "future");
  assert.equal(store.entry("k"), undefined);
  assert.ok(store.hlc.last < future.hlc, "a refused version must not move the clock");
  const nearFuture = entry({ key: "k", hlc: hlcFromMs(NOW_MS + 60_000) });
  assert.equal(store.applyRemote(nearFuture), "applied");
});

Deno.test("a local write after applyRemote() is newer than the remote entry", () => {
  const store = makeStore("node-a");
  const remote = entry({ key: "k", hlc: hlcFromMs(NOW_MS + 30_000), node: "node-z" });
  store.applyRemote(remote);
  const local = store.write("k", "mine", 0);
  assert.ok(local.hlc > remote.hlc);
  assert.ok(compareEntries(local, remote) > 0);
});

Deno.test("compareEntries() is a total order: antisymmetric, zero only for equal entries", () => {
  const random = new SeededRandom(7);
  const pool = Array.from({ length: 60 }, () => randomEntry(random, "k"));
  for (const a of pool) {
    for (const b of pool) {
      const ab = compareEntries(a, b);
      const ba = compareEntries(b, a);
      assert.ok((ab > 0 && ba < 0) || (ab < 0 && ba > 0) || (ab === 0 && ba === 0));
      if (ab === 0) assert.deepEqual(a, b);
    }
  }
});

/** Few keys, nodes, timestamps and values, so that ties of every kind happen often. */
function randomEntry(random: SeededRandom, key: string): Entry {
  return {
    key,
    value: random.below(4) === 0 ? null : random.pick(["a", "b", "", "c c"]),
    hlc: T + random.below(4),
    node: random.pick(["node-a", "node-b", "node-c"]),
    expiresAtMs: random.below(3) === 0 ? NOW_MS + 1000 * (1 + random.below(2)) : 0,
  };
}

/** The model: for every key, the entry that wins over all others. */
function expectedWinners(entries: readonly Entry[]): Entry[] {
  const winners = new Map<string, Entry>();
  for (const e of entries) {
    const current = winners.get(e.key);
    if (current === undefined || compareEntries(e, current) > 0) winners.set(e.key, e);
  }
  return [...winners.values()]
    .map((e) => (e.value === null ? { ...e, expiresAtMs: 0 } : e))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}

Deno.test("applyRemote() ends in the same state for every order of the same entries", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const random = new SeededRandom(seed);
    const keys = ["a", "b", "c", "d", "e"];
    const entries = Array.from({ length: 40 }, () => randomEntry(random, random.pick(keys)));
    const expected = expectedWinners(entries);
    let root: string | null = null;
    for (let permutation = 0; permutation < 25; permutation++) {
      const store = makeStore("node-local");
      const order = random.shuffle(entries);
      for (const e of order) store.applyRemote(e);
      // A second pass, in another order, must change nothing (idempotent).
      for (const e of random.shuffle(order)) assert.equal(store.applyRemote(e), "stale");
      assert.deepEqual(snapshot(store), expected, `seed ${seed}, permutation ${permutation}`);
      root ??= store.rootHex();
      assert.equal(store.rootHex(), root, `seed ${seed}, permutation ${permutation}`);
    }
  }
});

Deno.test("store.write() stamps increasing versions with the node id and keeps tombstones", () => {
  const store = makeStore("node-q");
  const first = store.write("k", "1", 0);
  const second = store.write("k", null, NOW_MS + 5000);
  assert.equal(first.node, "node-q");
  assert.ok(second.hlc > first.hlc);
  assert.equal(second.value, null);
  assert.equal(second.expiresAtMs, 0, "a tombstone carries no expiry");
  assert.equal(store.read("k"), undefined);
  assert.deepEqual(store.entry("k"), second);
  assert.equal(store.size, 1);
  assert.equal(store.tombstoneCount, 1);
  assert.equal(store.countLive(), 0);
});

Deno.test("store.write() returns a change that later writes of its key leave as it was", () => {
  // The store updates a key's entry in place; the log and the outbox hold the changes.
  const store = makeStore("node-q");
  const inserted = store.write("k", "1", 0);
  const overwrote = store.write("k", "2", 0);
  const kept = [{ ...inserted }, { ...overwrote }];
  store.write("k", "3", NOW_MS + 5000);
  store.applyRemote(entry({ key: "k", hlc: hlcFromMs(NOW_MS + 1000), value: "4", node: "node-z" }));
  store.write("k", null, 0);
  assert.deepEqual([inserted, overwrote], kept);
  assert.equal(store.entry("k")?.value, null);
});

Deno.test("applyRemote() leaves the entry it is given as it was when the key is written again", () => {
  const store = makeStore();
  const received = entry({ key: "k", hlc: T, value: "remote" });
  const kept = { ...received };
  assert.equal(store.applyRemote(received), "applied");
  store.write("k", "local", NOW_MS + 5000);
  assert.equal(
    store.applyRemote(entry({ key: "k", hlc: hlcFromMs(NOW_MS + 1000), value: "later" })),
    "applied",
  );
  assert.deepEqual(received, kept);
  assert.equal(store.read("k")?.value, "later");
});

Deno.test("store.scan() lists live keys with a prefix after a key, in byte order, bounded", () => {
  const store = makeStore();
  for (const key of ["b2", "a", "b1", "b3", "\xffz", "b10", "c"]) store.write(key, "v", 0);
  store.write("b3", null, 0);
  assert.deepEqual(store.scan("", null, 100), ["a", "b1", "b10", "b2", "c", "\xffz"]);
  assert.deepEqual(store.scan("b", null, 100), ["b1", "b10", "b2"]);
  assert.deepEqual(store.scan("b", null, 2), ["b1", "b10"]);
  assert.deepEqual(store.scan("b", "b10", 2), ["b2"]);
  assert.deepEqual(store.scan("", "c", 5), ["\xffz"]);
  assert.deepEqual(store.scan("zzz", null, 5), []);
});

Deno.test("store.scan() pages through many keys with AFTER and sees each key once", () => {
  const random = new SeededRandom(11);
  const store = makeStore();
  const keys = new Set<string>();
  while (keys.size < 500) {
    // Bytes 0x21..0xff (0x7f excluded), as keys allow: byte order is code unit order.
    const length = 1 + random.below(4);
    const keyByte = (code: number) => String.fromCharCode(code === 0x7f ? 0x78 : code);
    keys.add("p" + Array.from({ length }, () => keyByte(0x21 + random.below(0xdf))).join(""));
  }
  for (const key of keys) store.write(key, "v", 0);
  const seen: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page = store.scan("p", after, 37);
    seen.push(...page);
    if (page.length < 37) break;
    const last = page.at(-1);
    assert.ok(last !== undefined, "a full page has a last key");
    after = last;
  }
  assert.deepEqual(seen, [...keys].sort());
});

Deno.test("applyRemote() applies a tombstone that carries an expiry once, then calls it stale", () => {
  const store = makeStore();
  const tombstone = entry({ key: "k", hlc: T, value: null, expiresAtMs: NOW_MS + 5000 });
  assert.equal(store.applyRemote(tombstone), "applied");
  assert.equal(store.entry("k")?.expiresAtMs, 0);
  assert.equal(store.applyRemote(tombstone), "stale");
  assert.equal(store.applyRemote({ ...tombstone, expiresAtMs: 0 }), "stale");
});
