/**
 * Recovery's fast path (payload_loader.ts, Store.loadBytes): records loaded straight from the
 * file's bytes give the store that load() of every decoded entry gives, for every kind of entry,
 * and a refused entry gets decodePayload()'s message.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { recoverDataDir } from "../../src/persistence/recovery.ts";
import { loadPayload } from "../../src/persistence/payload_loader.ts";
import { SnapshotWriter } from "../../src/persistence/snapshot_file.ts";
import { decodePayload, encodeRecords } from "../../src/persistence/record_codec.ts";
import type { Causality } from "../../src/store/causality.ts";
import { counterEntry } from "../../src/store/counter_entry.ts";
import { type CounterState, incremented, startedCounter } from "../../src/store/counter.ts";
import type { Entry } from "../../src/store/entry.ts";
import { entryToBytes } from "../../src/store/entry_codec.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { Store } from "../../src/store/store.ts";
import { MAX_HEAP_VALUE_BYTES } from "../../src/store/value_heap.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import { captureLog, contents, DAY_MS, tempDir, writeLog } from "./support.ts";

const NOW_MS = 1_750_000_000_000;
const HLC = hlcFromMs(NOW_MS - 60_000);
const NODES = ["node-a", "node-b", "n.c_1", "x".repeat(64)];

function newStore(trackCausality: boolean): Store {
  return new Store({
    nodeId: "node-a",
    clock: { nowMs: () => NOW_MS },
    tombstoneGraceMs: DAY_MS,
    maxClockSkewMs: 60_000,
    trackCausality,
  });
}

/** Every byte value a value may hold: all 256 but LF. */
const EVERY_VALUE_BYTE = Array.from({ length: 256 }, (_, byte) => byte)
  .filter((byte) => byte !== 0x0a)
  .map((byte) => String.fromCharCode(byte))
  .join("");

/** A key of `length` bytes from 0x21..0xff without DEL: any byte a key may hold. */
function randomKey(random: SeededRandom, length: number): string {
  let key = "";
  for (let i = 0; i < length; i++) {
    let code = 0x21 + random.below(0xff - 0x21 + 1);
    if (code === 0x7f) code = 0x80;
    key += String.fromCharCode(code);
  }
  return key;
}

function randomValue(random: SeededRandom): string | null {
  const kind = random.below(20);
  if (kind === 0) return null;
  if (kind === 1) return EVERY_VALUE_BYTE;
  if (kind === 2) return "";
  const length = kind === 3 ? MAX_HEAP_VALUE_BYTES + 1 + random.below(100) : random.below(300);
  return random.bytes(length).replaceAll("\n", "\r");
}

function counterState(random: SeededRandom, tick: number): CounterState {
  let state = startedCounter(0, "", 0n);
  for (let i = 0; i <= random.below(3); i++) {
    const next = incremented(state, random.pick(NODES), BigInt(random.below(9) - 4), HLC + tick);
    if (typeof next !== "string") state = next;
  }
  return state;
}

const CAUSALITY: Causality = {
  seen: [{ node: "node-b", hlc: HLC - 4096 }],
  losers: [{ node: "n.c_1", hlc: HLC - 2048, seen: [] }],
};

/**
 * A seeded mix of entries over a pool of keys (so that keys repeat): values of every byte,
 * empty and longer than the value heap takes, tombstones, expiries in the future and long past
 * (purged as loaded), old tombstones (purged), counters and entries with causality.
 */
function entryMix(random: SeededRandom, count: number): Entry[] {
  const keys = Array.from(
    { length: Math.ceil(count / 3) },
    (_, i) =>
      randomKey(random, random.below(10) === 0 ? 65 + random.below(200) : 1 + random.below(40)) + i,
  );
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const key = random.pick(keys);
    const tick = random.below(100_000);
    const kind = random.below(20);
    if (kind === 0) {
      entries.push(counterEntry(key, counterState(random, tick), 0));
      continue;
    }
    const value = randomValue(random);
    let hlc = HLC + tick;
    if (value === null && kind === 1) hlc = hlcFromMs(NOW_MS - 2 * DAY_MS);
    let expiresAtMs = 0;
    if (value !== null && kind <= 4) {
      expiresAtMs = kind === 2 ? NOW_MS - 2 * DAY_MS : NOW_MS + 1 + random.below(1_000_000);
    }
    const entry: Entry = { key, value, hlc, node: random.pick(NODES), expiresAtMs };
    if (kind === 5) {
      // Its own dot is node-a's: the vector and the loser name other nodes.
      entry.node = "node-a";
      entry.causality = CAUSALITY;
    }
    entries.push(entry);
  }
  return entries;
}

