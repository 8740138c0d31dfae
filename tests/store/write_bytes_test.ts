import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Store } from "../../src/store/store.ts";
import { decodeEntry, encodedEntryLength, encodeEntry } from "../../src/store/entry_codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import { MAX_HEAP_VALUE_BYTES } from "../../src/store/value_heap.ts";
import { decodeBatch, encodeBatch } from "../../src/replication/codec.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const START_MS = 1_700_000_000_000;

function makeStore(nodeId = "node-a"): Store {
  return new Store({
    nodeId,
    clock: { nowMs: () => START_MS },
    tombstoneGraceMs: 60_000,
    maxClockSkewMs: 60_000,
  });
}

/** Every byte value but LF (which no value holds), then `extra` random ones, CR among them. */
function allBytes(random: SeededRandom, extra: number): Buffer {
  const bytes = Buffer.alloc(256 + extra);
  for (let i = 0; i < bytes.length; i++) {
    const byte = i < 256 ? i : random.below(256);
    bytes[i] = byte === 10 ? 13 : byte;
  }
  return bytes;
}

/** encodeEntry() of `entry` as new bytes. */
function encoded(entry: Entry): Buffer {
  const buffer = Buffer.alloc(encodedEntryLength(entry) + 8);
  const end = encodeEntry(entry, buffer, 4);
  assert.equal(end, 4 + encodedEntryLength(entry));
  return buffer.subarray(4, end);
}

/** The same entry with its value as a plain string property. */
function plain(entry: Entry): Entry {
  return { key: entry.key, value: entry.value, hlc: entry.hlc, node: entry.node, expiresAtMs: 0 };
}

Deno.test("store.write() of bytes stores and hands out what the binary string would", () => {
  const random = new SeededRandom(0xb17e5);
  const lengths = [0, 1, 255, 256, 16_384, MAX_HEAP_VALUE_BYTES, MAX_HEAP_VALUE_BYTES + 1, 70_000];
  const store = makeStore();
  const peer = makeStore("node-b");
  for (const [index, length] of lengths.entries()) {
    const source = allBytes(random, length);
    // A view into a larger buffer, as the server passes a part of a received chunk.
    const bytes = source.subarray(0, length);
    const text = bytes.toString("latin1");
    const key = `key-${index}`;
    const change = store.write(key, bytes, 0);
    assert.equal(change.value, text, `length ${length}`);
    assert.equal(store.readValue(key), text, `length ${length}`);
    // The entry's bytes (log records, replication batches, snapshots) are those of the string.
    assert.deepEqual(encoded(change), encoded(plain(change)), `length ${length}`);
    const decoded = decodeEntry(encoded(change), 0, encodedEntryLength(change));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.entry, plain(change));
    // The store copied the bytes: the source may change once the change is gone.
    source.fill(0x41);
    assert.equal(store.readValue(key), text, `length ${length}`);
    assert.equal(peer.applyRemote(plain(change)), "applied");
  }
  assert.equal(store.rootHex(), peer.rootHex());
});

Deno.test("a change written from bytes encodes them whole in a replication batch", () => {
  const random = new SeededRandom(7);
  const store = makeStore();
  const bytes = allBytes(random, 20_000);
  const changes = [store.write("a", bytes, 0), store.write("b", "plain", 0)];
  const decoded = decodeBatch(
    encodeBatch({ origin: "node-a", incarnation: 1, firstSequence: 1, entries: changes }),
  );
  assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
  assert.deepEqual(decoded.batch.entries, changes.map(plain));
});

Deno.test("a change written from bytes cannot be given another value, and its copies decode", () => {
  const store = makeStore();
  const change = store.write("k", Buffer.from("from bytes", "latin1"), 0);
  assert.throws(() => {
    (change as { value: string | null }).value = "other";
  }, TypeError);
  // A copy (as storedForm and withSide make) is an entry of its own: it encodes its own value.
  const copy: Entry = { ...change };
  assert.equal(copy.value, "from bytes");
  copy.value = "changed";
  assert.deepEqual(encoded(copy), encoded(plain(copy)));
  assert.equal(decodeEntry(encoded(copy), 0, encodedEntryLength(copy)).ok, true);
  assert.deepEqual(encoded(change), encoded(plain(change)));
});
