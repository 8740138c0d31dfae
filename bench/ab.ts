/**
 * A/B of two checkouts on the client workloads: `deno run --allow-all bench/ab.ts <other
 * checkout> [rounds] [workload,...]` starts a node from this checkout (B) and one from the other (A), fresh
 * for each round, alternating A and B round by round with the same load (bench/sections/
 * client.ts's workloads, the load client pinned as in `deno task bench`), and prints each
 * workload's medians and the ratio B / A. For "does this change move the figures": a change
 * that is meant to leave them alone should land within the rounds' spread of 1.00. With
 * `AB_B_SECTIONS` (TOML, `\n` for line ends) B's node gets those sections: `bench/ab.ts .`
 * then compares one checkout with and without a setting. With `AB_SIDE_BY_SIDE=1` each round
 * runs A and B at the same time on the same CPUs (a busy machine then slows both alike). It also
 * prints the node's CPU time per
 * request (from /proc: less moved than ops/s by other programs on a shared machine; a cost
 * shows as B/A cpu above 1).
 */

import * as path from "node:path";
import { BenchNode } from "./harness/node_server.ts";
import { median, round2 } from "./harness/processes.ts";
import { runLoad } from "./load/load.ts";
import { WORKLOADS } from "./sections/client.ts";
import { TLS_SERVERNAME } from "./harness/redis.ts";
import { type Certificates, makeCertificates } from "../tests/_support/tls.ts";

const DEFAULT_ROUNDS = 5;
const WARMUP_SECONDS = 2;
const SECONDS = 5;

/** TOML sections for B's node, from AB_B_SECTIONS (e.g. "[http]\nport = 0": the listener on). */
const B_SECTIONS = Deno.env.get("AB_B_SECTIONS")?.replaceAll("\\n", "\n");

/**
 * AB_SIDE_BY_SIDE=1: each round runs A and B at the same time, both nodes on the server CPU and
 * both load clients on the client CPU, so that other work on the machine falls on both alike.
 */
const SIDE_BY_SIDE = Deno.env.get("AB_SIDE_BY_SIDE") === "1";

/** AB_TLS=1: both nodes serve TLS with these (made in main). */
let certificates: Certificates | null = null;

type Workload = (typeof WORKLOADS)[number];
type Measured = Awaited<ReturnType<typeof load>>;

function startNode(main: string | undefined): Promise<BenchNode> {
  const tls = certificates === null ? {} : { tls: certificates };
  return BenchNode.start(
    main === undefined
      ? (B_SECTIONS === undefined ? tls : { sections: B_SECTIONS, ...tls })
      : { main, ...tls },
  );
}

async function measure(main: string | undefined, workload: Workload): Promise<Measured> {
  const node = await startNode(main);
  try {
    return await load(node, workload);
  } finally {
    await node.stop();
  }
}

/** (max - min) / median, as a percentage. */
function spread(values: number[]): string {
  return `${Math.round((Math.max(...values) - Math.min(...values)) / median(values) * 100)}%`;
}

/** A's and B's measures of one round run side by side. */
async function measurePair(otherMain: string, workload: Workload): Promise<[Measured, Measured]> {
  const nodes: BenchNode[] = [];
  try {
    nodes.push(await startNode(otherMain));
    nodes.push(await startNode(undefined));
    const [a, b] = await Promise.all(nodes.map((node) => load(node, workload)));
    return [a!, b!];
  } finally {
    for (const node of nodes) await node.stop();
  }
}

async function load(node: BenchNode, workload: Workload) {
  const result = await runLoad({
    ...workload.load,
    port: node.port,
    serverPid: node.pid,
    proto: "merklekv",
    ...(certificates === null ? {} : { tlsCa: certificates.caFile, tlsServername: TLS_SERVERNAME }),
    warmupSeconds: WARMUP_SECONDS,
    seconds: SECONDS,
  });
  if (!result.ok) throw new Error(`${workload.name}: ${result.failures.join("; ")}`);
  // The node's CPU time per request: less moved by other programs than ops/s on a shared box.
  const serverShare = result.cpu.serverPct === null ? NaN : result.cpu.serverPct / 100;
  const cpuUsPerOp = serverShare * result.seconds * 1e6 / result.ops;
  return { opsPerSecond: result.opsPerSecond, p99Us: result.latencyUs.p99, cpuUsPerOp };
}

if (import.meta.main) {
  const other = Deno.args[0];
  if (other === undefined) {
    console.error(
      "usage: deno run --allow-all bench/ab.ts <other checkout> [rounds] [workload,...]",
    );
    Deno.exit(2);
  }
  const otherMain = path.resolve(other, "main.ts");
  if (Deno.env.get("AB_TLS") === "1") {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-ab-tls-" });
    certificates = await makeCertificates(directory);
    globalThis.addEventListener("unload", () => Deno.removeSync(directory, { recursive: true }));
  }
  const rounds = Number(Deno.args[1] ?? DEFAULT_ROUNDS);
  const only = Deno.args[2]?.split(",") ?? null;
  console.log(`A: ${otherMain}\nB: this checkout\n${rounds} alternating rounds per workload`);
  console.log(
    "workload | A ops/s | B ops/s | B/A ops | B/A per round | B/A median of rounds | " +
      "spread A / B | A p99 µs | B p99 µs" +
      " | A cpu µs/op | B cpu µs/op | B/A cpu | B/A cpu per round",
  );
  for (const workload of WORKLOADS.filter((w) => only === null || only.includes(w.name))) {
    const a: Measured[] = [];
    const b: Measured[] = [];
    for (let round = 0; round < rounds && SIDE_BY_SIDE; round++) {
      const [x, y] = await measurePair(otherMain, workload);
      a.push(x);
      b.push(y);
    }
    for (let round = 0; round < rounds && !SIDE_BY_SIDE; round++) {
      // Alternate which goes first, so that a drift of the machine falls on both.
      const order = round % 2 === 0 ? ["a", "b"] : ["b", "a"];
      for (const side of order) {
        if (side === "a") a.push(await measure(otherMain, workload));
        else b.push(await measure(undefined, workload));
      }
    }
    const perRound = a.map((x, i) => round2((b[i]?.opsPerSecond ?? 0) / x.opsPerSecond));
    const aOps = median(a.map((x) => x.opsPerSecond));
    const bOps = median(b.map((x) => x.opsPerSecond));
    console.log(
      [
        workload.name,
        Math.round(aOps),
        Math.round(bOps),
        round2(bOps / aOps),
        perRound.join(" "),
        round2(median(perRound)),
        `${spread(a.map((x) => x.opsPerSecond))} / ${spread(b.map((x) => x.opsPerSecond))}`,
        Math.round(median(a.map((x) => x.p99Us))),
        Math.round(median(b.map((x) => x.p99Us))),
        round2(median(a.map((x) => x.cpuUsPerOp))),
        round2(median(b.map((x) => x.cpuUsPerOp))),
        round2(median(b.map((x) => x.cpuUsPerOp)) / median(a.map((x) => x.cpuUsPerOp))),
        a.map((x, i) => round2((b[i]?.cpuUsPerOp ?? 0) / x.cpuUsPerOp)).join(" "),
      ].join(" | "),
    );
  }
}
