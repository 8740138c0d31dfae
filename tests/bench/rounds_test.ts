import assert from "node:assert/strict";
import type { LoadResult } from "../../bench/load/load.ts";
import {
  CLIENT_SATURATED_PCT,
  clientCpuText,
  notesFor,
  ratioOf,
  saturated,
  spreadText,
  summarize,
} from "../../bench/harness/rounds.ts";

/** A load result with the figures these tests look at. */
function result(opsPerSecond: number, clientPct: number | null): LoadResult {
  return {
    ok: true,
    failures: [],
    exitCode: 0,
    ops: opsPerSecond,
    seconds: 1,
    opsPerSecond,
    latencyUs: { p50: 10, p90: 20, p99: 30, p999: 40, max: 50, mean: 12 },
    preloadSeconds: null,
    checks: {
      errors: 0,
      unexpected: 0,
      wrongValues: 0,
      misses: 0,
      verifyOk: 1,
      verifyFailed: 0,
      disconnects: 0,
    },
    cpu: { clientPct, serverPct: 50, machinePct: null, otherPct: 0 },
    settings: {} as LoadResult["settings"],
    runtime: "test",
  };
}

Deno.test("a ratio is the median of the rounds' ratios, shown with their range and spreads", () => {
  const a = summarize([100, 90, 120, 110, 80].map((ops) => result(ops, 50)));
  const b = summarize([100, 100, 100, 100, 100].map((ops) => result(ops, 60)));
  assert.equal(a.opsPerSecond, 100);
  assert.equal(a.spread, 0.4);
  assert.equal(a.clientPct, 50);
  assert.deepEqual(ratioOf(a, b), { ratio: 1, text: "1.00 (0.80-1.20)" });
  assert.equal(spreadText(a, b), "40% / 0%");
  assert.equal(clientCpuText(a, b), "50 / 60");
});

Deno.test("a side whose load client saturated its core gives no ratio, and the notes say which", () => {
  const busy = CLIENT_SATURATED_PCT + 5;
  const node = summarize([1, 2, 3, 4, 5].map((ops) => result(ops * 1000, 40)));
  const redis = summarize([1, 2, 3, 4, 5].map((ops) => result(ops * 1000, busy)));
  assert.ok(saturated(redis));
  assert.ok(!saturated(node));
  assert.deepEqual(ratioOf(node, redis), { ratio: null, text: "client-saturated" });
  assert.deepEqual(ratioOf(redis, node), { ratio: null, text: "client-saturated" });
  assert.deepEqual(notesFor(node, redis, ["merklekv", "redis"]), [
    `client saturated vs redis (${busy}% of a core): no ratio`,
  ]);
  const unknown = summarize([result(1000, null)]);
  assert.ok(!saturated(unknown));
  assert.equal(clientCpuText(unknown, node), "? / 40");
});
