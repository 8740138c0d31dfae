import assert from "node:assert/strict";
import { timeoutOf } from "../../src/server/connection.ts";
import { sweepIntervalMs } from "../../src/server/server.ts";

const OPTIONS = {
  maxLineBytes: 100,
  maxPendingReplyBytes: 100,
  idleTimeoutMs: 1_000,
  requestTimeoutMs: 300,
  peerGreetingTimeoutMs: 3_000,
};

Deno.test("timeoutOf() closes a line unfinished for request_timeout_ms", () => {
  const state = { lastRequestAtMs: 0, partialSinceMs: 100 };
  assert.equal(timeoutOf(state, 399, OPTIONS), null);
  assert.equal(
    timeoutOf(state, 400, OPTIONS),
    "request timeout: line not finished within 300 ms",
  );
});

Deno.test("timeoutOf() closes a connection without a request for idle_timeout_ms, never at 0", () => {
  const state = { lastRequestAtMs: 500, partialSinceMs: 0 };
  assert.equal(timeoutOf(state, 1_499, OPTIONS), null);
  assert.equal(timeoutOf(state, 1_500, OPTIONS), "idle timeout: no request within 1000 ms");
  assert.equal(timeoutOf(state, 10_000_000, { ...OPTIONS, idleTimeoutMs: 0 }), null);
});

Deno.test("sweepIntervalMs() sweeps four times per shortest timeout, within 10 ms and 1 s", () => {
  assert.equal(sweepIntervalMs(OPTIONS), 75);
  assert.equal(sweepIntervalMs({ ...OPTIONS, requestTimeoutMs: 30_000, idleTimeoutMs: 0 }), 750);
  assert.equal(
    sweepIntervalMs({ idleTimeoutMs: 0, requestTimeoutMs: 60_000, peerGreetingTimeoutMs: 60_000 }),
    1_000,
  );
  assert.equal(sweepIntervalMs({ ...OPTIONS, requestTimeoutMs: 1 }), 10);
});
