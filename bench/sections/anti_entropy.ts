/**
 * Anti-entropy benchmark.
 *
 * - Sessions: two real nodes on loopback hold the same n keys (loaded into A with pipelined
 *   MSET, then copied to B by SYNC: that copy is timed too, as "bootstrap"). Then d
 *   differences are made (half the keys missing on B, half the values changed on B) and A runs
 *   `SYNC <B>`; the OK line gives round trips, tree bytes (HELLO, SEGMENTS, DIGESTS, both ways),
 *   entry bytes (GET, PUSH), value bytes and the session's own time; the bench also times the
 *   whole command from its client. Median over `repeats` fresh sets of differences.
 * - Start-up tree build: hashing 1M entries into a fresh tree (what a node does for each entry
 *   it recovers), in this process.
 *
 * Targets (issue 3): at n = 1M, d = 10: at most 4 round trips, at most 64 KiB of tree
 * traffic, under 300 ms; 1M within 2x of 100k for the same d; tree build for 1M under 1 s.
 * What the tree costs a write is a micro-benchmark: bench/micro/merkle_bench.ts.
 *
 * `deno task bench --only anti_entropy [--quick]`.
 */

import { MerkleKVClient } from "../../src/client/mod.ts";
import { assert } from "../../src/assert.ts";
import { hashEntry, hashString } from "../../src/store/hash.ts";
import { MerkleTree, segmentOfKeyHash } from "../../src/store/merkle.ts";
import { BenchNode } from "../harness/node_server.ts";
import { median, SERVER_CPU } from "../harness/processes.ts";
import type { BenchOptions, BenchSection } from "./section.ts";

const SERVERS_CPU: number | null = Deno.env.get("MERKLEKV_BENCH_UNPINNED") ? null : SERVER_CPU;
const DIFFERENCES = [1, 10, 1000];
const MSET_PAIRS = 10_000;
const PIPELINE_LINES = 8;
const TARGET_ROUNDS = 4;
const TARGET_TREE_BYTES = 64 * 1024;
const TARGET_SESSION_MS = 300;
const TARGET_SCALING = 2;
const TARGET_TREE_BUILD_MS = 1000;
/** Bootstrap copies at most this many SYNC sessions (each bounded by max_keys_per_session). */
const MAX_BOOTSTRAP_SESSIONS = 100;

const COLUMNS = [
  "measure",
  "n",
  "d",
  "rounds",
  "tree bytes",
  "entry bytes",
  "value bytes",
  "session ms",
  "wall ms",
  "figure",
  "target",
  "result",
];

interface SessionFigures {
  n: number;
  d: number;
  rounds: number;
  treeBytes: number;
  entryBytes: number;
  valueBytes: number;
  sessionMs: number;
  wallMs: number;
  pulled: number;
  pushed: number;
}

/** The fields of `OK pulled=.. pushed=.. ...` as numbers. */
function parseOkLine(line: string | undefined): (name: string) => number {
  if (line === undefined || !line.startsWith("OK ")) {
    throw new Error(`SYNC failed: ${line ?? "no reply"}`);
  }
  const fields = new Map<string, number>();
  for (const word of line.slice(3).split(" ")) {
    const [name, value] = word.split("=");
    if (name !== undefined) fields.set(name, Number(value));
  }
  return (name) => {
    const value = fields.get(name);
    if (value === undefined) throw new Error(`SYNC reply without ${name}: ${line}`);
    return value;
  };
}

function key(i: number): string {
  return "key:" + String(i).padStart(8, "0");
}

/** Loads keys 0..n-1 into a node with pipelined MSET of MSET_PAIRS pairs each. */
async function load(client: MerkleKVClient, n: number): Promise<void> {
  let lines: string[] = [];
  for (let start = 0; start < n; start += MSET_PAIRS) {
    let line = "MSET";
    for (let i = start; i < Math.min(n, start + MSET_PAIRS); i++) line += ` ${key(i)} v${i}`;
    lines.push(line);
    if (lines.length === PIPELINE_LINES) {
      await expectOk(client, lines);
      lines = [];
    }
  }
  if (lines.length > 0) await expectOk(client, lines);
}

async function expectOk(client: MerkleKVClient, lines: string[]): Promise<void> {
  for (const [reply] of await client.pipeline(lines)) {
    if (reply !== "OK") throw new Error(`load failed: ${reply}`);
  }
}

