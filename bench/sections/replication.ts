/**
 * Replication benchmark: three MerkleKV nodes and a Mosquitto broker, anti-entropy off.
 *
 * - Latency: a paced writer sends SETs to node A at a fixed rate (every 1 ms tick, the writes
 *   due by then, pipelined); for a sample of the writes, a poller asks node B with GET until
 *   the value is there. Latency = the GET reply that shows the value minus the moment A's OK
 *   arrived (an upper bound: it includes up to one GET round trip).
 * - Throughput: pipelined writers on all three nodes as fast as they go for a while; the
 *   replicated rate = writes / (writing time + time until all three HASHes are equal).
 *
 * `deno task bench --only replication [--quick]`.
 */

import { Mosquitto } from "../../tests/_support/mosquitto.ts";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { LatencyHistogram } from "../load/histogram.ts";
import { BenchNode } from "../harness/node_server.ts";
import { type LoadResult, runLoad } from "../load/load.ts";
import { RedisServer } from "../harness/redis.ts";
import { delay, median, pinned, SERVER_CPU, track } from "../harness/processes.ts";
import {
  clientCpuText,
  FULL_ROUNDS,
  QUICK_ROUNDS,
  ratioOf,
  roundRatios as ratioOfRounds,
  spreadText,
  summarize,
} from "../harness/rounds.ts";
import type { BenchOptions, BenchSection } from "./section.ts";

/**
 * The three nodes and the broker are four busy processes: pinned to one CPU they starve each
 * other, so by default the scheduler places them on both CPUs (REPLICATION_BENCH_PINNED=1
 * pins them all to the server CPU, see processes.ts).
 */
const SERVERS_CPU: number | null = Deno.env.get("REPLICATION_BENCH_PINNED") ? SERVER_CPU : null;
/**
 * REPLICATION_BENCH_SIGNED=1 gives the nodes one signing key (see docs/replication-security.md,
 * Cost): every batch signed by its node and checked by the two others.
 */
const SIGNED = Deno.env.get("REPLICATION_BENCH_SIGNED") === "1";
/**
 * REPLICATION_BENCH_FSYNC=no|everysec|always gives each node a data directory with that fsync
 * policy: a change is published once its node's log holds it (see docs/consistency.md, Crashes).
 */
const FSYNC = Deno.env.get("REPLICATION_BENCH_FSYNC") ?? null;
const TARGET_P50_MS = 1;
const TARGET_P99_MS = 5;
/** Every SAMPLE_EVERY-th write is followed on node B. */
const SAMPLE_EVERY = 5;
const TICK_MS = 1;
const CONVERGE_TIMEOUT_MS = 60_000;
const THROUGHPUT_PIPELINE = 200;
const THROUGHPUT_KEYS = 100_000;
/** Writes with replication on must reach this share of Redis's (no replication) writes. */
const TARGET_VS_REDIS = 0.5;

const COLUMNS = [
  "measure",
  "offered writes/s",
  "achieved writes/s",
  "samples",
  "p50 ms",
  "p99 ms",
  "max ms",
  "A's SET ack p50/p99 ms",
  "target",
  "result",
];

interface Timing {
  /** Writes before this are not measured (JIT warm-up, first batches). */
  warmupSeconds: number;
  latencySeconds: number;
  throughputSeconds: number;
  /** Rounds of the comparison with Redis. */
  rounds: number;
}

function timing(quick: boolean): Timing {
  return quick
    ? { warmupSeconds: 1, latencySeconds: 3, throughputSeconds: 2, rounds: QUICK_ROUNDS }
    : { warmupSeconds: 2, latencySeconds: 15, throughputSeconds: 6, rounds: FULL_ROUNDS };
}

