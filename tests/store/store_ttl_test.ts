import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Store } from "../../src/store/store.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";

const START_MS = 1_700_000_000_000;

function makeStore(): { store: Store; clock: { ms: number; nowMs(): number } } {
  const clock = { ms: START_MS, nowMs: () => clock.ms };
  const store = new Store({
    nodeId: "node-a",
    clock,
    tombstoneGraceMs: 60_000,
    maxClockSkewMs: 60_000,
  });
  return { store, clock };
}

Deno.test("an entry reads as absent from the millisecond its expiry is reached", () => {
  const { store, clock } = makeStore();
  store.write("k", "v", START_MS + 1_000);
  clock.ms = START_MS + 999;
  assert.equal(store.read("k")?.value, "v");
  assert.equal(store.countLive(), 1);
  assert.deepEqual(store.scan("", null, 10), ["k"]);
  clock.ms = START_MS + 1_000;
  assert.equal(store.read("k"), undefined);
  assert.equal(store.countLive(), 0);
  assert.deepEqual(store.scan("", null, 10), []);
  assert.equal(store.entry("k")?.value, "v", "the expired entry is kept until purged");
});

Deno.test("an expired entry received from a peer reads as absent at once", () => {
  const { store } = makeStore();
  const outcome = store.applyRemote({
    key: "k",
    value: "v",
    hlc: hlcFromMs(START_MS - 5_000),
    node: "node-b",
    expiresAtMs: START_MS - 1,
  });
  assert.equal(outcome, "applied");
  assert.equal(store.read("k"), undefined);
  assert.equal(store.countLive(), 0);
});

Deno.test("rewriting a key without an expiry makes it live again and uncounted as expiring", () => {
  const { store, clock } = makeStore();
  store.write("k", "v", START_MS + 10);
  clock.ms = START_MS + 20;
  assert.equal(store.countLive(), 0);
  store.write("k", "w", 0);
  assert.equal(store.read("k")?.value, "w");
  assert.equal(store.countLive(), 1);
});

Deno.test("countLive() counts only keys neither deleted nor expired", () => {
  const { store, clock } = makeStore();
  store.write("a", "1", 0);
  store.write("b", "2", START_MS + 100);
  store.write("c", "3", START_MS + 200);
  store.write("d", null, 0);
  assert.equal(store.countLive(), 3);
  clock.ms = START_MS + 150;
  assert.equal(store.countLive(), 2);
  clock.ms = START_MS + 250;
  assert.equal(store.countLive(), 1);
  assert.equal(store.size, 4);
});

Deno.test("readBytes() reads what read() reads: live, deleted, expired and absent keys", () => {
  const { store, clock } = makeStore();
  store.write("live", "v1", 0);
  store.write("gone", "v2", 0);
  store.write("gone", null, 0);
  store.write("brief", "v3", START_MS + 10);
  store.write("caf\u00e9", "v4", 0); // a key of bytes above 0x7f, held as a binary string
  clock.ms = START_MS + 10;
  const line = Buffer.from("GET live gone brief caf\u00e9 never", "latin1");
  let start = 4;
  for (const key of ["live", "gone", "brief", "caf\u00e9", "never"]) {
    const end = start + key.length;
    assert.deepEqual(store.readBytes(line, start, end), store.read(key), key);
    start = end + 1;
  }
  assert.equal(store.readBytes(line, 4, 8)?.value, "v1");
  assert.equal(store.readBytes(line, 4, 7), undefined, "a prefix of a key is another key");
});

Deno.test("expiries hold across pages of slots, in pages where no key had one before too", () => {
  const { store, clock } = makeStore();
  // 40,000 slots span three pages of the columns (16,384 slots each); only the keys from
  // 20,000 on, in the second page and the third, get an expiry.
  const keys = Array.from({ length: 40_000 }, (_, i) => `key:${i}`);
  for (const [i, key] of keys.entries()) store.write(key, "v", i < 20_000 ? 0 : START_MS + i);
  clock.ms = START_MS + 30_000;
  for (const [i, key] of keys.entries()) {
    const expected = i < 20_000 || i > 30_000 ? "v" : undefined;
    assert.equal(store.readValue(key), expected, key);
    assert.equal(store.entry(key)?.expiresAtMs, i < 20_000 ? 0 : START_MS + i, key);
  }
  assert.equal(store.countLive(), 20_000 + 9_999);
  // A key of the first page given an expiry, and one of the third losing its own.
  store.write("key:5", "w", START_MS + 30_001);
  store.write("key:35000", "w", 0);
  clock.ms = START_MS + 30_001;
  assert.equal(store.readValue("key:5"), undefined);
  assert.equal(store.entry("key:35000")?.expiresAtMs, 0);
  assert.equal(store.readValue("key:35000"), "w");
});