/** Copies A to B with SYNC sessions until their roots match; returns the wall time. */
async function bootstrap(a: MerkleKVClient, b: MerkleKVClient, bPort: number): Promise<number> {
  const started = performance.now();
  for (let session = 0; session < MAX_BOOTSTRAP_SESSIONS; session++) {
    const [line] = await a.request(`SYNC 127.0.0.1 ${bPort}`);
    parseOkLine(line);
    if ((await a.hash()) === (await b.hash())) return performance.now() - started;
  }
  throw new Error(`no equal roots after ${MAX_BOOTSTRAP_SESSIONS} bootstrap sessions`);
}

/** d differences: ceil(d/2) new keys on A only, floor(d/2) existing keys changed on B. */
async function makeDifferences(
  a: MerkleKVClient,
  b: MerkleKVClient,
  n: number,
  d: number,
  tag: string,
): Promise<void> {
  const missing = Math.ceil(d / 2);
  const changed = d - missing;
  const onA = Array.from({ length: missing }, (_, i) => `SET new:${tag}:${i} fresh-${i}`);
  const step = Math.max(1, Math.floor(n / Math.max(1, changed)));
  const onB = Array.from(
    { length: changed },
    (_, i) => `SET ${key((i * step) % n)} changed-${tag}`,
  );
  if (onA.length > 0) await a.pipeline(onA);
  if (onB.length > 0) await b.pipeline(onB);
}

async function measureSession(
  a: MerkleKVClient,
  b: MerkleKVClient,
  bPort: number,
  n: number,
  d: number,
  repeats: number,
): Promise<SessionFigures> {
  const runs: SessionFigures[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    await makeDifferences(a, b, n, d, `${d}x${repeat}`);
    const started = performance.now();
    const [line] = await a.request(`SYNC 127.0.0.1 ${bPort}`);
    const wallMs = performance.now() - started;
    const field = parseOkLine(line);
    if ((await a.hash()) !== (await b.hash())) throw new Error(`roots differ after d=${d}`);
    runs.push({
      n,
      d,
      rounds: field("rounds"),
      treeBytes: field("tree_bytes"),
      entryBytes: field("entry_bytes"),
      valueBytes: field("value_bytes"),
      sessionMs: field("ms"),
      wallMs,
      pulled: field("pulled"),
      pushed: field("pushed"),
    });
  }
  const middle = (pick: (run: SessionFigures) => number) => median(runs.map(pick));
  return {
    n,
    d,
    rounds: Math.max(...runs.map((run) => run.rounds)),
    treeBytes: Math.max(...runs.map((run) => run.treeBytes)),
    entryBytes: middle((run) => run.entryBytes),
    valueBytes: middle((run) => run.valueBytes),
    sessionMs: middle((run) => run.sessionMs),
    wallMs: round1(middle((run) => run.wallMs)),
    pulled: middle((run) => run.pulled),
    pushed: middle((run) => run.pushed),
  };
}

interface PairFigures {
  n: number;
  loadMs: number;
  bootstrapMs: number;
  sessions: SessionFigures[];
}

async function measurePair(n: number, repeats: number): Promise<PairFigures> {
  const sections = `[anti_entropy]\ninterval_ms = 0\nmax_keys_per_session = ${n + 10_000}\n` +
    "session_timeout_ms = 600000\nrequest_timeout_ms = 60000\nallow_any_sync_target = true";
  const nodeA = await BenchNode.start({ nodeId: "ae-a", sections, cpu: SERVERS_CPU });
  const nodeB = await BenchNode.start({ nodeId: "ae-b", sections, cpu: SERVERS_CPU });
  const a = await MerkleKVClient.connect({ port: nodeA.port, timeoutMs: 120_000 });
  const b = await MerkleKVClient.connect({ port: nodeB.port, timeoutMs: 120_000 });
  try {
    const loadStarted = performance.now();
    await load(a, n);
    const loadMs = performance.now() - loadStarted;
    console.error(`anti_entropy: n=${n}: loaded A in ${Math.round(loadMs)} ms`);
    const bootstrapMs = await bootstrap(a, b, nodeB.port);
    console.error(`anti_entropy: n=${n}: copied to B in ${Math.round(bootstrapMs)} ms`);
    // One unmeasured session so both nodes' sync code is compiled before timing.
    await measureSession(a, b, nodeB.port, n, 2, 1);
    const sessions: SessionFigures[] = [];
    for (const d of DIFFERENCES) {
      sessions.push(await measureSession(a, b, nodeB.port, n, d, repeats));
      console.error(`anti_entropy: n=${n} d=${d}: ${JSON.stringify(sessions.at(-1))}`);
    }
    return { n, loadMs: round1(loadMs), bootstrapMs: round1(bootstrapMs), sessions };
  } finally {
    await a.close();
    await b.close();
    await nodeA.stop();
    await nodeB.stop();
  }
}

