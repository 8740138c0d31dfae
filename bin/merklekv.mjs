#!/usr/bin/env node
// @ts-check
/**
 * `merklekv`: the command npm puts on the PATH (package.json "bin"), and what `deno task start`
 * runs. It runs main.ts with the Deno binary of this package, passing every argument through
 * unchanged, in the caller's working directory: relative paths on the command line and in the
 * config file resolve where the user stands (see docs/running.md).
 *
 * Node.js cannot exec(2), so the node runs as a child: SIGTERM, SIGINT, SIGHUP, SIGQUIT and
 * SIGUSR2 sent to this process are passed on to it, and this process exits as the node did
 * (same exit code, or killed by the same signal) as soon as it ends, never before.
 */

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = path.join(PACKAGE_ROOT, "main.ts");
// The config names the import map and lock file; Deno would otherwise look in the cwd.
const DENO_CONFIG = path.join(PACKAGE_ROOT, "deno.json");

/**
 * How every node is run: `deno task start` runs this file, and the benchmarks' nodes use the
 * same V8 flag (bench/harness/node_server.ts). The young generation is capped at 8 MiB per
 * semi-space (see docs/performance.md, Memory).
 */
const DENO_RUN_FLAGS = [
  "--v8-flags=--max-semi-space-size=8",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

/**
 * Passed on to the node. SIGUSR1 stays Node.js's own (it starts the inspector).
 * @type {NodeJS.Signals[]}
 */
const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR2"];

const EXIT_FAILURE = 1;

/** The Deno binary of the `deno` npm package this package depends on. */
function denoPath() {
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve("deno/package.json"));
  const binary = path.join(packageDir, os.platform() === "win32" ? "deno.exe" : "deno");
  if (fs.existsSync(binary)) return binary;
  // Its install script did not run (npm --ignore-scripts): find the platform package's binary.
  return require(path.join(packageDir, "install_api.cjs")).runInstall();
}

function main() {
  let deno;
  try {
    deno = denoPath();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.error(`merklekv: cannot find the Deno binary (npm package "deno"): ${reason}`);
    process.exit(EXIT_FAILURE);
  }
  const args = ["run", ...DENO_RUN_FLAGS, "--config", DENO_CONFIG, MAIN, ...process.argv.slice(2)];
  const child = spawn(deno, args, { stdio: "inherit" });
  /** @param {NodeJS.Signals} signal */
  const forward = (signal) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  child.on("error", (error) => {
    console.error(`merklekv: cannot run ${deno}: ${error.message}`);
    process.exit(EXIT_FAILURE);
  });
  child.on("exit", (code, signal) => {
    for (const forwarded of FORWARDED_SIGNALS) process.off(forwarded, forward);
    if (signal === null) process.exit(code ?? EXIT_FAILURE);
    // Die by the same signal, so that whoever started us sees what the node saw.
    process.kill(process.pid, signal);
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  });
}

main();
