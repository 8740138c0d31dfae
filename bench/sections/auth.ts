/**
 * AUTH: the node with `auth.users_file` defining a user with key globs that cover the bench's
 * keys (and `+@all`), every load-client connection AUTHing as that user, next to the same node
 * without auth, under the client workloads. Every command of the first is checked against the
 * user's commands and every key against its globs (MGET: each of its 10 keys). Target: >= 0.95x
 * of the node without auth.
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { WORKLOADS } from "./client.ts";
import { comparePair, type Contender, PAIR_COLUMNS, pairWorkloads, type Started } from "./pair.ts";
import { BenchNode } from "../harness/node_server.ts";
import { roundTiming } from "../harness/rounds.ts";

const TARGET = 0.95;
const WORKLOAD_NAMES = ["set-get-c50", "set-get-c50-p32", "mget10-c50"];
const USER = "bench";
const PASSWORD = "bench-load-password";
/**
 * Globs as an application's user might hold them: two that never match the bench's keys come
 * first, so a key is tried against several before one allows it (v100_..., v16384_... and the
 * load client's own vfy_... keys).
 */
export const USERS_FILE_TEXT =
  `user ${USER} on >${PASSWORD} ~cache:* ~session:* ~v*_* ~vfy_* +@all\n`;

export async function run(options: BenchOptions): Promise<BenchSection> {
  const directory = await Deno.makeTempDir({ prefix: "merklekv-bench-auth-" });
  const usersFile = `${directory}/users.acl`;
  await Deno.writeTextFile(usersFile, USERS_FILE_TEXT, { mode: 0o600 });
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = { timing: roundTiming(options.quick) };
  const withAuth: Contender = {
    name: "merklekv auth",
    start: async (): Promise<Started> => {
      const node = await BenchNode.start({ users: { usersFile, user: USER, password: PASSWORD } });
      const reach = { proto: "merklekv" as const, user: USER, password: PASSWORD };
      return { port: node.port, pid: node.pid, reach, stop: () => node.stop() };
    },
  };
  const without: Contender = {
    name: "merklekv",
    start: async (): Promise<Started> => {
      const node = await BenchNode.start();
      return {
        port: node.port,
        pid: node.pid,
        reach: { proto: "merklekv" },
        stop: () => node.stop(),
      };
    },
  };
  try {
    for (const workload of pairWorkloads(WORKLOADS, WORKLOAD_NAMES)) {
      console.error(`auth: ${workload.name} (${workload.description})`);
      try {
        const outcome = await comparePair(workload, withAuth, without, TARGET, options.quick);
        rows.push(outcome.row);
        results[workload.name] = outcome.results;
      } catch (error) {
        const message = (error as Error).message.split("\n")[0] ?? "";
        rows.push([
          workload.name,
          ...PAIR_COLUMNS.slice(1, -1).map(() => "-"),
          `error: ${message}`,
        ]);
        results[workload.name] = { error: (error as Error).message };
      }
    }
  } finally {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  }
  return { name: "auth", columns: PAIR_COLUMNS, rows, results };
}
