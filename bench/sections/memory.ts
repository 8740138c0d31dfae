/**
 * Memory and start-up. Memory: a fresh MerkleKV node and a fresh redis-server are each loaded
 * with the same keys (16-byte keys, 100-byte values, pipelined MSET of 100 keys) by the load
 * client; then the node's RSS (VmRSS) is set next to Redis's own `used_memory_rss`. Start-up:
 * process spawn to the first PING answered, for an empty node (and Redis, for scale).
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { runLoad } from "../load/load.ts";
import { BenchNode } from "../harness/node_server.ts";
import { RedisServer } from "../harness/redis.ts";
import { delay, median, round2 } from "../harness/processes.ts";
import type { Reply } from "../load/load_protocol.ts";

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
/** Keys per MSET and MSETs outstanding per connection while loading. */
const LOAD = { conns: 4, preloadBatch: 100, preloadDepth: 8 };
/** Time after loading before RSS is read, so the last writes' garbage can settle. */
const SETTLE_MS = 2_000;
const RSS_TARGET = 2;
const MIB = 1024 * 1024;

function sizes(quick: boolean) {
  return quick ? { keys: 100_000, startups: 3 } : { keys: 1_000_000, startups: 5 };
}

export const COLUMNS = ["measure", "merklekv", "redis", "ratio", "target", "result"];

export async function run(options: BenchOptions): Promise<BenchSection> {
  const { keys, startups } = sizes(options.quick);
  console.error(`memory: ${keys} keys of ${KEY_BYTES} B with ${VALUE_BYTES} B values`);
  const merklekv = await measureNode(keys);
  const redis = await measureRedis(keys);
  console.error(`memory: start-up, ${startups} times each`);
  const startup = await measureStartup(startups);
  const ratio = round2(merklekv.rssBytes / redis.rssBytes);
  const reached = ratio <= RSS_TARGET;
  // The target is for 1M keys; with fewer, fixed overheads (runtime, heap) dominate the ratio.
  const result = options.quick ? "n/a (quick)" : reached ? "pass" : "miss";
  const rows: (string | number)[][] = [
    [
      `RSS with ${keys} keys, MiB`,
      mib(merklekv.rssBytes),
      mib(redis.rssBytes),
      ratio.toFixed(2),
      `<= ${RSS_TARGET}x`,
      result,
    ],
    [
      "bytes per key (RSS / keys)",
      perKey(merklekv.rssBytes, keys),
      perKey(redis.rssBytes, keys),
      round2(merklekv.rssBytes / redis.rssBytes).toFixed(2),
      "",
      "",
    ],
    [
      "bytes per key above empty",
      perKey(merklekv.rssBytes - merklekv.emptyRssBytes, keys),
      perKey(redis.rssBytes - redis.emptyRssBytes, keys),
      round2((merklekv.rssBytes - merklekv.emptyRssBytes) / (redis.rssBytes - redis.emptyRssBytes))
        .toFixed(2),
      "",
      "",
    ],
    [
      "RSS empty, MiB",
      mib(merklekv.emptyRssBytes),
      mib(redis.emptyRssBytes),
      round2(merklekv.emptyRssBytes / redis.emptyRssBytes).toFixed(2),
      "",
      "",
    ],
    [
      "load time, s",
      merklekv.loadSeconds.toFixed(2),
      redis.loadSeconds.toFixed(2),
      round2(merklekv.loadSeconds / redis.loadSeconds).toFixed(2),
      "",
      "",
    ],
    [
      `start-up to first PING, ms (median of ${startups})`,
      startup.merklekvMs.toFixed(0),
      startup.redisMs.toFixed(1),
      round2(startup.merklekvMs / startup.redisMs).toFixed(1),
      "",
      "",
    ],
  ];
  return {
    name: "memory",
    columns: COLUMNS,
    rows,
    results: {
      keys,
      keyBytes: KEY_BYTES,
      valueBytes: VALUE_BYTES,
      rssRatio: ratio,
      target: `<= ${RSS_TARGET}x`,
      result,
      merklekv: { ...merklekv, bytesPerKey: Math.round(merklekv.rssBytes / keys) },
      redis: { ...redis, bytesPerKey: Math.round(redis.rssBytes / keys) },
      startup,
    },
  };
}

interface Footprint {
  emptyRssBytes: number;
  /** MerkleKV: VmRSS. Redis: used_memory_rss (its own figure; VmRSS alongside). */
  rssBytes: number;
  vmRssBytes: number;
  loadSeconds: number;
}

async function measureNode(keys: number): Promise<Footprint> {
  const node = await BenchNode.start();
  try {
    const emptyRssBytes = node.rssBytes();
    const loadSeconds = await load(node.port, "merklekv", node.pid, keys);
    await delay(SETTLE_MS);
    expectCount(await node.command("DBSIZE"), keys, "merklekv");
    const rssBytes = node.rssBytes();
    return { emptyRssBytes, rssBytes, vmRssBytes: rssBytes, loadSeconds };
  } finally {
    await node.stop();
  }
}

async function measureRedis(keys: number): Promise<Footprint> {
  const redis = await RedisServer.start();
  try {
    const emptyRssBytes = await redis.usedMemoryRssBytes();
    const loadSeconds = await load(redis.port, "redis", redis.pid, keys);
    await delay(SETTLE_MS);
    expectCount(await redis.command("DBSIZE"), keys, "redis");
    return {
      emptyRssBytes,
      rssBytes: await redis.usedMemoryRssBytes(),
      vmRssBytes: redis.rssBytes(),
      loadSeconds,
    };
  } finally {
    await redis.stop();
  }
}

async function load(
  port: number,
  proto: "merklekv" | "redis",
  serverPid: number,
  keys: number,
): Promise<number> {
  const result = await runLoad({
    ...LOAD,
    port,
    proto,
    serverPid,
    keys,
    keyBytes: KEY_BYTES,
    valueBytes: VALUE_BYTES,
    preloadOnly: true,
  });
  if (!result.ok || result.preloadSeconds === null) {
    throw new Error(
      `loading ${proto} failed: ${result.failures.join(", ")}\n${result.stderr ?? ""}`,
    );
  }
  return round2(result.preloadSeconds);
}

/** DBSIZE must count exactly the keys loaded: a short count means lost writes. */
function expectCount(reply: Reply, keys: number, server: string): void {
  const count = reply.kind === "integer"
    ? reply.value
    : reply.kind === "status"
    ? Number(reply.text.replace(/^DBSIZE /, ""))
    : NaN;
  if (count !== keys) throw new Error(`${server} holds ${count} keys after loading ${keys}`);
}

async function measureStartup(times: number) {
  const merklekv: number[] = [];
  const redis: number[] = [];
  for (let i = 0; i < times; i++) {
    const node = await BenchNode.start();
    merklekv.push(node.startupMs);
    await node.stop();
    const server = await RedisServer.start();
    redis.push(server.startupMs);
    await server.stop();
  }
  return {
    merklekvMs: round2(median(merklekv)),
    redisMs: round2(median(redis)),
    merklekvRunsMs: merklekv.map(round2),
    redisRunsMs: redis.map(round2),
  };
}

function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

function perKey(bytes: number, keys: number): number {
  return Math.round(bytes / keys);
}
