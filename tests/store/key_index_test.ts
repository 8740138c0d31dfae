import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { KeyIndex } from "../_support/key_index.ts";
import { nth } from "../_support/nth.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import { AssertionError } from "../../src/assert.ts";

interface Item {
  key: string;
  version: number;
}

/**
 * Hashes drawn from few values with equal top bits, so that keys share hashes and runs of
 * cells cross the end of the table.
 */
function crowdedHash(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  const top = nth([0x00000000, 0x7fff0000, 0x80000000, 0xffff0000], (h >>> 3) & 3);
  return (top | (h & 0x7)) | 0;
}

function spreadHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) | 0;
}

function set(index: KeyIndex<Item>, key: string, version: number, hash: number): void {
  index.put(index.find(key, hash), { key, version }, hash);
}

function checkAgainst(
  index: KeyIndex<Item>,
  model: Map<string, number>,
  hashOf: (key: string) => number,
  /** Lookups move keys while resizing: checks in the middle of a resize look up only a few. */
  lookups = Infinity,
): void {
  assert.equal(index.size, model.size);
  // findBytes() moves no keys: every key is looked up that way, resizing or not, from inside
  // a larger buffer; the same key with one more byte is found by no lookup.
  for (const [key, version] of model) {
    const bytes = Buffer.from(`<${key}x>`, "latin1");
    const end = 1 + key.length;
    assert.equal(index.findBytes(bytes, 1, end, hashOf(key))?.version, version, key);
    assert.equal(index.findBytes(bytes, 1, end + 1, hashOf(key)), undefined, key);
    assert.equal(index.findBytes(bytes, 1, end + 1, hashOf(`${key}x`)), undefined, key);
  }
  let looked = 0;
  for (const [key, version] of model) {
    if (looked++ === lookups) break;
    assert.equal(index.find(key, hashOf(key))?.version, version);
  }
  const listed = [...index.values()].map((item) => `${item.key}=${item.version}`).sort();
  assert.deepEqual(listed, [...model].map(([key, version]) => `${key}=${version}`).sort());
}

const CASES = [
  ["crowded", crowdedHash, 64],
  ["spread", spreadHash, 64],
  ["crowded", crowdedHash, 1],
  ["spread", spreadHash, 1],
] as const;

for (const [name, hashOf, moveStep] of CASES) {
  Deno.test(`KeyIndex follows a Map through inserts, overwrites, deletes and resizes (${name} hashes, ${moveStep} home cells moved per call)`, () => {
    const random = new SeededRandom(name.length + moveStep);
    const index = new KeyIndex<Item>({ moveStep });
    const model = new Map<string, number>();
    let checkedWhileResizing = 0;
    const capacities = new Set<number>();
    for (let step = 0; step < 4000; step++) {
      const key = `key-${Math.floor(random.next() * 1500)}`;
      if (random.next() < 0.25) {
        const found = index.find(key, hashOf(key));
        assert.equal(found?.version, model.get(key));
        assert.equal(found !== undefined && index.delete(found, hashOf(key)), model.has(key));
        model.delete(key);
      } else {
        set(index, key, step, hashOf(key));
        model.set(key, step);
      }
      capacities.add(index.capacity);
      if (step % 50 === 0) {
        if (index.resizing) checkedWhileResizing++;
        checkAgainst(index, model, hashOf, 8);
      }
    }
    // Then all but 50 keys go, so the table halves on the way down.
    for (const key of [...model.keys()].slice(50)) {
      assert.equal(index.delete(index.find(key, hashOf(key)) as Item, hashOf(key)), true);
      model.delete(key);
      capacities.add(index.capacity);
      if (model.size % 100 === 0) {
        if (index.resizing) checkedWhileResizing++;
        checkAgainst(index, model, hashOf, 8);
      }
    }
    checkAgainst(index, model, hashOf);
    assert.ok(capacities.size >= 4, `the table resized (${[...capacities].join(", ")})`);
    // Lookups move keys too: a resize under way ends after enough of them.
    while (index.resizing) index.find("absent", 0);
    checkAgainst(index, model, hashOf);
    assert.ok(index.capacity < Math.max(...capacities), "the table shrank after the deletes");
    if (moveStep === 1) {
      assert.ok(checkedWhileResizing >= 10, `checked while resizing: ${checkedWhileResizing}`);
    }
  });
}

Deno.test("KeyIndex.put refuses an entry given as current that is not its key's entry", () => {
  const index = new KeyIndex<Item>();
  set(index, "a", 1, 5);
  assert.throws(
    () => index.put(undefined, { key: "a", version: 2 }, 5),
    /invariant broken: KeyIndex.put\(\) is given its key's entry/,
  );
  assert.throws(
    () => index.put({ key: "a", version: 1 }, { key: "a", version: 2 }, 5),
    AssertionError,
  );
  assert.equal(index.find("a", 5)?.version, 1);
});

