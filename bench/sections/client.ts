/**
 * Client throughput and latency, MerkleKV next to Redis: each workload runs against a fresh
 * MerkleKV node process (standalone, memory only) and a fresh redis-server (no persistence),
 * alternating round by round with the same seed, through the same load client (bench/load/load.ts,
 * pinned to CPU 0; servers on CPU 1). The table shows medians across rounds and ratios.
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { type LoadRequest, type LoadResult, runLoad } from "../load/load.ts";
import { BenchNode } from "../harness/node_server.ts";
import { RedisServer } from "../harness/redis.ts";
import { median, round2 } from "../harness/processes.ts";

/** What a workload must reach, as a ratio MerkleKV / Redis in the same run. */
type Target =
  | { metric: "throughput"; atLeast: number }
  | { metric: "p99"; atMost: number };

interface Workload {
  name: string;
  description: string;
  load: Omit<LoadRequest, "port" | "proto">;
  target: Target;
}

const THROUGHPUT_TARGET: Target = { metric: "throughput", atLeast: 0.8 };

export const WORKLOADS: readonly Workload[] = [
  {
    name: "set-get-c50",
    description: "50 conns, unpipelined, SET/GET 50/50, 100 B",
    load: { conns: 50, depth: 1, mix: "set:50,get:50", keys: 100_000, valueBytes: 100 },
    target: THROUGHPUT_TARGET,
  },
  {
    name: "set-get-c50-p32",
    description: "50 conns, pipeline depth 32, SET/GET 50/50, 100 B",
    load: { conns: 50, depth: 32, mix: "set:50,get:50", keys: 100_000, valueBytes: 100 },
    target: THROUGHPUT_TARGET,
  },
  {
    name: "get-c1",
    description: "1 conn, unpipelined GET, 100 B (latency)",
    load: { conns: 1, depth: 1, mix: "get:100", keys: 100_000, valueBytes: 100 },
    target: { metric: "p99", atMost: 1.5 },
  },
  {
    name: "set-get-c50-v16k",
    description: "50 conns, unpipelined, SET/GET 50/50, 16 KiB",
    load: { conns: 50, depth: 1, mix: "set:50,get:50", keys: 10_000, valueBytes: 16_384 },
    target: THROUGHPUT_TARGET,
  },
  {
    name: "mget10-c50",
    description: "50 conns, unpipelined, MGET of 10 keys, 100 B",
    load: { conns: 50, depth: 1, mix: "mget:100", mgetKeys: 10, keys: 100_000, valueBytes: 100 },
    target: THROUGHPUT_TARGET,
  },
];

/** Windows and rounds: full runs for docs/performance.md, quick ones for a look. */
function timing(quick: boolean) {
  return quick
    ? { rounds: 1, warmupSeconds: 1, seconds: 3 }
    : { rounds: 3, warmupSeconds: 2, seconds: 10 };
}

/** The load client using at least this share of a core means its ceiling may be the limit. */
const CLIENT_BOUND_PCT = 90;
/** Other programs using more than this share of a core during a window disturbed it. */
const DISTURBED_PCT = 10;

export const COLUMNS = [
  "workload",
  "merklekv ops/s",
  "redis ops/s",
  "ratio",
  "merklekv p99 µs",
  "redis p99 µs",
  "p99 ratio",
  "target",
  "result",
  "checks",
  "notes",
];

export async function run(options: BenchOptions): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = { timing: timing(options.quick) };
  for (const workload of WORKLOADS) {
    console.error(`client: ${workload.name} (${workload.description})`);
    try {
      const outcome = await runWorkload(workload, options.quick);
      rows.push(outcome.row);
      results[workload.name] = outcome.results;
    } catch (error) {
      const message = (error as Error).message;
      rows.push([workload.name, ...COLUMNS.slice(1, -1).map(() => "-"), `error: ${message}`]);
      results[workload.name] = { error: message };
    }
  }
  return { name: "client", columns: COLUMNS, rows, results };
}

interface Side {
  runs: LoadResult[];
  opsPerSecond: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  /** (max - min) / median of ops/s across rounds. */
  spread: number;
  ok: boolean;
}

