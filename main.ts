/**
 * merklekv: parse flags -> load config -> start node -> wait for a signal or SHUTDOWN -> close.
 * Exit codes: 0 clean stop, 1 failure while running, 2 invalid configuration or usage.
 * Signals (see docs/running.md): SIGINT and SIGTERM stop the node cleanly; SIGHUP re-reads the
 * config file (see docs/operations.md, Live configuration), and never kills a node.
 */

import { ConfigError, formatEffectiveConfig, HELP_TEXT, loadConfig } from "./src/config/mod.ts";
import { type ConfigSource, type NodeHandle, startNode, VERSION } from "./src/node/mod.ts";
import { stderrLogger } from "./src/log.ts";
import { DataDirError } from "./src/persistence/mod.ts";
import { runCli } from "./src/cli/mod.ts";
import { runTool } from "./src/tools/mod.ts";
import { AuthFileError, warnIfReadableByOthers } from "./src/auth/mod.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
/**
 * close() cuts connections after limits.shutdown_grace_ms; the parts after them (the broker,
 * the log's last flush) get this much more before the process exits anyway, with code 1.
 */
const STOP_BACKSTOP_MS = 10_000;

function loadFromProcess() {
  return loadConfig({
    argv: Deno.args,
    env: Deno.env.toObject(),
    readTextFile: (path) => Deno.readTextFileSync(path),
  });
}

function loadOrExit() {
  try {
    return loadFromProcess();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`merklekv: ${error.message}`);
    Deno.exit(EXIT_USAGE);
  }
}

async function main(): Promise<void> {
  // `merklekv cli ...` is the client (see docs/cli.md), not a node.
  if (Deno.args[0] === "cli") Deno.exit(await runCli(Deno.args.slice(1)));
  // `merklekv export|import ...` move data to and from JSON lines (see docs/backup.md).
  if (Deno.args[0] === "export" || Deno.args[0] === "import") {
    Deno.exit(await runTool(Deno.args[0], Deno.args.slice(1)));
  }
  const loaded = loadOrExit();
  if (loaded.cli.help) {
    console.log(HELP_TEXT);
    return;
  }
  if (loaded.cli.version) {
    console.log(`merklekv ${VERSION}`);
    return;
  }
  if (loaded.cli.check) {
    console.log(formatEffectiveConfig(loaded.config));
    return;
  }
  const config = loaded.config;
  const log = stderrLogger(config.logLevel, { node: config.nodeId });
  let node: NodeHandle | null = null;
  // Before start-up, which may read a large data directory: a SIGHUP then must not kill it.
  Deno.addSignalListener("SIGHUP", () => {
    if (node === null) {
      log.warn("signal_ignored", { signal: "SIGHUP", reason: "the node is still starting" });
    } else void node.liveConfig.reload("SIGHUP");
  });
  // Before start-up too: a stop asked for while the node starts (even once its port is open,
  // before start-up returns) is carried out as soon as it has started, never by the signal's
  // default action.
  let requestStop: (reason: string) => void;
  const stop = new Promise<string>((resolve) => requestStop = resolve);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => requestStop(signal));
  }
  // A reload reads the same file, environment and flags again: their precedence holds.
  const source: ConfigSource = { path: loaded.configPath, load: () => loadFromProcess().config };
  const secrets = [config.auth.password, config.antiEntropy.password, config.replication.password];
  if (loaded.configPath !== null && secrets.some((secret) => secret !== null)) {
    await warnIfReadableByOthers(loaded.configPath, log);
  }
  let started: NodeHandle;
  try {
    started = await startNode(config, log, undefined, source);
  } catch (error) {
    log.error("start_failed", { message: error instanceof Error ? error.message : String(error) });
    // A problem of the machine's, not a bug: also one plain sentence, as for config errors.
    if (error instanceof DataDirError || error instanceof AuthFileError) {
      console.error(`merklekv: ${error.message}`);
    }
    Deno.exit(EXIT_FAILURE);
  }
  node = started;
  started.shutdownRequested.then(() => requestStop("SHUTDOWN"));
  const reason = await stop;
  log.info("node_stopping", { reason });
  const backstop = setTimeout(() => {
    log.error("node_stop_forced", {
      reason,
      after_ms: config.limits.shutdownGraceMs + STOP_BACKSTOP_MS,
    });
    Deno.exit(EXIT_FAILURE);
  }, config.limits.shutdownGraceMs + STOP_BACKSTOP_MS);
  await started.close();
  clearTimeout(backstop);
  log.info("node_stopped", { reason });
  Deno.exit(0);
}

if (import.meta.main) await main();