export async function run(options: BenchOptions): Promise<BenchSection> {
  const { warmupSeconds, latencySeconds, throughputSeconds, rounds } = timing(options.quick);
  const broker = await startBroker();
  const nodes: BenchNode[] = [];
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = {
    timing: {
      warmupSeconds,
      latencySeconds,
      throughputSeconds,
      rounds,
      sampleEvery: SAMPLE_EVERY,
    },
  };
  const keyFile = SIGNED ? await signingKeyFile() : null;
  results.signed = SIGNED;
  results.fsync = FSYNC;
  const dataDirs: string[] = [];
  try {
    for (const name of ["a", "b", "c"]) {
      const signing = keyFile === null ? "" : `\n[replication]\nsigning_key_file = "${keyFile}"`;
      const durable: string[] = [];
      if (FSYNC !== null) {
        dataDirs.push(await Deno.makeTempDir({ prefix: "merklekv-bench-" }));
        durable.push(`data_dir = "${dataDirs.at(-1)}"`, `fsync = "${FSYNC}"`);
      }
      nodes.push(
        await BenchNode.start({
          nodeId: `bench-${name}`,
          topLevel: [`mqtt_broker_address = "mqtt://127.0.0.1:${broker.port}"`, ...durable],
          sections: "[anti_entropy]\ninterval_ms = 0" + signing,
          cpu: SERVERS_CPU,
        }),
      );
    }
    await waitConnected(nodes);
    for (const rate of [1_000, 5_000]) {
      console.error(`replication: latency A -> B at ${rate} writes/s for ${latencySeconds} s`);
      const outcome = await measureLatency(nodes, rate, warmupSeconds, latencySeconds);
      rows.push(outcome.row);
      results[`latency_${rate}`] = outcome.results;
    }
    console.error(`replication: saturated writes on 3 nodes for ${throughputSeconds} s`);
    const throughput = await measureThroughput(nodes, throughputSeconds);
    rows.push(throughput.row);
    results.throughput = throughput.results;
    console.error(
      `replication: 50-connection SETs on node A vs Redis, ${rounds} x ${throughputSeconds} s each`,
    );
    const versusRedis = await measureAgainstRedis(nodes, warmupSeconds, throughputSeconds, rounds);
    rows.push(versusRedis.row);
    results.versusRedis = versusRedis.results;
  } finally {
    for (const node of nodes) await node.stop();
    await broker.stop();
    if (keyFile !== null) await Deno.remove(keyFile);
    for (const dir of dataDirs) await Deno.remove(dir, { recursive: true });
  }
  return { name: "replication", columns: COLUMNS, rows, results };
}

/** A key file of one random key (mode 600), for REPLICATION_BENCH_SIGNED. */
async function signingKeyFile(): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "merklekv-bench-", suffix: ".keys" });
  const key = Array.from(crypto.getRandomValues(new Uint8Array(32)))
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
  await Deno.writeTextFile(path, key + "\n", { mode: 0o600 });
  return path;
}

async function waitConnected(nodes: BenchNode[]): Promise<void> {
  for (const node of nodes) {
    const client = await MerkleKVClient.connect({ port: node.port });
    try {
      const deadline = Date.now() + 15_000;
      while ((await client.info()).get("replication_broker") !== "connected") {
        if (Date.now() > deadline) throw new Error(`${node.nodeId} never connected to the broker`);
        await delay(20);
      }
    } finally {
      await client.close();
    }
  }
}

interface Sample {
  key: string;
  value: string;
  ackedMs: number;
}

/** Samples waiting to be seen on B, and how to wake the idle poller. */
type Pending = Sample[] & { wake?: (() => void) | null };