async function runWorkload(workload: Workload, quick: boolean) {
  const { rounds, warmupSeconds, seconds } = timing(quick);
  const node = await BenchNode.start();
  let redis: RedisServer | null = null;
  const merklekvRuns: LoadResult[] = [];
  const redisRuns: LoadResult[] = [];
  try {
    redis = await RedisServer.start();
    for (let round = 1; round <= rounds; round++) {
      const common = { ...workload.load, preload: true, seed: round, warmupSeconds, seconds };
      merklekvRuns.push(
        await runLoad({ ...common, port: node.port, proto: "merklekv", serverPid: node.pid }),
      );
      redisRuns.push(
        await runLoad({ ...common, port: redis.port, proto: "redis", serverPid: redis.pid }),
      );
    }
  } finally {
    await node.stop();
    await redis?.stop();
  }
  const merklekv = summarize(merklekvRuns);
  const reference = summarize(redisRuns);
  return compare(workload, merklekv, reference);
}

function summarize(runs: LoadResult[]): Side {
  const ops = runs.map((run) => run.opsPerSecond);
  const middle = median(ops);
  return {
    runs,
    opsPerSecond: middle,
    p50Us: median(runs.map((run) => run.latencyUs.p50)),
    p99Us: median(runs.map((run) => run.latencyUs.p99)),
    p999Us: median(runs.map((run) => run.latencyUs.p999)),
    spread: middle > 0 ? (Math.max(...ops) - Math.min(...ops)) / middle : 0,
    ok: runs.every((run) => run.ok),
  };
}

function compare(workload: Workload, merklekv: Side, redis: Side) {
  const ratio = round2(merklekv.opsPerSecond / redis.opsPerSecond);
  const p99Ratio = round2(merklekv.p99Us / redis.p99Us);
  const target = workload.target;
  const reached = target.metric === "throughput"
    ? ratio >= target.atLeast
    : p99Ratio <= target.atMost;
  const checksOk = merklekv.ok && redis.ok;
  const result = !checksOk ? "invalid" : reached ? "pass" : "miss";
  const notes = noteFor(merklekv, redis);
  const row = [
    workload.name,
    Math.round(merklekv.opsPerSecond),
    Math.round(redis.opsPerSecond),
    ratio.toFixed(2),
    merklekv.p99Us.toFixed(1),
    redis.p99Us.toFixed(1),
    p99Ratio.toFixed(2),
    targetText(target),
    result,
    checksText(merklekv, redis),
    notes.join("; "),
  ];
  const results = {
    description: workload.description,
    ratio,
    p99Ratio,
    target: targetText(target),
    result,
    notes,
    merklekv: sideResults(merklekv),
    redis: sideResults(redis),
  };
  return { row, results };
}

function noteFor(merklekv: Side, redis: Side): string[] {
  const notes: string[] = [];
  const clientPct = median(redis.runs.map((run) => run.cpu.clientPct ?? 0));
  if (clientPct >= CLIENT_BOUND_PCT) {
    notes.push(`client-bound vs redis (client ${clientPct.toFixed(0)}% of a core)`);
  }
  const otherPct = Math.max(
    ...[...merklekv.runs, ...redis.runs].map((run) => run.cpu.otherPct ?? 0),
  );
  if (otherPct > DISTURBED_PCT) {
    notes.push(`disturbed (other CPU use up to ${otherPct.toFixed(0)}%)`);
  }
  if (Math.max(merklekv.spread, redis.spread) > 0.1) {
    notes.push(`spread ${pct(merklekv.spread)} / ${pct(redis.spread)}`);
  }
  return notes;
}

function checksText(merklekv: Side, redis: Side): string {
  if (merklekv.ok && redis.ok) return "ok";
  const failed = [
    ...(merklekv.ok ? [] : [`merklekv: ${failuresOf(merklekv)}`]),
    ...(redis.ok ? [] : [`redis: ${failuresOf(redis)}`]),
  ];
  return `FAIL (${failed.join("; ")})`;
}

function failuresOf(side: Side): string {
  return [...new Set(side.runs.flatMap((run) => run.failures))].join(", ");
}

function sideResults(side: Side) {
  return {
    opsPerSecond: side.opsPerSecond,
    p50Us: side.p50Us,
    p99Us: side.p99Us,
    p999Us: side.p999Us,
    spread: round2(side.spread),
    ok: side.ok,
    runs: side.runs.map((run) => ({
      opsPerSecond: run.opsPerSecond,
      latencyUs: run.latencyUs,
      checks: run.checks,
      cpu: run.cpu,
      failures: run.failures,
      ...(run.stderr === undefined ? {} : { stderr: run.stderr }),
    })),
  };
}

function targetText(target: Target): string {
  return target.metric === "throughput" ? `>= ${target.atLeast}x` : `p99 <= ${target.atMost}x`;
}

function pct(value: number): string {
  return `${Math.round(value * 100)}%`;
}
