/**
 * A/B of two checkouts on the client workloads: `deno run --allow-all bench/ab.ts <other
 * checkout> [rounds] [workload,...]` starts a node from this checkout (B) and one from the other (A), fresh
 * for each round, alternating A and B round by round with the same load (bench/sections/
 * client.ts's workloads, the load client pinned as in `deno task bench`), and prints each
 * workload's medians and the ratio B / A. For "does this change move the figures": a change
 * that is meant to leave them alone should land within the rounds' spread of 1.00. With
 * `AB_B_SECTIONS` (TOML, `\n` for line ends) B's node gets those sections: `bench/ab.ts .`
 * then compares one checkout with and without a setting.
 */

import * as path from "node:path";
import { BenchNode } from "./harness/node_server.ts";
import { median, round2 } from "./harness/processes.ts";
import { runLoad } from "./load/load.ts";
import { WORKLOADS } from "./sections/client.ts";

const DEFAULT_ROUNDS = 5;
const WARMUP_SECONDS = 2;
const SECONDS = 5;

/** TOML sections for B's node, from AB_B_SECTIONS (e.g. "[http]\nport = 0": the listener on). */
const B_SECTIONS = Deno.env.get("AB_B_SECTIONS")?.replaceAll("\\n", "\n");

async function measure(main: string | undefined, workload: (typeof WORKLOADS)[number]) {
  const node = await BenchNode.start(
    main === undefined ? (B_SECTIONS === undefined ? {} : { sections: B_SECTIONS }) : { main },
  );
  try {
    const result = await runLoad({
      ...workload.load,
      port: node.port,
      proto: "merklekv",
      warmupSeconds: WARMUP_SECONDS,
      seconds: SECONDS,
    });
    if (!result.ok) throw new Error(`${workload.name}: ${result.failures.join("; ")}`);
    return { opsPerSecond: result.opsPerSecond, p99Us: result.latencyUs.p99 };
  } finally {
    await node.stop();
  }
}

/** (max - min) / median, as a percentage. */
function spread(values: number[]): string {
  return `${Math.round((Math.max(...values) - Math.min(...values)) / median(values) * 100)}%`;
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
  const rounds = Number(Deno.args[1] ?? DEFAULT_ROUNDS);
  const only = Deno.args[2]?.split(",") ?? null;
  console.log(`A: ${otherMain}\nB: this checkout\n${rounds} alternating rounds per workload`);
  console.log(
    "workload | A ops/s | B ops/s | B/A ops | B/A per round | B/A median of rounds | " +
      "spread A / B | A p99 µs | B p99 µs",
  );
  for (const workload of WORKLOADS.filter((w) => only === null || only.includes(w.name))) {
    const a: { opsPerSecond: number; p99Us: number }[] = [];
    const b: { opsPerSecond: number; p99Us: number }[] = [];
    for (let round = 0; round < rounds; round++) {
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
      ].join(" | "),
    );
  }
}
