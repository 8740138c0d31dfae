/**
 * Durability: write throughput at each fsync policy, a MerkleKV node process with a data dir
 * next to `redis-server --appendonly yes --appendfsync <policy>`, driven by the same load
 * client (bench/load/load.ts) in the same run, alternating round by round; then the start-up time
 * of a node whose data dir holds a snapshot plus a log (1,000,000 keys; quick: 100,000).
 *
 *   deno task bench --only durability [--quick]
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { type LoadResult, runLoad } from "../load/load.ts";
import { BenchNode } from "../harness/node_server.ts";
import { RedisServer } from "../harness/redis.ts";
import { median, round2 } from "../harness/processes.ts";
import {
  alternate,
  checksText,
  clientCpuText,
  notesFor,
  ratioOf,
  roundTiming,
  sideResults,
  spreadText,
  summarize,
} from "../harness/rounds.ts";
import type { FsyncPolicy } from "../../src/config/types.ts";
import { writeStartupDataDir } from "../harness/startup_data.ts";

const POLICIES: readonly FsyncPolicy[] = ["always", "everysec", "no"];
/** The write workload: SETs of 100-byte values over 100k keys. */
const WORKLOADS = [
  { name: "c50", description: "50 conns, unpipelined", conns: 50, depth: 1 },
  { name: "c50-p16", description: "50 conns, pipeline depth 16", conns: 50, depth: 16 },
] as const;
const KEYS = 100_000;
const VALUE_BYTES = 100;
const THROUGHPUT_TARGET = 0.8;
const STARTUP_TARGET_MS = 3000;
/** Starts of the same data dir whose median is the start-up figure. */
const STARTUP_RUNS = 3;

function timing(quick: boolean) {
  return quick
    ? { ...roundTiming(true), startupKeys: 100_000 }
    : { ...roundTiming(false), startupKeys: 1_000_000 };
}

export const COLUMNS = [
  "measure",
  "merklekv",
  "redis",
  "ratio",
  "merklekv p99 µs",
  "redis p99 µs",
  "target",
  "result",
  "notes",
];

export async function run(options: BenchOptions): Promise<BenchSection> {
  const settings = timing(options.quick);
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = { timing: settings };
  for (const workload of WORKLOADS) {
    for (const policy of POLICIES) {
      const name = `write ${policy} ${workload.name}`;
      console.error(`durability: ${name} (${workload.description}, SET ${VALUE_BYTES} B)`);
      try {
        const outcome = await compareWrites(policy, workload, settings);
        rows.push([name, ...outcome.row]);
        results[name] = outcome.results;
      } catch (error) {
        rows.push([name, ...COLUMNS.slice(1, -1).map(() => "-"), `error: ${messageOf(error)}`]);
        results[name] = { error: messageOf(error) };
      }
    }
  }
  console.error(`durability: start-up with ${settings.startupKeys} keys`);
  try {
    const startup = await measureStartup(settings.startupKeys);
    rows.push(...startup.rows);
    results.startup = startup.results;
  } catch (error) {
    rows.push(["start-up", ...COLUMNS.slice(1, -1).map(() => "-"), `error: ${messageOf(error)}`]);
    results.startup = { error: messageOf(error) };
  }
  return { name: "durability", columns: COLUMNS, rows, results };
}

// ---------------------------------------------------------------------------------------------
// Write throughput

