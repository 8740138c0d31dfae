/**
 * Start-up of two checkouts from one data directory of 1M keys (16-byte keys, 100-byte values,
 * written by bench/harness/startup_data.ts): `deno run --allow-all bench/startup_ab.ts <other
 * checkout> [rounds] [keys]` starts a node of the other checkout (A) and one of this one (B) on
 * it, alternating, and prints each start (process start to first PING) and the medians.
 */

import { abArguments } from "./harness/ab_arguments.ts";
import { BenchNode } from "./harness/node_server.ts";
import { median, round2 } from "./harness/processes.ts";
import { writeStartupDataDir } from "./harness/startup_data.ts";

async function start(main: string | undefined, dataDir: string): Promise<number> {
  const options = { topLevel: [`data_dir = "${dataDir}"`] };
  const node = await BenchNode.start(main === undefined ? options : { ...options, main });
  try {
    const reply = await node.command("DBSIZE");
    if (reply.kind !== "status") throw new Error(`DBSIZE: ${JSON.stringify(reply)}`);
    return node.startupMs;
  } finally {
    await node.stop();
  }
}

if (import.meta.main) {
  const { otherMain, rounds, keys } = abArguments("startup_ab.ts", 5);
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-bench-startup-ab-" });
  try {
    await writeStartupDataDir(dataDir, keys);
    const a: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < rounds; round++) {
      a.push(await start(otherMain, dataDir));
      b.push(await start(undefined, dataDir));
      console.log(
        `round ${round + 1}: A ${a.at(-1)!.toFixed(0)} ms | B ${b.at(-1)!.toFixed(0)} ms`,
      );
    }
    console.log(
      `median: A ${median(a).toFixed(0)} ms, B ${median(b).toFixed(0)} ms, B/A ${
        round2(median(b) / median(a))
      }`,
    );
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}
