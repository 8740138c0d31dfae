import assert from "node:assert/strict";
import {
  BACKOFF_MS,
  FsyncPlacement,
  MAX_BACKOFF_MS,
  ON_LOOP_MAX_RECORDS,
} from "../../src/persistence/fsync_placement.ts";

Deno.test("small batches are synced on the loop, larger ones in the background", () => {
  const placement = new FsyncPlacement();
  assert.equal(placement.onLoop(1, 0), true);
  assert.equal(placement.onLoop(ON_LOOP_MAX_RECORDS, 0), true);
  assert.equal(placement.onLoop(ON_LOOP_MAX_RECORDS + 1, 0), false);
});

Deno.test("fast fdatasyncs and a rare slow one keep syncing on the loop", () => {
  const placement = new FsyncPlacement();
  let now = 0;
  for (let i = 0; i < 100; i++) {
    const ms = i % 25 === 24 ? 4 : 0.2;
    now += 1;
    assert.equal(placement.tookOnLoop(ms, now), 0, `fdatasync ${i}`);
    assert.equal(placement.onLoop(10, now), true);
  }
  assert.equal(placement.lastOnLoopUs, 4000);
});

Deno.test("a slow disk sends fdatasyncs to the background, for longer after each slow try", () => {
  const placement = new FsyncPlacement();
  let now = 1000;
  const backoffs: number[] = [];
  // Every try on the loop takes 5 ms: the average passes 1 ms at the second one.
  for (let attempt = 0; attempt < 9; attempt++) {
    let backoff = 0;
    while (backoff === 0) {
      assert.equal(placement.onLoop(1, now), true);
      now += 5;
      backoff = placement.tookOnLoop(5, now);
    }
    backoffs.push(backoff);
    assert.equal(placement.onLoop(1, now), false, "in the background meanwhile");
    assert.equal(placement.onLoop(1, now + backoff - 1), false);
    now += backoff;
  }
  assert.deepEqual(backoffs, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(backoffs[0], BACKOFF_MS);
  assert.equal(backoffs.at(-1), MAX_BACKOFF_MS);

  // The disk is fast again: after one fast fdatasync the next slow spell backs off from 1 s.
  assert.equal(placement.tookOnLoop(0.2, now), 0);
  let backoff = 0;
  while (backoff === 0) backoff = placement.tookOnLoop(20, now);
  assert.equal(backoff, BACKOFF_MS);
});
