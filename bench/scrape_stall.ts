/**
 * Does scraping stall clients? One node with 100,000 keys; a client sends PING after PING
 * for a few seconds, first alone, then while another loop fetches /metrics back to back. Prints
 * the PING latencies (median, p99, longest) of both runs and the scrape time
 * (see docs/observability.md, "Cost").
 *
 *   deno run --allow-all bench/scrape_stall.ts [seconds per run, default 5]
 */

import { NodeProcess } from "../tests/_support/node_process.ts";

const KEYS = 100_000;
const KEYS_PER_MSET = 5_000;

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

function summary(latenciesMs: number[]): string {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const format = (ms: number) => `${ms.toFixed(3)} ms`;
  return `${sorted.length} PINGs, median ${format(percentile(sorted, 0.5))}, ` +
    `p99 ${format(percentile(sorted, 0.99))}, longest ${format(sorted.at(-1) ?? 0)}`;
}

async function pingFor(node: NodeProcess, seconds: number): Promise<number[]> {
  const client = await node.connect();
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const startedAt = performance.now();
    await client.ping();
    latencies.push(performance.now() - startedAt);
  }
  await client.close();
  return latencies;
}

async function scrapeUntil(node: NodeProcess, done: () => boolean): Promise<number[]> {
  const times: number[] = [];
  while (!done()) {
    const startedAt = performance.now();
    const answer = await node.http("/metrics");
    if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
    times.push(performance.now() - startedAt);
  }
  return times;
}

async function main(): Promise<void> {
  const seconds = Number(Deno.args[0] ?? 5);
  const node = await NodeProcess.start({ httpPort: true });
  try {
    const loader = await node.connect();
    for (let start = 0; start < KEYS; start += KEYS_PER_MSET) {
      const entries: [string, string][] = [];
      for (let i = start; i < start + KEYS_PER_MSET; i++) entries.push([`key-${i}`, `value-${i}`]);
      await loader.mset(entries);
    }
    await loader.close();
    const alone = await pingFor(node, seconds);
    let done = false;
    const scrapes = scrapeUntil(node, () => done);
    const scraped = await pingFor(node, seconds);
    done = true;
    const scrapeTimes = await scrapes;
    const bytes = (await node.http("/metrics")).body.length;
    console.log(`without scraping: ${summary(alone)}`);
    console.log(`while scraping:   ${summary(scraped)}`);
    console.log(
      `scrapes: ${scrapeTimes.length} back to back (${bytes} bytes each), ` +
        summary(scrapeTimes).replace(/PINGs/, "requests"),
    );
  } finally {
    await node.cleanup();
  }
}

if (import.meta.main) await main();
