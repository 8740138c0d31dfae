/**
 * What `merklekv_command_duration_seconds` adds per received chunk (see docs/observability.md,
 * Command durations): two `performance.now()` readings and one observation per request of the
 * chunk, for a chunk of 1 request (an unpipelined client) and of 32 (pipeline depth 32). A
 * request costs the node 10-30 µs unpipelined and about 2 µs at depth 32 on the 2-core machine
 * (bench/HISTORY.md), so these figures over those give the share. `deno task bench:micro`.
 */

import { COMMAND_BOUNDS_SECONDS, HistogramSet } from "../../src/metrics/mod.ts";

const KINDS = 40;
const durations = new HistogramSet(COMMAND_BOUNDS_SECONDS, KINDS + 1);
const kinds = new Int32Array(64);
for (let i = 0; i < kinds.length; i++) kinds[i] = i % 2 === 0 ? 3 : 7;

function chunk(requests: number): void {
  const arrivedAtMs = performance.now();
  durations.observeEach(kinds, requests, (performance.now() - arrivedAtMs) / 1000);
}

Deno.bench({
  name: "clock readings and observations of a chunk of 1 request",
  group: "chunk",
  baseline: true,
  fn: () => chunk(1),
});

Deno.bench({
  name: "clock readings and observations of a chunk of 32 requests",
  group: "chunk",
  fn: () => chunk(32),
});

Deno.bench({
  name: "one performance.now() reading",
  group: "chunk",
  fn: () => {
    performance.now();
  },
});