/** Best of `rounds`: every entry's key hash and entry hash XORed into a fresh tree. */
function measureTreeBuild(entries: number, rounds: number): number {
  const names = Array.from({ length: entries }, (_, i) => key(i));
  const hlc = Date.now() * 1024;
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const tree = new MerkleTree();
    const started = performance.now();
    // names has `entries` elements: the timed loop reads them without a check.
    for (let i = 0; i < entries; i++) {
      const keyHash = hashString(names[i]!, 0x4d4b5631);
      const low = keyHash[0];
      const high = keyHash[1];
      const hash = hashEntry(low, high, hlc + i, 0x1234, false, 0);
      tree.toggle(segmentOfKeyHash(high), hash[0], hash[1]);
    }
    best = Math.min(best, performance.now() - started);
  }
  return round1(best);
}

export async function run(options: BenchOptions): Promise<BenchSection> {
  const sizes = options.quick ? [10_000, 100_000] : [100_000, 1_000_000];
  const repeats = options.quick ? 1 : 3;
  const pairs: PairFigures[] = [];
  for (const n of sizes) pairs.push(await measurePair(n, repeats));
  const treeBuildMs = measureTreeBuild(1_000_000, options.quick ? 2 : 3);
  const rows = sessionRows(pairs);
  rows.push(...scalingRows(pairs));
  rows.push(treeBuildRow(treeBuildMs));
  return {
    name: "anti_entropy",
    columns: COLUMNS,
    rows,
    results: { quick: options.quick, pairs, treeBuildMs },
  };
}

function sessionRows(pairs: PairFigures[]): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const largest = Math.max(...pairs.map((pair) => pair.n));
  for (const pair of pairs) {
    rows.push([
      "bootstrap (copy all to an empty node)",
      pair.n,
      pair.n,
      "-",
      "-",
      "-",
      "-",
      "-",
      pair.bootstrapMs,
      `load ${pair.loadMs} ms`,
      "-",
      "-",
    ]);
    for (const s of pair.sessions) {
      const targeted = s.n === largest && s.n >= 1_000_000 && s.d === 10;
      const met = s.rounds <= TARGET_ROUNDS && s.treeBytes <= TARGET_TREE_BYTES &&
        s.sessionMs < TARGET_SESSION_MS;
      rows.push([
        "one session",
        s.n,
        s.d,
        s.rounds,
        s.treeBytes,
        s.entryBytes,
        s.valueBytes,
        s.sessionMs,
        s.wallMs,
        `pulled ${s.pulled}, pushed ${s.pushed}`,
        targeted ? "<= 4 rounds, <= 64 KiB, < 300 ms" : "-",
        targeted ? (met ? "met" : "missed") : "-",
      ]);
    }
  }
  return rows;
}

/** Session time at the largest n over the smallest, per d (target: within 2x). */
function scalingRows(pairs: PairFigures[]): (string | number)[][] {
  const small = pairs[0];
  const large = pairs.at(-1);
  if (pairs.length < 2 || small === undefined || large === undefined) return [];
  return DIFFERENCES.map((d, i) => {
    // Each pair measured one session per entry of DIFFERENCES, in its order.
    const largeSession = large.sessions[i];
    const smallSession = small.sessions[i];
    assert(largeSession !== undefined && smallSession !== undefined, "a session per difference");
    const ratio = largeSession.wallMs / Math.max(0.1, smallSession.wallMs);
    return [
      `cost n=${large.n} / n=${small.n}`,
      large.n,
      d,
      "-",
      "-",
      "-",
      "-",
      "-",
      "-",
      `${round1(ratio)}x wall time`,
      `<= ${TARGET_SCALING}x`,
      ratio <= TARGET_SCALING ? "met" : "missed",
    ];
  });
}

function treeBuildRow(treeBuildMs: number): (string | number)[] {
  return [
    "tree build at start-up (hash + XOR)",
    1_000_000,
    "-",
    "-",
    "-",
    "-",
    "-",
    "-",
    "-",
    `${treeBuildMs} ms`,
    "< 1000 ms",
    treeBuildMs < TARGET_TREE_BUILD_MS ? "met" : "missed",
  ];
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
