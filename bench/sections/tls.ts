/**
 * TLS: the node with `[tls] cert_file` / `key_file` next to Redis with TLS (`--port 0
 * --tls-port N ... --tls-auth-clients no`), through the same load client speaking TLS (it checks
 * both servers' certificates against the same CA), unpipelined and at pipeline depth 32. Target:
 * the node >= 0.8x Redis. Certificates are made with openssl into a temporary directory.
 *
 * A node that refuses the `[tls]` config (a build without TLS: it exits naming the section)
 * gives `skipped` rows that say so; Redis's figures are then still measured and shown.
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { WORKLOADS } from "./client.ts";
import {
  comparePair,
  type Contender,
  PAIR_COLUMNS,
  pairWorkloads,
  skippedRow,
  type Started,
} from "./pair.ts";
import { BenchNode } from "../harness/node_server.ts";
import { RedisServer, TLS_SERVERNAME } from "../harness/redis.ts";
import { runLoad } from "../load/load.ts";
import { roundTiming } from "../harness/rounds.ts";
import { type Certificates, makeCertificates } from "../../tests/_support/tls.ts";

const TARGET = 0.8;
const WORKLOAD_NAMES = ["set-get-c50", "set-get-c50-p32"];

export async function run(options: BenchOptions): Promise<BenchSection> {
  const directory = await Deno.makeTempDir({ prefix: "merklekv-bench-tls-" });
  try {
    const certificates = await makeCertificates(directory);
    return await measure(certificates, options.quick);
  } finally {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  }
}

async function measure(certificates: Certificates, quick: boolean): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = { timing: roundTiming(quick) };
  const reach = { tlsCa: certificates.caFile, tlsServername: TLS_SERVERNAME };
  const node: Contender = {
    name: "merklekv tls",
    start: async (): Promise<Started> => {
      const server = await BenchNode.start({ tls: certificates });
      return {
        port: server.port,
        pid: server.pid,
        reach: { proto: "merklekv", ...reach },
        stop: () => server.stop(),
      };
    },
  };
  const redis: Contender = {
    name: "redis tls",
    start: async (): Promise<Started> => {
      const server = await RedisServer.start({ tls: certificates });
      return {
        port: server.port,
        pid: server.pid,
        reach: { proto: "redis", ...reach },
        stop: () => server.stop(),
      };
    },
  };
  const refusal = await nodeRefusal(certificates);
  for (const workload of pairWorkloads(WORKLOADS, WORKLOAD_NAMES)) {
    console.error(`tls: ${workload.name} (${workload.description})`);
    try {
      if (refusal !== null) {
        const redisOps = await redisAlone(redis, workload.load, quick);
        rows.push(
          skippedRow(
            workload.name,
            `the node refused [tls]: ${refusal}; redis tls ${redisOps} ops/s`,
          ),
        );
        results[workload.name] = { skipped: refusal, redisOpsPerSecond: redisOps };
        continue;
      }
      const outcome = await comparePair(workload, node, redis, TARGET, quick);
      rows.push(outcome.row);
      results[workload.name] = outcome.results;
    } catch (error) {
      const message = (error as Error).message.split("\n")[0] ?? "";
      rows.push([workload.name, ...PAIR_COLUMNS.slice(1, -1).map(() => "-"), `error: ${message}`]);
      results[workload.name] = { error: (error as Error).message };
    }
  }
  return { name: "tls", columns: PAIR_COLUMNS, rows, results };
}

/** Null when a node starts with `[tls]` and answers PING over TLS; else why not, in one line. */
export async function nodeRefusal(certificates: Certificates): Promise<string | null> {
  try {
    const node = await BenchNode.start({ tls: certificates });
    await node.stop();
    return null;
  } catch (error) {
    const lines = (error as Error).message.split("\n").map((line) => line.trim());
    return lines.find((line) => line.startsWith("merklekv:")) ?? lines[0] ?? "unknown";
  }
}

/** Redis's median ops/s alone, when there is no node to compare it with. */
async function redisAlone(
  redis: Contender,
  load: (typeof WORKLOADS)[number]["load"],
  quick: boolean,
): Promise<number> {
  const { rounds, warmupSeconds, seconds } = roundTiming(quick);
  const server = await redis.start();
  try {
    const figures: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const result = await runLoad({
        ...load,
        ...server.reach,
        port: server.port,
        serverPid: server.pid,
        preload: true,
        seed: round,
        warmupSeconds,
        seconds,
      });
      if (!result.ok) throw new Error(`redis tls: ${result.failures.join("; ")}`);
      figures.push(result.opsPerSecond);
    }
    figures.sort((x, y) => x - y);
    return figures[Math.floor(figures.length / 2)] ?? 0;
  } finally {
    await server.stop();
  }
}