async function measureLatency(
  nodes: BenchNode[],
  rate: number,
  warmupSeconds: number,
  seconds: number,
) {
  const [writerNode, readerNode] = nodes;
  if (writerNode === undefined || readerNode === undefined) {
    throw new Error("measureLatency needs two nodes");
  }
  const writer = await MerkleKVClient.connect({ port: writerNode.port });
  const reader = await MerkleKVClient.connect({ port: readerNode.port });
  const histogram = new LatencyHistogram();
  const acks = new LatencyHistogram();
  const pending: Pending = [];
  let writing = true;
  let written = 0;
  try {
    const startedMs = performance.now();
    const measuredFromMs = startedMs + warmupSeconds * 1000;
    const endMs = measuredFromMs + seconds * 1000;
    const poller = pollSamples(reader, pending, histogram, measuredFromMs, () => writing);
    const inFlight: Promise<void>[] = [];
    while (performance.now() < endMs) {
      const due = Math.floor(((performance.now() - startedMs) / 1000) * rate) - written;
      if (due > 0) {
        const measured = performance.now() >= measuredFromMs;
        inFlight.push(writeBatch(writer, rate, written, due, pending, measured ? acks : null));
      }
      written += Math.max(0, due);
      if (inFlight.length > 1000) await Promise.all(inFlight.splice(0));
      await delay(TICK_MS);
    }
    await Promise.all(inFlight);
    const achieved = written / ((performance.now() - startedMs) / 1000);
    const drainDeadline = performance.now() + 10_000;
    while (pending.length > 0 && performance.now() < drainDeadline) await delay(5);
    const lost = pending.length;
    writing = false;
    await poller;
    return latencyOutcome(rate, achieved, histogram, acks, lost);
  } finally {
    writing = false;
    await writer.close();
    await reader.close();
  }
}

/** Sends `count` SETs in one pipeline; remembers the sampled ones with their ack time. */
async function writeBatch(
  writer: MerkleKVClient,
  rate: number,
  first: number,
  count: number,
  pending: Pending,
  acks: LatencyHistogram | null,
): Promise<void> {
  const lines: string[] = [];
  const sampled: { key: string; value: string }[] = [];
  for (let index = first; index < first + count; index++) {
    const key = `lat-${rate}-${index}`;
    const value = `v${index}`;
    lines.push(`SET ${key} ${value}`);
    if (index % SAMPLE_EVERY === 0) sampled.push({ key, value });
  }
  const sentMs = performance.now();
  const replies = await writer.pipeline(lines);
  const ackedMs = performance.now();
  acks?.record(ackedMs - sentMs);
  for (const reply of replies) {
    if (reply[0] !== "OK") throw new Error(`SET failed: ${reply[0]}`);
  }
  for (const sample of sampled) pending.push({ ...sample, ackedMs });
  if (sampled.length > 0) pending.wake?.();
}

/** Asks B for every pending sample in one pipeline, again and again, until writing stops. */
async function pollSamples(
  reader: MerkleKVClient,
  pending: Pending,
  histogram: LatencyHistogram,
  measuredFromMs: number,
  running: () => boolean,
): Promise<void> {
  while (running()) {
    if (pending.length === 0) {
      // Sleep until a write adds a sample (or a tick passes, to notice the end).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, TICK_MS);
        function wake() {
          clearTimeout(timer);
          pending.wake = null;
          resolve();
        }
        pending.wake = wake;
      });
      continue;
    }
    const asked = pending.slice();
    const replies = await reader.pipeline(asked.map((sample) => `GET ${sample.key}`));
    const nowMs = performance.now();
    const arrived = new Set<Sample>();
    asked.forEach((sample, index) => {
      if (replies[index]?.[0] === `VALUE ${sample.value}`) {
        if (sample.ackedMs >= measuredFromMs) histogram.record(nowMs - sample.ackedMs);
        arrived.add(sample);
      }
    });
    if (arrived.size > 0) {
      const remaining = pending.filter((sample) => !arrived.has(sample));
      pending.length = 0;
      pending.push(...remaining);
    }
  }
}

