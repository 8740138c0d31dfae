/**
 * Start-up of two checkouts from one data directory of 1M keys (16-byte keys, 100-byte values,
 * written by bench/harness/startup_data.ts): `deno run --allow-all bench/startup_ab.ts <other
 * checkout> [rounds] [keys]` starts a node of the other checkout (A) and one of this one (B) on
 * it, alternating, and prints each start (process start to first PING), the CPU time the node
 * had used by then (which other work on the machine disturbs less than the wall time), and the
 * medians. The nodes are pinned to one CPU, as the benchmark runs them; with AB_UNPINNED=1 they may
 * use every CPU.
 */

import { abArguments } from "./harness/ab_arguments.ts";
import { BenchNode } from "./harness/node_server.ts";
import { cpuSeconds, median, round2 } from "./harness/processes.ts";
import { writeStartupDataDir } from "./harness/startup_data.ts";

interface Start {
  ms: number;
  cpuMs: number;
}

async function start(main: string | undefined, dataDir: string): Promise<Start> {
  // AB_UNPINNED=1: the nodes may use every CPU instead of the one the benchmark pins them to.
  const cpu = Deno.env.get("AB_UNPINNED") === "1" ? { cpu: null } : {};
  const options = { topLevel: [`data_dir = "${dataDir}"`], ...cpu };
  const node = await BenchNode.start(main === undefined ? options : { ...options, main });
  try {
    const cpuMs = (cpuSeconds(node.pid) ?? NaN) * 1000;
    const reply = await node.command("DBSIZE");
    if (reply.kind !== "status") throw new Error(`DBSIZE: ${JSON.stringify(reply)}`);
    return { ms: node.startupMs, cpuMs };
  } finally {
    await node.stop();
  }
}

if (import.meta.main) {
  const { otherMain, rounds, keys } = abArguments("startup_ab.ts", 5);
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-bench-startup-ab-" });
  try {
    await writeStartupDataDir(dataDir, keys);
    const a: Start[] = [];
    const b: Start[] = [];
    const show = (side: Start) => `${side.ms.toFixed(0)} ms (CPU ${side.cpuMs.toFixed(0)} ms)`;
    for (let round = 0; round < rounds; round++) {
      a.push(await start(otherMain, dataDir));
      b.push(await start(undefined, dataDir));
      console.log(`round ${round + 1}: A ${show(a.at(-1)!)} | B ${show(b.at(-1)!)}`);
    }
    const ms = (sides: Start[]) => median(sides.map((side) => side.ms));
    const cpuMs = (sides: Start[]) => median(sides.map((side) => side.cpuMs));
    // Each round's B/A, then their median and range: a slow moment of the machine moves one
    // round's pair, not every figure.
    const ratios = (of: (side: Start) => number) => {
      const each = a.map((side, round) => of(b[round]!) / of(side));
      return `${round2(median(each))} (rounds ${round2(Math.min(...each))}-${
        round2(Math.max(...each))
      })`;
    };
    console.log(
      `median: A ${ms(a).toFixed(0)} ms, B ${ms(b).toFixed(0)} ms, B/A ${
        ratios((side) => side.ms)
      }; CPU A ${cpuMs(a).toFixed(0)} ms, B ${cpuMs(b).toFixed(0)} ms, B/A ${
        ratios((side) => side.cpuMs)
      }`,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}
