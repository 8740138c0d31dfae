import assert from "node:assert/strict";
import { COMMAND_BOUNDS_SECONDS, HistogramSet } from "../../src/metrics/mod.ts";

Deno.test("HistogramSet.observeEach() counts one observation per index in the bucket of the duration", () => {
  const set = new HistogramSet([0.1, 1], 3);
  set.observeEach(new Int32Array([0, 2, 2, 9]), 3, 0.5);
  set.observeEach(new Int32Array([2]), 1, 0.1);
  set.observeEach(new Int32Array([0]), 1, 7);
  assert.deepEqual([...set.bucketsOf(0)], [0, 1, 1]);
  assert.deepEqual([...set.bucketsOf(1)], [0, 0, 0]);
  assert.deepEqual([...set.bucketsOf(2)], [1, 2, 0]);
  assert.equal(set.countOf(2), 3);
  assert.deepEqual([...set.sums], [7.5, 0, 1.1]);
});

Deno.test("HistogramSet refuses bounds that do not ascend (a bug)", () => {
  assert.throws(() => new HistogramSet([0.5, 0.5], 1), /must ascend/);
  assert.equal(new HistogramSet(COMMAND_BOUNDS_SECONDS, 1).bucketsOf(0).length, 18);
});