async function compareWrites(
  policy: FsyncPolicy,
  workload: (typeof WORKLOADS)[number],
  settings: ReturnType<typeof timing>,
) {
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-bench-data-" });
  let node: BenchNode | null = null;
  let redis: RedisServer | null = null;
  let runs: [LoadResult[], LoadResult[]];
  try {
    node = await BenchNode.start({ topLevel: [`data_dir = "${dataDir}"`, `fsync = "${policy}"`] });
    redis = await RedisServer.start({ args: ["--appendonly", "yes", "--appendfsync", policy] });
    const load = (round: number) => ({
      conns: workload.conns,
      depth: workload.depth,
      mix: "set:100",
      keys: KEYS,
      valueBytes: VALUE_BYTES,
      seed: round,
      warmupSeconds: settings.warmupSeconds,
      seconds: settings.seconds,
    });
    const [nodePort, nodePid, redisPort, redisPid] = [node.port, node.pid, redis.port, redis.pid];
    runs = await alternate(
      settings.rounds,
      (round) => runLoad({ ...load(round), port: nodePort, proto: "merklekv", serverPid: nodePid }),
      (round) => runLoad({ ...load(round), port: redisPort, proto: "redis", serverPid: redisPid }),
    );
  } finally {
    await node?.stop();
    await redis?.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
  const merklekv = summarize(runs[0]);
  const reference = summarize(runs[1]);
  const { ratio, text } = ratioOf(merklekv, reference);
  const checksOk = merklekv.ok && reference.ok;
  const result = !checksOk
    ? "invalid"
    : ratio === null
    ? "client-saturated"
    : ratio >= THROUGHPUT_TARGET
    ? "pass"
    : "miss";
  const names: [string, string] = ["merklekv", "redis"];
  const notes = checksOk ? [] : [checksText(merklekv, reference, names)];
  notes.push(...notesFor(merklekv, reference, names));
  notes.push(`spread ${spreadText(merklekv, reference)}`);
  notes.push(`client cpu% ${clientCpuText(merklekv, reference)}`);
  notes.push(`merklekv cpu ${merklekv.serverPct?.toFixed(0) ?? "?"}%`);
  return {
    row: [
      Math.round(merklekv.opsPerSecond),
      Math.round(reference.opsPerSecond),
      text,
      merklekv.p99Us.toFixed(0),
      reference.p99Us.toFixed(0),
      `>= ${THROUGHPUT_TARGET}x`,
      result,
      notes.join("; "),
    ],
    results: {
      policy,
      workload: workload.description,
      ratio,
      result,
      merklekv: sideResults(merklekv),
      redis: sideResults(reference),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Start-up

/**
 * Start-up with `keys` keys on disk, against the start-up of an empty data dir: the median of
 * STARTUP_RUNS starts of the same dir (one start moves by a few hundred ms with what the
 * machine did just before), each start listed in the notes.
 */
export async function measureStartup(keys: number) {
  const emptyDir = await Deno.makeTempDir({ prefix: "merklekv-bench-empty-" });
  const fullDir = await Deno.makeTempDir({ prefix: "merklekv-bench-startup-" });
  try {
    const generatedMs = performance.now();
    const files = await writeStartupDataDir(fullDir, keys);
    const generationSeconds = round2((performance.now() - generatedMs) / 1000);
    const empty = await startAndCount(emptyDir);
    const starts = [];
    for (let run = 0; run < STARTUP_RUNS; run++) {
      const start = await startAndCount(fullDir);
      if (start.keys !== keys) throw new Error(`started with ${start.keys} keys, expected ${keys}`);
      starts.push(start);
    }
    const startupMs = Math.round(median(starts.map((start) => start.startupMs)));
    const recoveryMs = median(starts.map((start) => start.recoveryMs));
    const result = startupMs < STARTUP_TARGET_MS ? "pass" : "miss";
    const label = `start-up ${keys.toLocaleString("en-US")} keys (ms)`;
    const each = starts.map((start) => Math.round(start.startupMs)).join(", ");
    return {
      rows: [
        [
          "start-up empty data dir (ms)",
          Math.round(empty.startupMs),
          "-",
          "-",
          "-",
          "-",
          "-",
          "-",
          "",
        ],
        [
          label,
          startupMs,
          "-",
          "-",
          "-",
          "-",
          `< ${STARTUP_TARGET_MS} ms`,
          result,
          `median of ${STARTUP_RUNS} (${each}); recovery ${recoveryMs} ms; snapshot ` +
          `${mib(files.snapshotBytes)} + log ${mib(files.logBytes)}`,
        ],
      ],
      results: {
        keys,
        startupMs,
        emptyStartupMs: Math.round(empty.startupMs),
        recoveryMs,
        starts: starts.map((start) => ({
          startupMs: Math.round(start.startupMs),
          recoveryMs: start.recoveryMs,
        })),
        snapshotBytes: files.snapshotBytes,
        logBytes: files.logBytes,
        generationSeconds,
        result,
      },
    };
  } finally {
    await Deno.remove(emptyDir, { recursive: true }).catch(() => {});
    await Deno.remove(fullDir, { recursive: true }).catch(() => {});
  }
}

async function startAndCount(dataDir: string) {
  const node = await BenchNode.start({
    topLevel: [`data_dir = "${dataDir}"`],
    logLevel: "info",
  });
  try {
    const reply = await node.command("DBSIZE");
    const keys = reply.kind === "status" ? Number(reply.text.split(" ")[1]) : NaN;
    const loaded = node.output().match(/"event":"persistence_loaded".*"duration_ms":(\d+)/);
    return { startupMs: node.startupMs, keys, recoveryMs: loaded ? Number(loaded[1]) : NaN };
  } finally {
    await node.stop();
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const end = error.message.indexOf("\n");
  return end === -1 ? error.message : error.message.slice(0, end);
}
