import assert from "node:assert/strict";
import {
  HLC_COUNTER_SPAN,
  hlcFromMs,
  hlcToMs,
  HybridClock,
  isValidHlc,
} from "../../src/store/hlc.ts";

/** A wall clock the test moves by hand, forwards or back. */
class ManualClock {
  constructor(public ms: number) {}
  nowMs(): number {
    return this.ms;
  }
}

Deno.test("HybridClock.tick() follows the wall clock when it moves forward", () => {
  const wall = new ManualClock(1_000);
  const clock = new HybridClock(wall);
  assert.equal(clock.tick(), hlcFromMs(1_000));
  wall.ms = 2_000;
  assert.equal(clock.tick(), hlcFromMs(2_000));
  assert.equal(hlcToMs(clock.last), 2_000);
});

Deno.test("HybridClock.tick() counts up within one millisecond", () => {
  const clock = new HybridClock(new ManualClock(5_000));
  const first = clock.tick();
  const second = clock.tick();
  const third = clock.tick();
  assert.deepEqual([second - first, third - second], [1, 1]);
  assert.equal(hlcToMs(third), 5_000);
});

Deno.test("HybridClock.tick() stays monotonic when the wall clock goes back", () => {
  const wall = new ManualClock(10_000);
  const clock = new HybridClock(wall);
  const before = clock.tick();
  wall.ms = 4_000;
  const after = clock.tick();
  assert.ok(after > before);
  assert.equal(hlcToMs(after), 10_000);
  wall.ms = 10_001;
  assert.equal(clock.tick(), hlcFromMs(10_001));
});

Deno.test("HybridClock.tick() runs ahead of the wall clock past the counter span", () => {
  const clock = new HybridClock(new ManualClock(1));
  let last = 0;
  for (let i = 0; i < HLC_COUNTER_SPAN + 10; i++) {
    const next = clock.tick();
    assert.ok(next > last);
    last = next;
  }
  assert.equal(hlcToMs(last), 2);
});

Deno.test("HybridClock.observe() moves the clock past a remote timestamp", () => {
  const clock = new HybridClock(new ManualClock(1_000));
  const remote = hlcFromMs(9_000) + 17;
  clock.observe(remote);
  assert.equal(clock.last, remote);
  assert.equal(clock.tick(), remote + 1);
});

Deno.test("HybridClock.observe() never moves the clock back", () => {
  const clock = new HybridClock(new ManualClock(8_000));
  const mine = clock.tick();
  clock.observe(hlcFromMs(1_000));
  assert.equal(clock.last, mine);
  assert.ok(clock.tick() > mine);
});

Deno.test("hlcToMs() and hlcFromMs() convert between timestamps and wall milliseconds", () => {
  const ms = 1_764_000_000_000;
  assert.equal(hlcToMs(hlcFromMs(ms)), ms);
  assert.equal(hlcToMs(hlcFromMs(ms) + HLC_COUNTER_SPAN - 1), ms);
  assert.ok(Number.isSafeInteger(hlcFromMs(ms) + HLC_COUNTER_SPAN - 1));
});

Deno.test("isValidHlc() accepts only non-negative safe integers", () => {
  assert.ok(isValidHlc(0));
  assert.ok(isValidHlc(hlcFromMs(1_764_000_000_000)));
  for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) assert.ok(!isValidHlc(bad), `${bad}`);
});
