import assert from "node:assert/strict";
import { Backoff } from "../../src/replication/backoff.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

Deno.test("Backoff.next() doubles from minMs up to maxMs with the top of the jitter range", () => {
  const backoff = new Backoff(100, 5000, () => 1);
  const pauses = Array.from({ length: 9 }, () => backoff.next());
  assert.deepEqual(pauses, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
});

Deno.test("Backoff.next() with the bottom of the jitter range is half, but never below minMs", () => {
  const backoff = new Backoff(100, 5000, () => 0);
  const pauses = Array.from({ length: 8 }, () => backoff.next());
  assert.deepEqual(pauses, [100, 100, 200, 400, 800, 1600, 2500, 2500]);
});

Deno.test("Backoff.next() stays within [minMs, maxMs] for any random value and attempt", () => {
  const random = new SeededRandom(3);
  const backoff = new Backoff(50, 3000, () => random.next());
  for (let attempt = 0; attempt < 200; attempt++) {
    const pause = backoff.next();
    assert.ok(pause >= 50 && pause <= 3000, `pause ${pause} at attempt ${attempt}`);
  }
  assert.equal(backoff.attempt, 200);
});

Deno.test("Backoff.next() spreads pauses apart once the ceiling is reached (jitter)", () => {
  const random = new SeededRandom(5);
  const backoff = new Backoff(100, 1000, () => random.next());
  for (let attempt = 0; attempt < 10; attempt++) backoff.next();
  const pauses = new Set(Array.from({ length: 20 }, () => backoff.next()));
  assert.ok(pauses.size > 10, `only ${pauses.size} distinct pauses`);
});

Deno.test("Backoff.reset() starts again from minMs", () => {
  const backoff = new Backoff(100, 5000, () => 1);
  for (let attempt = 0; attempt < 5; attempt++) backoff.next();
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.next(), 100);
});

Deno.test("new Backoff() refuses minMs above maxMs", () => {
  assert.throws(() => new Backoff(200, 100, Math.random), /minMs <= maxMs/);
});
