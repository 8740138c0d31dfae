import assert from "node:assert/strict";
import { Outbox } from "../../src/replication/outbox.ts";
import type { Entry } from "../../src/store/entry.ts";
import { encodedEntryLength } from "../../src/store/entry_codec.ts";

function change(index: number, value = `v${index}`): Entry {
  return { key: `k${index}`, value, hlc: 1024 * (1000 + index), node: "n", expiresAtMs: 0 };
}

function changes(from: number, to: number): Entry[] {
  return Array.from({ length: to - from }, (_, offset) => change(from + offset));
}

Deno.test("Outbox.take() returns changes oldest first with consecutive sequence numbers", () => {
  const outbox = new Outbox(100);
  outbox.push(changes(0, 3));
  outbox.push(changes(3, 5));
  assert.equal(outbox.size, 5);
  assert.equal(outbox.lastSequence, 5);
  assert.deepEqual(outbox.take(2, 1 << 20), { firstSequence: 1, entries: changes(0, 2) });
  assert.deepEqual(outbox.take(10, 1 << 20), { firstSequence: 3, entries: changes(2, 5) });
  assert.equal(outbox.take(10, 1 << 20), null);
  outbox.push([change(9)]);
  assert.deepEqual(outbox.take(10, 1 << 20), { firstSequence: 6, entries: [change(9)] });
});

Deno.test("Outbox.push() past capacity drops the oldest changes and counts them", () => {
  const outbox = new Outbox(3);
  assert.equal(outbox.push(changes(0, 2)), 0);
  assert.equal(outbox.push(changes(2, 5)), 2);
  assert.equal(outbox.size, 3);
  assert.equal(outbox.dropped, 2);
  // Sequence numbers 1 and 2 were dropped: the receivers see the hole.
  assert.deepEqual(outbox.take(10, 1 << 20), { firstSequence: 3, entries: changes(2, 5) });
  assert.equal(outbox.push(changes(5, 15)), 7);
  assert.equal(outbox.dropped, 9);
  assert.deepEqual(outbox.take(10, 1 << 20), { firstSequence: 13, entries: changes(12, 15) });
});

Deno.test("Outbox.take() stops before maxBytes but always takes at least one change", () => {
  const outbox = new Outbox(100);
  const big = change(0, "x".repeat(1000));
  outbox.push([big, change(1), change(2)]);
  assert.deepEqual(outbox.take(10, 10), { firstSequence: 1, entries: [big] });
  const twoBytes = encodedEntryLength(change(1)) + encodedEntryLength(change(2));
  assert.deepEqual(outbox.take(10, twoBytes - 1), { firstSequence: 2, entries: [change(1)] });
  assert.deepEqual(outbox.take(10, twoBytes), { firstSequence: 3, entries: [change(2)] });
});

Deno.test("Outbox stays correct across many pushes and takes (compaction)", () => {
  const outbox = new Outbox(1000);
  let next = 0;
  let expected = 0;
  let dropped = 0;
  for (let round = 0; round < 300; round++) {
    const pushed = changes(next, next + 40);
    next += 40;
    dropped += outbox.push(pushed);
    expected = Math.max(expected, next - outbox.size);
    const batch = outbox.take(30, 1 << 20);
    assert.ok(batch !== null);
    assert.equal(batch.firstSequence, expected + 1);
    assert.deepEqual(batch.entries, changes(expected, expected + batch.entries.length));
    expected += batch.entries.length;
  }
  assert.ok(dropped > 0);
  assert.equal(dropped, outbox.dropped);
  assert.equal(outbox.size, next - expected);
});

Deno.test("new Outbox() refuses a capacity below one", () => {
  assert.throws(() => new Outbox(0), /positive integer/);
});
