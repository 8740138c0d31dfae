import assert from "node:assert/strict";
import { AntiEntropyLoop } from "../../src/anti_entropy/loop.ts";
import { delay, waitUntil } from "../_support/ports.ts";

/** A round that takes `ms` and records when it ran. */
function recordingRound(ms: number) {
  const spans: { start: number; end: number }[] = [];
  let running = 0;
  let maxRunning = 0;
  const round = async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    const start = performance.now();
    await delay(ms);
    spans.push({ start, end: performance.now() });
    running--;
  };
  return { spans, round, maxRunning: () => maxRunning };
}

Deno.test("the loop runs rounds one after another, never two at once", async () => {
  const recorder = recordingRound(30);
  const loop = new AntiEntropyLoop({
    intervalMs: 10,
    jitterMs: 5,
    random: () => 0.5,
    round: recorder.round,
  });
  loop.start();
  await waitUntil("three rounds", () => recorder.spans.length >= 3, 5000);
  loop.syncSoon();
  loop.syncSoon();
  await loop.close();
  assert.equal(recorder.maxRunning(), 1);
  for (const [i, span] of recorder.spans.entries()) {
    const previous = recorder.spans[i - 1];
    if (previous !== undefined) assert.ok(span.start >= previous.end);
  }
});

Deno.test("with interval 0 the loop runs no rounds by itself, but syncSoon() runs one", async () => {
  const recorder = recordingRound(5);
  const loop = new AntiEntropyLoop({
    intervalMs: 0,
    jitterMs: 0,
    random: Math.random,
    round: recorder.round,
  });
  loop.start();
  assert.equal(loop.isOn, false);
  await delay(100);
  assert.equal(recorder.spans.length, 0);
  loop.syncSoon();
  await waitUntil("the round", () => recorder.spans.length === 1, 5000);
  await delay(50);
  assert.equal(recorder.spans.length, 1);
  await loop.close();
});

Deno.test("syncSoon() during a round runs one more round right after it, however often called", async () => {
  const recorder = recordingRound(40);
  const loop = new AntiEntropyLoop({
    intervalMs: 0,
    jitterMs: 0,
    random: Math.random,
    round: recorder.round,
  });
  loop.syncSoon();
  await delay(10);
  loop.syncSoon();
  loop.syncSoon();
  loop.syncSoon();
  await waitUntil("two rounds", () => recorder.spans.length === 2, 5000);
  await delay(80);
  assert.equal(recorder.spans.length, 2);
  assert.equal(recorder.maxRunning(), 1);
  await loop.close();
});

Deno.test("close() waits for the running round and no round starts after it", async () => {
  const recorder = recordingRound(50);
  const loop = new AntiEntropyLoop({
    intervalMs: 1,
    jitterMs: 0,
    random: Math.random,
    round: recorder.round,
  });
  loop.start();
  await delay(20);
  await loop.close();
  const count = recorder.spans.length;
  assert.ok(count >= 1);
  loop.syncSoon();
  await delay(80);
  assert.equal(recorder.spans.length, count);
});

Deno.test("setTiming() reschedules the waiting round with the new interval, and 0 stops the loop", async () => {
  const recorder = recordingRound(1);
  const loop = new AntiEntropyLoop({
    intervalMs: 60_000,
    jitterMs: 0,
    random: () => 0.5,
    round: recorder.round,
  });
  loop.start();
  loop.setTiming(10, 0);
  await waitUntil("rounds at the new interval", () => recorder.spans.length >= 2, 5000);
  loop.setTiming(0, 0);
  assert.equal(loop.isOn, false);
  await delay(50);
  const rounds = recorder.spans.length;
  await delay(100);
  assert.equal(recorder.spans.length, rounds);
  await loop.close();
});
