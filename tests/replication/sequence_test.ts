import assert from "node:assert/strict";
import { SequenceTracker } from "../../src/replication/sequence.ts";

Deno.test("SequenceTracker accepts consecutive batches without missed changes", () => {
  const tracker = new SequenceTracker(10);
  assert.deepEqual(tracker.observe("a", 7, 1, 5), { missed: 0, duplicate: false });
  assert.deepEqual(tracker.observe("a", 7, 6, 1), { missed: 0, duplicate: false });
  assert.deepEqual(tracker.observe("a", 7, 7, 100), { missed: 0, duplicate: false });
});

Deno.test("SequenceTracker counts the changes in a hole as missed", () => {
  const tracker = new SequenceTracker(10);
  tracker.observe("a", 7, 1, 5);
  assert.deepEqual(tracker.observe("a", 7, 10, 2), { missed: 4, duplicate: false });
  assert.deepEqual(tracker.observe("a", 7, 12, 1), { missed: 0, duplicate: false });
});

Deno.test("SequenceTracker calls a batch seen before a duplicate (QoS 1 redelivery)", () => {
  const tracker = new SequenceTracker(10);
  tracker.observe("a", 7, 1, 5);
  tracker.observe("a", 7, 6, 5);
  assert.deepEqual(tracker.observe("a", 7, 1, 5), { missed: 0, duplicate: true });
  assert.deepEqual(tracker.observe("a", 7, 11, 1), { missed: 0, duplicate: false });
});

Deno.test("SequenceTracker starts over when the origin restarts with a new incarnation", () => {
  const tracker = new SequenceTracker(10);
  tracker.observe("a", 7, 1, 500);
  assert.deepEqual(tracker.observe("a", 8, 1, 1), { missed: 0, duplicate: false });
  assert.deepEqual(tracker.observe("a", 8, 2, 1), { missed: 0, duplicate: false });
});

Deno.test("SequenceTracker follows origins separately and forgets the oldest past its bound", () => {
  const tracker = new SequenceTracker(2);
  tracker.observe("a", 1, 1, 1);
  tracker.observe("b", 1, 1, 1);
  assert.deepEqual(tracker.observe("a", 1, 3, 1), { missed: 1, duplicate: false });
  tracker.observe("c", 1, 1, 1);
  assert.equal(tracker.size, 2);
  // "a" was forgotten: its next batch is a fresh start, not a hole.
  assert.deepEqual(tracker.observe("a", 1, 10, 1), { missed: 0, duplicate: false });
});
