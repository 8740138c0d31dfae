/**
 * The node with auth against the same node without, in rounds of fresh nodes: `deno run
 * --allow-all bench/auth_ab.ts [rounds] [workload,...]`. The auth side has the `auth` section's
 * users file (bench/sections/auth.ts) and its load client AUTHs on every connection. Rounds
 * alternate which side runs first; with `AB_SIDE_BY_SIDE=1` both run at once on the same CPUs, so
 * other work on a shared machine falls on both alike. Prints each round and the node's CPU time
 * per request (from /proc), without / with auth: 1.00 would be auth at no cost.
 */

import { BenchNode } from "./harness/node_server.ts";
import { median, round2 } from "./harness/processes.ts";
import { runLoad } from "./load/load.ts";
import { WORKLOADS } from "./sections/client.ts";
import { USERS_FILE_TEXT } from "./sections/auth.ts";

const WARMUP_SECONDS = 2;
const SECONDS = 6;
const USER = "bench";
const PASSWORD = "bench-load-password";
const SIDE_BY_SIDE = Deno.env.get("AB_SIDE_BY_SIDE") === "1";

type Workload = (typeof WORKLOADS)[number];
interface Measured {
  opsPerSecond: number;
  cpuUsPerOp: number;
}

async function load(node: BenchNode, workload: Workload, auth: boolean, round: number) {
  const result = await runLoad({
    ...workload.load,
    port: node.port,
    serverPid: node.pid,
    proto: "merklekv",
    seed: round,
    warmupSeconds: WARMUP_SECONDS,
    seconds: SECONDS,
    ...(auth ? { user: USER, password: PASSWORD } : {}),
  });
  if (!result.ok) throw new Error(`${workload.name}: ${result.failures.join("; ")}`);
  const serverShare = result.cpu.serverPct === null ? NaN : result.cpu.serverPct / 100;
  return {
    opsPerSecond: result.opsPerSecond,
    cpuUsPerOp: serverShare * result.seconds * 1e6 / result.ops,
  };
}

/** One round: [with auth, without]. */
async function round(usersFile: string, workload: Workload, index: number) {
  const start = (auth: boolean) =>
    BenchNode.start(auth ? { users: { usersFile, user: USER, password: PASSWORD } } : {});
  const nodes: BenchNode[] = [];
  try {
    const order = index % 2 === 0 ? [true, false] : [false, true];
    const results = new Map<boolean, Measured>();
    if (SIDE_BY_SIDE) {
      const started = [await start(true), await start(false)];
      nodes.push(...started);
      const [a, b] = await Promise.all(
        started.map((node, i) => load(node, workload, i === 0, index)),
      );
      return [a!, b!];
    }
    for (const auth of order) {
      const node = await start(auth);
      nodes.push(node);
      results.set(auth, await load(node, workload, auth, index));
      await node.stop();
    }
    return [results.get(true)!, results.get(false)!];
  } finally {
    for (const node of nodes) await node.stop();
  }
}

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 5);
  const only = Deno.args[1]?.split(",") ?? ["set-get-c50-p32"];
  const directory = await Deno.makeTempDir({ prefix: "merklekv-auth-ab-" });
  const usersFile = `${directory}/users.acl`;
  await Deno.writeTextFile(usersFile, USERS_FILE_TEXT, { mode: 0o600 });
  try {
    for (const workload of WORKLOADS.filter((w) => only.includes(w.name))) {
      const ratios: number[] = [];
      for (let index = 0; index < rounds; index++) {
        const [withAuth, without] = await round(usersFile, workload, index);
        const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
        ratios.push(without!.cpuUsPerOp / withAuth!.cpuUsPerOp);
        console.log(
          `${workload.name} round ${index}: with auth ${
            Math.round(withAuth!.opsPerSecond)
          } ops/s ` +
            `${round2(withAuth!.cpuUsPerOp)} µs/op, without ${Math.round(without!.opsPerSecond)} ` +
            `ops/s ${round2(without!.cpuUsPerOp)} µs/op, load average ${load}`,
        );
      }
      console.log(
        `${workload.name}: CPU per request without / with auth ` +
          `${round2(median(ratios))} (rounds ${ratios.map(round2).join(" ")})`,
      );
    }
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}