async function writeSnapshot(dir: string, entries: Entry[]): Promise<void> {
  const writer = SnapshotWriter.create(dir, 1, { createdAtMs: NOW_MS, hlc: HLC });
  for (let i = 0; i < entries.length; i += 97) writer.writeEntries(entries.slice(i, i + 97));
  await writer.commit();
}

function everything(store: Store) {
  return {
    contents: contents(store),
    sides: [...store.entries()].map(({ key, counter, causality }) => ({ key, counter, causality }))
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
    root: store.rootHex(),
    size: store.size,
    tombstones: store.tombstoneCount,
    live: store.countLive(),
    counterKeys: store.counterKeys,
    clock: store.hlc.last,
  };
}

for (const trackCausality of [false, true]) {
  Deno.test(`recovery from bytes equals load() of every entry in order, for seeded mixes of every kind of entry (causality tracked: ${trackCausality})`, async () => {
    for (const seed of [1, 2, 3]) {
      const random = new SeededRandom(seed);
      const inSnapshot = entryMix(random, 1500);
      const inLog = entryMix(random, 500);
      const dir = await tempDir();
      await writeSnapshot(dir, inSnapshot);
      await writeLog(dir, 1, [inLog.slice(0, 250), inLog.slice(250)]);
      const recovered = newStore(trackCausality);
      const report = recoverDataDir(dir, recovered, captureLog().log);
      const merged = newStore(trackCausality);
      for (const entry of [...inSnapshot, ...inLog]) merged.load(entry);
      assert.equal(report.entriesRead, 2000, `seed ${seed}`);
      assert.deepEqual(everything(recovered), everything(merged), `seed ${seed}`);
      assert.ok(recovered.tombstoneCount > 0 && recovered.counterKeys > 0, `seed ${seed}`);
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a value of every byte but LF comes back byte for byte, from the value heap", async () => {
  const dir = await tempDir();
  const long = EVERY_VALUE_BYTE.repeat(Math.ceil((MAX_HEAP_VALUE_BYTES + 1) / 255));
  await writeSnapshot(dir, [
    { key: "every", value: EVERY_VALUE_BYTE, hlc: HLC, node: "node-a", expiresAtMs: 0 },
    { key: "long", value: long, hlc: HLC, node: "node-a", expiresAtMs: 0 },
    { key: "\x80\xff", value: "high key", hlc: HLC, node: "node-b", expiresAtMs: 0 },
  ]);
  const store = newStore(false);
  recoverDataDir(dir, store, captureLog().log);
  assert.equal(store.readValue("every"), EVERY_VALUE_BYTE);
  assert.equal(store.readValue("long"), long);
  assert.equal(store.readValue("\x80\xff"), "high key");
  assert.equal(store.valueHeapStats().usedBytes > 0, true);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a key met again in a snapshot or a log is merged: the newer version wins either way round", async () => {
  const entry = (value: string, tick: number): Entry => ({
    key: "k",
    value,
    hlc: HLC + tick,
    node: "node-a",
    expiresAtMs: 0,
  });
  for (const order of [[entry("new", 2), entry("old", 1)], [entry("old", 1), entry("new", 2)]]) {
    const dir = await tempDir();
    await writeSnapshot(dir, order);
    await writeLog(dir, 1, [[entry("older", 0)]]);
    const store = newStore(false);
    const report = recoverDataDir(dir, store, captureLog().log);
    assert.equal(store.readValue("k"), "new");
    assert.equal(store.size, 1);
    assert.equal(report.entriesRead, 3);
    await Deno.remove(dir, { recursive: true });
  }
});

/** A payload of one entry, the entry's bytes changed by `change` (offsets in the entry). */
function payloadOf(entry: Entry, change: (bytes: Buffer) => void): Buffer {
  const bytes = entryToBytes(entry);
  change(bytes);
  const payload = Buffer.alloc(4 + bytes.length);
  payload.writeUInt32LE(1, 0);
  bytes.copy(payload, 4);
  return payload;
}

Deno.test("an entry the bytes path refuses gets decodePayload()'s message, and a good one loads", () => {
  const plain: Entry = { key: "key", value: "value", hlc: HLC, node: "node-a", expiresAtMs: 0 };
  const expiring: Entry = { ...plain, expiresAtMs: NOW_MS + 1000 };
  // Offsets: flags 0, hlc 1-8, node length 9, node 10-15, key length 16-17, key 18-20, then
  // expiry (21-28) or the value length (21-24) and the value.
  const cases: [string, Entry, (bytes: Buffer) => void][] = [
    ["unknown flags", plain, (b) => (b[0] = 0x10)],
    ["negative version", plain, (b) => b.writeDoubleLE(-1, 1)],
    ["fractional version", plain, (b) => b.writeDoubleLE(1.5, 1)],
    ["node id with a space", plain, (b) => (b[12] = 0x20)],
    ["key with a space", plain, (b) => (b[19] = 0x20)],
    ["key with a control byte", plain, (b) => (b[19] = 0x01)],
    ["key with DEL", plain, (b) => (b[19] = 0x7f)],
    ["empty key", plain, (b) => b.writeUInt16LE(0, 16)],
    ["key past the payload", plain, (b) => b.writeUInt16LE(999, 16)],
    ["value with LF", plain, (b) => (b[26] = 0x0a)],
    ["value past the payload", plain, (b) => b.writeUInt32LE(999, 21)],
    ["negative expiry", expiring, (b) => b.writeDoubleLE(-5, 21)],
    ["fractional expiry", expiring, (b) => b.writeDoubleLE(5.5, 21)],
    ["tombstone with expiry", { ...expiring, value: null }, () => {}],
    ["counter flag on a plain entry", plain, (b) => (b[0] = 4)],
  ];
  for (const [name, entry, change] of cases) {
    const payload = payloadOf(entry, change);
    const expected = decodePayload(payload, 0, payload.length);
    assert.equal(expected.ok, false, `${name}: decodePayload() refuses it`);
    const store = newStore(false);
    const loaded = loadPayload(store, payload, 0, payload.length);
    assert.deepEqual(loaded, expected, name);
  }
  const good = encodeRecords([plain, expiring, { ...plain, key: "gone", value: null }]).bytes;
  const store = newStore(false);
  assert.deepEqual(loadPayload(store, good, 8, good.length), { ok: true, entries: 3 });
  assert.equal(store.readValue("key"), "value");
  assert.equal(store.tombstoneCount, 1);
});

Deno.test("an LF at any position of a value of any length up to 13 bytes is refused, and every other byte loads", () => {
  // Offsets as above: the value's bytes start at 25. The bytes path tests four bytes at a time,
  // then the rest one by one: every length and position crosses both parts.
  for (let length = 1; length <= 13; length++) {
    for (let position = 0; position < length; position++) {
      for (const [byte, refused] of [[0x0a, true], [0x0b, false], [0x8a, false], [0xff, false]]) {
        const value = "x".repeat(length);
        const entry: Entry = { key: "key", value, hlc: HLC, node: "node-a", expiresAtMs: 0 };
        const payload = payloadOf(entry, (b) => (b[25 + position] = byte as number));
        const store = newStore(false);
        const loaded = loadPayload(store, payload, 0, payload.length);
        const name = `length ${length}, byte ${byte} at ${position}`;
        const decoded = decodePayload(payload, 0, payload.length);
        assert.equal(loaded.ok, !refused, name);
        assert.equal(decoded.ok, !refused, name);
        if (refused) assert.deepEqual(loaded, decoded, name);
        if (!refused) assert.equal(store.readValue("key")?.charCodeAt(position), byte, name);
      }
    }
  }
});

Deno.test("a payload without entries, or with bytes after them, is refused as decodePayload() refuses it", () => {
  const one = entryToBytes({ key: "k", value: "v", hlc: HLC, node: "node-a", expiresAtMs: 0 });
  const trailing = Buffer.concat([Buffer.from([1, 0, 0, 0]), one, Buffer.from([7, 7])]);
  for (const payload of [Buffer.alloc(0), Buffer.alloc(4), Buffer.from([2, 0, 0, 0]), trailing]) {
    const expected = decodePayload(payload, 0, payload.length);
    assert.equal(expected.ok, false);
    assert.deepEqual(loadPayload(newStore(false), payload, 0, payload.length), expected);
  }
});
