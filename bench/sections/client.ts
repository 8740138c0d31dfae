/**
 * Client throughput and latency, MerkleKV next to Redis: each workload runs against a fresh
 * MerkleKV node process (standalone, memory only) and a fresh redis-server (no persistence),
 * alternating round by round with the same seed, through the same load client (bench/load/load.ts,
 * pinned to CPU 0; servers on CPU 1). The table shows medians across rounds, their spread, the
 * client's CPU and ratios (bench/harness/rounds.ts: the method).
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { type LoadRequest, runLoad } from "../load/load.ts";
import { BenchNode } from "../harness/node_server.ts";
import { RedisServer } from "../harness/redis.ts";
import { round2 } from "../harness/processes.ts";
import {
  alternate,
  checksText,
  clientCpuText,
  notesFor,
  ratioOf,
  roundTiming,
  type Side,
  sideResults,
  spreadText,
  summarize,
} from "../harness/rounds.ts";

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

export const COLUMNS = [
  "workload",
  "merklekv ops/s",
  "redis ops/s",
  "ratio",
  "spread m / r",
  "client cpu% m / r",
  "merklekv p99 µs",
  "redis p99 µs",
  "p99 ratio",
  "target",
  "result",
  "checks",
  "notes",
];

const NAMES: [string, string] = ["merklekv", "redis"];

export async function run(options: BenchOptions): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = { timing: roundTiming(options.quick) };
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

async function runWorkload(workload: Workload, quick: boolean) {
  const { rounds, warmupSeconds, seconds } = roundTiming(quick);
  const node = await BenchNode.start();
  let redis: RedisServer | null = null;
  try {
    redis = await RedisServer.start();
    const common = (round: number) => ({
      ...workload.load,
      preload: true,
      seed: round,
      warmupSeconds,
      seconds,
    });
    const [merklekvRuns, redisRuns] = await alternate(
      rounds,
      (round) =>
        runLoad({ ...common(round), port: node.port, proto: "merklekv", serverPid: node.pid }),
      (round) =>
        runLoad({ ...common(round), port: redis!.port, proto: "redis", serverPid: redis!.pid }),
    );
    return compare(workload, summarize(merklekvRuns), summarize(redisRuns));
  } finally {
    await node.stop();
    await redis?.stop();
  }
}

function compare(workload: Workload, merklekv: Side, redis: Side) {
  const { ratio, text } = ratioOf(merklekv, redis);
  const p99Ratio = round2(merklekv.p99Us / redis.p99Us);
  const target = workload.target;
  const checksOk = merklekv.ok && redis.ok;
  let result: string;
  if (!checksOk) result = "invalid";
  else if (target.metric === "p99") result = p99Ratio <= target.atMost ? "pass" : "miss";
  else if (ratio === null) result = "client-saturated";
  else result = ratio >= target.atLeast ? "pass" : "miss";
  const notes = notesFor(merklekv, redis, NAMES);
  const row = [
    workload.name,
    Math.round(merklekv.opsPerSecond),
    Math.round(redis.opsPerSecond),
    text,
    spreadText(merklekv, redis),
    clientCpuText(merklekv, redis),
    merklekv.p99Us.toFixed(1),
    redis.p99Us.toFixed(1),
    p99Ratio.toFixed(2),
    targetText(target),
    result,
    checksText(merklekv, redis, NAMES),
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

function targetText(target: Target): string {
  return target.metric === "throughput" ? `>= ${target.atLeast}x` : `p99 <= ${target.atMost}x`;
}
