/**
 * Closed-loop load client for MerkleKV (protocol v1) and Redis (RESP), run as its own process
 * so that it never shares an event loop with the server it measures:
 *
 *   deno run -A bench/load/load.ts --port 7878 --proto merklekv --conns 50 --depth 1 \
 *     --mix set:50,get:50 --keys 100000 --value-bytes 100 --preload --seconds 10
 *
 * Against a node that requires AUTH, `--password <pw>` (and `--user <name>`) make each
 * connection AUTH before the run (the result shows the password as "***").
 *
 * Prints one JSON line (LoadResult). Exit status: 0 all checks passed, 1 a check failed (the
 * figures are still printed), 2 bad usage, 3 the run could not complete (no connection, a
 * dropped connection, unframeable replies, a timeout).
 *
 * From another module, runLoad() spawns it (pinned to the client CPU) and parses the line.
 */

import { LoadRun } from "./load_runner.ts";
import {
  DEFAULT_LOAD_OPTIONS,
  loadArgs,
  type LoadRequest,
  type LoadResult,
  parseLoadArgs,
  UsageError,
} from "./load_options.ts";
import { CLIENT_CPU, pinned, stopChild, track } from "../harness/processes.ts";

export type { LoadOptions, LoadRequest, LoadResult } from "./load_options.ts";
export { DEFAULT_LOAD_OPTIONS } from "./load_options.ts";

const LOAD_PATH = new URL("./load.ts", import.meta.url).pathname;
const EXIT_USAGE = 2;
/** Added to the run's own deadline before the spawned client is killed. */
const SPAWN_SLACK_SECONDS = 30;
const STDERR_KEPT_BYTES = 4_000;

export interface SpawnOptions {
  /** CPU for the client; null for no pinning. Default CLIENT_CPU. */
  cpu?: number | null;
}

/**
 * Runs the load client as a separate process and resolves with its result (also when a check
 * failed: look at `ok`). Rejects when the client printed no result (bad usage, crash).
 */
export async function runLoad(request: LoadRequest, spawn: SpawnOptions = {}): Promise<LoadResult> {
  const options = { ...DEFAULT_LOAD_OPTIONS, ...request };
  const [program, args] = pinned(
    spawn.cpu === undefined ? CLIENT_CPU : spawn.cpu,
    Deno.execPath(),
    ["run", "--allow-all", LOAD_PATH, ...loadArgs(request)],
  );
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const untrack = track("load client", child);
  const budgetSeconds = options.preloadTimeoutSeconds + options.warmupSeconds + options.seconds +
    SPAWN_SLACK_SECONDS;
  const killer = setTimeout(() => stopChild(child, "SIGKILL"), budgetSeconds * 1000);
  try {
    const output = await child.output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr).slice(0, STDERR_KEPT_BYTES);
    const line = stdout.trim().split("\n").reverse().find((text) => text.startsWith("{"));
    if (line === undefined) {
      throw new Error(`load client exited with code ${output.code} and no result:\n${stderr}`);
    }
    const result = JSON.parse(line) as LoadResult;
    if (!result.ok && stderr !== "") result.stderr = stderr;
    return result;
  } finally {
    clearTimeout(killer);
    untrack();
  }
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseLoadArgs(Deno.args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`load: ${error.message}`);
    Deno.exit(EXIT_USAGE);
  }
  const result = await new LoadRun(options).run();
  console.log(JSON.stringify(result));
  Deno.exit(result.exitCode);
}

if (import.meta.main) await main();