Deno.test("KeyIndex.delete of an entry not stored changes nothing", () => {
  const index = new KeyIndex<Item>();
  set(index, "a", 1, 7);
  assert.equal(index.delete({ key: "a", version: 1 }, 7), false);
  assert.equal(index.delete({ key: "b", version: 1 }, 7), false);
  assert.equal(index.size, 1);
  assert.equal(index.find("a", 7)?.version, 1);
});

Deno.test("KeyIndex.clear empties the table and shrinks it", () => {
  const index = new KeyIndex<Item>();
  for (let i = 0; i < 1000; i++) set(index, `k${i}`, i, spreadHash(`k${i}`));
  const grown = index.capacity;
  index.clear();
  assert.equal(index.size, 0);
  assert.equal(index.find("k1", spreadHash("k1")), undefined);
  assert.deepEqual([...index.values()], []);
  assert.ok(index.capacity < grown);
});

Deno.test("KeyIndex.prefetch reads the cells of its hashes and changes nothing, resizing or not", () => {
  const random = new SeededRandom(11);
  const index = new KeyIndex<Item>({ moveStep: 1 });
  const model = new Map<string, number>();
  const hashes = new Int32Array(8);
  let whileResizing = 0;
  let hits = 0;
  for (let step = 0; step < 3000; step++) {
    const key = `key-${Math.floor(random.next() * 800)}`;
    for (let i = 0; i < hashes.length; i++) {
      hashes[i] = spreadHash(`key-${Math.floor(random.next() * 800)}`);
    }
    // Between a find and the put that follows it, which relies on where the find ended.
    const found = index.find(key, spreadHash(key));
    const resizing = index.resizing;
    const loaded = index.prefetch(hashes, hashes.length);
    if (resizing) {
      assert.equal(loaded, 0, "no hint while resizing");
      whileResizing++;
    } else if (loaded !== 0) hits++;
    index.put(found, { key, version: step }, spreadHash(key));
    model.set(key, step);
  }
  checkAgainst(index, model, spreadHash);
  assert.ok(whileResizing > 0 && hits > 0, `resizing ${whileResizing}, hits ${hits}`);
  const stored = index.find("key-1", spreadHash("key-1")) as Item;
  hashes[0] = spreadHash("key-1");
  // Its home cell may hold another key of a run; then that key's length is read.
  assert.ok(index.prefetch(hashes, 1) >= Math.min(stored.key.length, 5));
});

Deno.test("KeyIndex.reserve sizes an empty table so that that many inserts start no resize", () => {
  for (const keys of [1, 48, 49, 1000, 12_288, 12_289]) {
    const index = new KeyIndex<Item>();
    index.reserve(keys);
    const reserved = index.capacity;
    assert.ok(keys * 4 <= reserved * 3, `${keys} keys fit 3/4 of ${reserved} cells`);
    assert.ok(reserved === 64 || keys * 4 > (reserved / 2) * 3, `${reserved} is the smallest`);
    const model = new Map<string, number>();
    for (let i = 0; i < keys; i++) {
      set(index, `k${i}`, i, spreadHash(`k${i}`));
      model.set(`k${i}`, i);
      assert.equal(index.resizing, false);
    }
    assert.equal(index.capacity, reserved);
    checkAgainst(index, model, spreadHash);
  }
});

Deno.test("KeyIndex.reserve of too few keys grows as usual, and of too many keeps every key", () => {
  for (const [reserved, keys] of [[100, 5000], [100_000, 300]]) {
    const index = new KeyIndex<Item>({ moveStep: 1 });
    index.reserve(reserved!);
    const model = new Map<string, number>();
    for (let i = 0; i < keys!; i++) {
      set(index, `k${i}`, i, crowdedHash(`k${i}`));
      model.set(`k${i}`, i);
    }
    checkAgainst(index, model, crowdedHash, 100);
    while (index.resizing) index.find("absent", 0);
    checkAgainst(index, model, crowdedHash);
    assert.ok(index.size * 4 <= index.capacity * 3);
  }
});

Deno.test("KeyIndex.reserve keeps the table from shrinking until reserve(0), and leaves a held table as it is", () => {
  const index = new KeyIndex<Item>();
  index.reserve(10_000);
  const reserved = index.capacity;
  const items: Item[] = [];
  for (let i = 0; i < 20; i++) {
    const item = { key: `k${i}`, version: i };
    index.put(undefined, item, spreadHash(item.key));
    items.push(item);
  }
  for (const item of items.splice(0, 10)) index.delete(item, spreadHash(item.key));
  assert.equal(index.capacity, reserved, "no shrink below the reserved table");
  // A reserve given to an index that holds keys changes no table.
  index.reserve(1_000_000);
  assert.equal(index.capacity, reserved);
  index.reserve(0);
  for (const item of items.splice(0, 5)) index.delete(item, spreadHash(item.key));
  while (index.resizing) index.find("absent", 0);
  assert.ok(index.capacity < reserved, `shrank: ${index.capacity}`);
  assert.deepEqual(
    [...index.values()].map((item) => item.key).sort(),
    items.map((i) => i.key).sort(),
  );
  index.clear();
  index.reserve(0);
  assert.equal(index.capacity, 64);
});
