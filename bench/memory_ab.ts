/**
 * RSS of two checkouts with the memory section's load (16-byte keys, 100-byte values, 1M keys by
 * default): `deno run --allow-all bench/memory_ab.ts <other checkout> [rounds] [keys]` loads a
 * fresh node from the other checkout (A) and one from this one (B), alternating, and prints
 * each round's RSS and INFO's value heap and V8 heap figures, then the medians and B / A.
 */

import { abArguments } from "./harness/ab_arguments.ts";
import { BenchNode } from "./harness/node_server.ts";
import { delay, median, round2 } from "./harness/processes.ts";
import { runLoad } from "./load/load.ts";
import type { Reply } from "./load/load_protocol.ts";

const LOAD = { conns: 4, preloadBatch: 100, preloadDepth: 8, keyBytes: 16, valueBytes: 100 };
const SETTLE_MS = 2_000;
const MIB = 1024 * 1024;

/** A field of an INFO reply (`name value` lines), NaN when absent. */
function infoField(reply: Reply, name: string): number {
  if (reply.kind !== "lines") return NaN;
  for (const line of reply.lines) {
    const [field, value] = line.split(/[ :]/);
    if (field === name) return Number(value);
  }
  return NaN;
}

async function measure(main: string | undefined, keys: number) {
  const node = await BenchNode.start(main === undefined ? {} : { main });
  try {
    const result = await runLoad({
      ...LOAD,
      port: node.port,
      proto: "merklekv",
      serverPid: node.pid,
      keys,
      preloadOnly: true,
    });
    if (!result.ok) throw new Error(result.failures.join("; "));
    await delay(SETTLE_MS);
    const info = await node.command("INFO");
    return {
      rssMiB: node.rssBytes() / MIB,
      heapMiB: infoField(info, "memory_heap_used_bytes") / MIB,
      slabMiB: infoField(info, "value_heap_slab_bytes") / MIB,
      loadSeconds: result.preloadSeconds ?? NaN,
    };
  } finally {
    await node.stop();
  }
}

if (import.meta.main) {
  const { otherMain, rounds, keys } = abArguments("memory_ab.ts", 3);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const fromA = await measure(otherMain, keys);
    const fromB = await measure(undefined, keys);
    a.push(fromA.rssMiB);
    b.push(fromB.rssMiB);
    const show = (m: typeof fromA) =>
      `RSS ${m.rssMiB.toFixed(0)} MiB (V8 heap ${m.heapMiB.toFixed(0)}, slabs ${
        Number.isNaN(m.slabMiB) ? "-" : m.slabMiB.toFixed(0)
      }), load ${m.loadSeconds.toFixed(2)} s`;
    console.log(`round ${round + 1}: A ${show(fromA)} | B ${show(fromB)}`);
  }
  console.log(
    `median RSS: A ${median(a).toFixed(0)} MiB, B ${median(b).toFixed(0)} MiB, B/A ${
      round2(median(b) / median(a))
    }`,
  );
}
