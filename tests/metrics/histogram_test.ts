import assert from "node:assert/strict";
import { Histogram } from "../../src/metrics/mod.ts";

Deno.test("Histogram.observe() counts a value in the first bucket whose bound holds it", () => {
  const histogram = new Histogram([0.1, 1]);
  for (const value of [0.05, 0.1, 0.5, 1, 3]) histogram.observe(value);
  assert.deepEqual([...histogram.counts], [2, 2, 1]);
  assert.equal(histogram.count, 5);
  assert.equal(histogram.sum, 4.65);
});

Deno.test("Histogram refuses bounds that do not ascend (a bug)", () => {
  assert.throws(() => new Histogram([1, 1]), /must ascend/);
});