function latencyOutcome(
  rate: number,
  achieved: number,
  histogram: LatencyHistogram,
  acks: LatencyHistogram,
  lost: number,
) {
  const p50Ms = histogram.percentileUs(50) / 1000;
  const p99Ms = histogram.percentileUs(99) / 1000;
  const maxMs = histogram.maxUs() / 1000;
  const target = rate === 5_000 ? `p50 <= ${TARGET_P50_MS}, p99 <= ${TARGET_P99_MS}` : "-";
  const result = lost > 0
    ? `invalid (${lost} samples never seen on B)`
    : rate !== 5_000
    ? "-"
    : p50Ms <= TARGET_P50_MS && p99Ms <= TARGET_P99_MS
    ? "pass"
    : "miss";
  const row = [
    `latency A->B`,
    rate,
    Math.round(achieved),
    histogram.count,
    p50Ms.toFixed(3),
    p99Ms.toFixed(3),
    maxMs.toFixed(3),
    `${(acks.percentileUs(50) / 1000).toFixed(3)}/${(acks.percentileUs(99) / 1000).toFixed(3)}`,
    target,
    result,
  ];
  const results = {
    offeredWritesPerSecond: rate,
    achievedWritesPerSecond: Math.round(achieved),
    samples: histogram.count,
    lostSamples: lost,
    p50Ms: round3(p50Ms),
    p99Ms: round3(p99Ms),
    maxMs: round3(maxMs),
    meanMs: round3(histogram.meanUs() / 1000),
    // The writer's own round trip to A: what the machine alone adds, for comparison.
    setAckP50Ms: round3(acks.percentileUs(50) / 1000),
    setAckP99Ms: round3(acks.percentileUs(99) / 1000),
    target,
    result,
  };
  return { row, results };
}

async function measureThroughput(nodes: BenchNode[], seconds: number) {
  const clients = await Promise.all(
    nodes.map((node) => MerkleKVClient.connect({ port: node.port, timeoutMs: 60_000 })),
  );
  try {
    const startedMs = performance.now();
    const endMs = startedMs + seconds * 1000;
    const counts = await Promise.all(clients.map(async (client, node) => {
      let written = 0;
      while (performance.now() < endMs) {
        const lines = Array.from({ length: THROUGHPUT_PIPELINE }, (_, index) => {
          const key = (written + index) * 7919 % THROUGHPUT_KEYS;
          return `SET tp-${key} n${node}-${written + index}`;
        });
        await client.pipeline(lines);
        written += lines.length;
      }
      return written;
    }));
    const writingMs = performance.now() - startedMs;
    const writes = counts.reduce((sum, count) => sum + count, 0);
    const convergedMs = await waitConverged(clients);
    const totalMs = writingMs + convergedMs;
    const rate = writes / (totalMs / 1000);
    const row = [
      "replicated writes, 3 nodes",
      "max",
      Math.round(rate),
      "-",
      "-",
      "-",
      "-",
      "-",
      "all HASH equal",
      convergedMs >= 0 ? `converged ${Math.round(convergedMs)} ms after writing` : "not converged",
    ];
    const results = {
      writes,
      writingSeconds: round3(writingMs / 1000),
      acknowledgedWritesPerSecond: Math.round(writes / (writingMs / 1000)),
      convergedMsAfterWriting: Math.round(convergedMs),
      replicatedWritesPerSecond: Math.round(rate),
    };
    return { row, results };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/**
 * The client section's write load (50 connections, unpipelined SETs of 100 B) against node A
 * with replication on, then against a Redis without replication, alternating round by round
 * (one round after --quick) with the same seed; medians across rounds. A replicated round
 * counts only once all three nodes hold the same data.
 */
async function measureAgainstRedis(
  nodes: BenchNode[],
  warmupSeconds: number,
  seconds: number,
  rounds: number,
) {
  const [target] = nodes;
  if (target === undefined) throw new Error("measureAgainstRedis needs a node");
  const load = {
    conns: 50,
    depth: 1,
    mix: "set:100",
    keys: THROUGHPUT_KEYS,
    warmupSeconds,
    seconds,
  };
  const merklekvRuns: LoadResult[] = [];
  const redisRuns: LoadResult[] = [];
  const convergedMs: number[] = [];
  const redis = await RedisServer.start();
  const clients = await Promise.all(
    nodes.map((node) => MerkleKVClient.connect({ port: node.port, timeoutMs: 60_000 })),
  );
  try {
    for (let round = 1; round <= rounds; round++) {
      merklekvRuns.push(
        await runLoad({
          ...load,
          seed: round,
          port: target.port,
          proto: "merklekv",
          serverPid: target.pid,
        }),
      );
      convergedMs.push(await waitConverged(clients));
      redisRuns.push(
        await runLoad({
          ...load,
          seed: round,
          port: redis.port,
          proto: "redis",
          serverPid: redis.pid,
        }),
      );
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await redis.stop();
  }
  const merklekvSide = summarize(merklekvRuns);
  const redisSide = summarize(redisRuns);
  const merklekvOps = merklekvSide.opsPerSecond;
  const redisOps = redisSide.opsPerSecond;
  const { ratio, text } = ratioOf(merklekvSide, redisSide);
  const roundRatios = ratioOfRounds(merklekvSide, redisSide);
  const slowestConvergedMs = Math.round(Math.max(...convergedMs));
  const ok = [...merklekvRuns, ...redisRuns].every((run) => run.ok);
  const p50Ms = median(merklekvRuns.map((run) => run.latencyUs.p50)) / 1000;
  const p99Us = median(merklekvRuns.map((run) => run.latencyUs.p99));
  const maxMs = Math.max(...merklekvRuns.map((run) => run.latencyUs.max)) / 1000;
  const row = [
    "SET c50 on A (replicating) / Redis",
    "max",
    Math.round(merklekvOps),
    "-",
    round3(p50Ms),
    round3(p99Us / 1000),
    round3(maxMs),
    `Redis ${Math.round(redisOps)}/s, ratio ${text}, spread ${
      spreadText(merklekvSide, redisSide)
    }, client cpu% ${clientCpuText(merklekvSide, redisSide)}`,
    `>= ${TARGET_VS_REDIS}x Redis`,
    `${
      !ok
        ? "invalid"
        : ratio === null
        ? "client-saturated"
        : ratio >= TARGET_VS_REDIS
        ? "pass"
        : "miss"
    }, converged ${slowestConvergedMs} ms after`,
  ];
  const results = {
    rounds,
    merklekvOpsPerSecond: Math.round(merklekvOps),
    redisOpsPerSecond: Math.round(redisOps),
    ratio,
    roundRatios,
    target: TARGET_VS_REDIS,
    convergedMsAfterWriting: slowestConvergedMs,
    merklekvP99Us: p99Us,
    redisP99Us: median(redisRuns.map((run) => run.latencyUs.p99)),
    ok,
    failures: [...merklekvRuns, ...redisRuns].flatMap((run) => run.failures),
  };
  return { row, results };
}

/** ms from now until every node reports the same HASH; throws after CONVERGE_TIMEOUT_MS. */
async function waitConverged(clients: MerkleKVClient[]): Promise<number> {
  const startedMs = performance.now();
  for (;;) {
    const hashes = await Promise.all(clients.map((client) => client.hash()));
    if (hashes.every((hash) => hash === hashes[0])) return performance.now() - startedMs;
    if (performance.now() - startedMs > CONVERGE_TIMEOUT_MS) {
      throw new Error(`no convergence within ${CONVERGE_TIMEOUT_MS} ms: ${hashes.join(" ")}`);
    }
    await delay(5);
  }
}

/**
 * The broker the replication tests use (tests/_support/mosquitto.ts), pinned with the servers
 * and registered with the process registry, so that it is stopped on exit and on Ctrl-C.
 */
async function startBroker(): Promise<{ port: number; stop: () => Promise<void> }> {
  let untrack = () => {};
  const broker = await Mosquitto.start({
    wrapCommand: (program, args) => pinned(SERVERS_CPU, program, args),
    onLaunch: (child, launched) => {
      untrack = track("mosquitto", child, () => {
        Deno.removeSync(launched.directory, { recursive: true });
      });
    },
  });
  return {
    port: broker.port,
    stop: async () => {
      await broker.stop();
      await broker.cleanup();
      untrack();
    },
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
