/**
 * Starts MerkleKV as a real process on a free port: `deno run main.ts --config <file>`, or as
 * users start it, through the `merklekv` command (bin/merklekv.mjs) or `deno task start`.
 */

import * as path from "node:path";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { freePort, waitForPort } from "./ports.ts";

const ROOT = path.resolve(new URL("../..", import.meta.url).pathname);
/** The current code; a node restarted onto it (restart(MAIN)) is upgraded. */
export const MAIN = path.join(ROOT, "main.ts");
const LAUNCHER = path.join(ROOT, "bin", "merklekv.mjs");
const DENO_CONFIG = path.join(ROOT, "deno.json");
const START_TIMEOUT_MS = 20_000;
/** The config's name in `cwd` when the test gives one (passed relative: `--config node.toml`). */
const CONFIG_NAME_IN_CWD = "node.toml";

/**
 * How the process is started: "deno" runs main.ts directly; "launcher" is the `merklekv`
 * command (`node bin/merklekv.mjs`); "task" is `deno task start` (deno.json); "npm" is
 * `npm start` (package.json), which runs the task; "npx" is `npx deno task start`.
 */
export type StartedThrough = "deno" | "launcher" | "task" | "npm" | "npx";

export interface NodeOptions {
  nodeId?: string;
  /** Extra TOML appended to the generated config (sections, limits, peers...). */
  toml?: string;
  /** Top-level TOML lines placed before any section (e.g. mqtt_broker_address = "..."). */
  topLevel?: string;
  env?: Record<string, string>;
  /** Reuse a port (for restarts); default a free one. */
  port?: number;
  /** Data directory; default none (memory only). */
  dataDir?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** The address the node binds to and is reached at; default 127.0.0.1. */
  bindAddress?: string;
  /**
   * Working directory; default the test's. When set, the config is written there as
   * `node.toml` and passed by that relative name.
   */
  cwd?: string;
  /** Default "deno". */
  through?: StartedThrough;
  /**
   * A whole config file, written as given instead of the generated one (for a file a user runs,
   * such as examples/node-a.toml); its bind_port must be `port`.
   */
  config?: string;
  /** Turns the operators' HTTP listener on (`[http] port`); a free port when true. */
  httpPort?: number | true;
  /** false: start() returns once the process runs, without waiting for the client port. */
  waitReady?: boolean;
  /**
   * The program `deno run` starts instead of main.ts (through "deno" only): a release bundle
   * under tests/fixtures/releases/ runs the node as that release.
   */
  script?: string;
}

export class NodeProcess {
  readonly port: number;
  /** The HTTP listener's port, or null without one. */
  readonly httpPort: number | null;
  readonly nodeId: string;
  readonly configPath: string;
  readonly options: NodeOptions;
  #child: Deno.ChildProcess;
  #stderr: string[] = [];
  /** Ends when every process holding the stderr pipe (the node, its launcher) has exited. */
  #stderrDone: Promise<void> = Promise.resolve();
  #exited: Promise<Deno.CommandStatus>;
  #script: string;

  private constructor(
    options: NodeOptions,
    port: number,
    httpPort: number | null,
    configPath: string,
  ) {
    this.options = options;
    this.port = port;
    this.httpPort = httpPort;
    this.nodeId = options.nodeId ?? `node-${port}`;
    this.configPath = configPath;
    this.#script = options.script ?? MAIN;
    this.#child = this.#spawn();
    this.#exited = this.#child.status;
  }

  static async start(options: NodeOptions = {}): Promise<NodeProcess> {
    const port = options.port ?? await freePort();
    const nodeId = options.nodeId ?? `node-${port}`;
    const configPath = options.cwd === undefined
      ? await Deno.makeTempFile({ prefix: "merklekv-", suffix: ".toml" })
      : path.join(options.cwd, CONFIG_NAME_IN_CWD);
    const lines = [
      `node_id = "${nodeId}"`,
      `bind_address = "${options.bindAddress ?? "127.0.0.1"}"`,
      `bind_port = ${port}`,
    ];
    if (options.dataDir !== undefined) lines.push(`data_dir = "${options.dataDir}"`);
    if (options.topLevel !== undefined) lines.push(options.topLevel);
    if (options.toml !== undefined) lines.push(options.toml);
    const httpPort = options.httpPort === true ? await freePort() : options.httpPort ?? null;
    if (httpPort !== null) lines.push("[http]", `port = ${httpPort}`);
    await Deno.writeTextFile(configPath, options.config ?? lines.join("\n") + "\n");
    const node = new NodeProcess({ ...options, nodeId }, port, httpPort, configPath);
    if (options.waitReady !== false) await node.ready();
    return node;
  }

  #spawn(): Deno.ChildProcess {
    const config = this.options.cwd === undefined ? this.configPath : CONFIG_NAME_IN_CWD;
    const nodeArgs = ["--config", config, ...(this.options.args ?? [])];
    const through = this.options.through ?? "deno";
    if (this.#script !== MAIN && through !== "deno") {
      throw new Error(`a script other than main.ts runs only through "deno", not "${through}"`);
    }
    const [program, ...args] = commandLine(through, this.#script, nodeArgs);
    if (program === undefined) throw new Error("commandLine() gave an empty command");
    // npm sets INIT_CWD for what it runs (`npm test`); `deno task` would keep it. Left out, so
    // that `deno task` sets it to the cwd below, as when a user types the command.
    const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
    const command = new Deno.Command(program, {
      args,
      cwd: this.options.cwd,
      clearEnv: true,
      env: { ...inherited, MERKLEKV_LOG_LEVEL: "info", ...this.options.env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      // Its own process group, so that kill() reaches the node behind a launcher or task.
      detached: this.#throughWrapper(),
    });
    const child = command.spawn();
    this.#stderrDone = this.#collect(child.stderr);
    return child;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.#stderr.push(decoder.decode(chunk));
  }

  /** Waits until the node accepts connections (or its process dies). */
  async ready(): Promise<void> {
    let hasExited = false;
    const exited = this.#exited.then((status) => {
      hasExited = true;
      throw new Error(`node exited with code ${status.code} before listening:\n${this.stderr()}`);
    });
    const host = this.options.bindAddress ?? "127.0.0.1";
    await Promise.race([
      waitForPort(this.port, START_TIMEOUT_MS, () => hasExited, host),
      exited,
    ]);
  }

  stderr(): string {
    return this.#stderr.join("");
  }

  /** GET (or another method) on the HTTP listener; the body is read whole. */
  async http(
    pathAndQuery: string,
    method = "GET",
  ): Promise<{ status: number; body: string; headers: Headers }> {
    if (this.httpPort === null) throw new Error("this node has no HTTP listener (httpPort)");
    const host = this.options.bindAddress ?? "127.0.0.1";
    const response = await fetch(`http://${host}:${this.httpPort}${pathAndQuery}`, { method });
    return { status: response.status, body: await response.text(), headers: response.headers };
  }

  get pid(): number {
    return this.#child.pid;
  }

  connect(timeoutMs = 10_000): Promise<MerkleKVClient> {
    const host = this.options.bindAddress ?? "127.0.0.1";
    return MerkleKVClient.connect({ host, port: this.port, timeoutMs });
  }

  /** Sends a signal to the started process (the launcher or task when started through one). */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends a signal and waits for the exit (run directly: and for the last line of stderr). */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.#exited;
    // Nothing else holds the pipe of a node run directly: it closes as the process ends.
    if (!this.#throughWrapper()) await this.#stderrDone;
    return status;
  }

  /** SIGKILL to the node, and to the launcher or task that started it. */
  async kill(): Promise<Deno.CommandStatus> {
    if (!this.#throughWrapper()) return await this.stop("SIGKILL");
    try {
      Deno.kill(-this.#child.pid, "SIGKILL");
    } catch {
      // the whole group has exited
    }
    const status = await this.#exited;
    // The node may die a moment after its launcher: its end of the pipe closes then.
    await this.#stderrDone;
    return status;
  }

  #throughWrapper(): boolean {
    return (this.options.through ?? "deno") !== "deno";
  }

  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }

  /**
   * Starts the same node again (same port, config and data dir) after it stopped; with
   * `script`, as another build (main.ts for the current code: a rolling upgrade).
   */
  async restart(script?: string): Promise<void> {
    await this.#exited;
    if (script !== undefined) this.#script = script;
    this.#stderr = [];
    this.#child = this.#spawn();
    this.#exited = this.#child.status;
    await this.ready();
  }

  async cleanup(): Promise<void> {
    await this.kill();
    await Deno.remove(this.configPath).catch(() => {});
  }
}

/** The program and arguments that start `script` (main.ts unless "deno" runs another) with `nodeArgs`. */
function commandLine(through: StartedThrough, script: string, nodeArgs: string[]): string[] {
  switch (through) {
    case "deno":
      return [Deno.execPath(), "run", "--allow-all", script, ...nodeArgs];
    case "launcher":
      return ["node", LAUNCHER, ...nodeArgs];
    case "task":
      return [Deno.execPath(), "task", "--quiet", "--config", DENO_CONFIG, "start", ...nodeArgs];
    case "npm":
      return ["npm", "--prefix", ROOT, "start", "--", ...nodeArgs];
    case "npx":
      // `npx` is `npm exec`; --prefix finds this package's deno (and .npmrc) from another cwd.
      return [
        "npm",
        "--prefix",
        ROOT,
        "exec",
        "--",
        "deno",
        "task",
        "--quiet",
        "--config",
        DENO_CONFIG,
        "start",
        ...nodeArgs,
      ];
    default: {
      const unknown: never = through;
      throw new Error(`unknown way to start a node: ${unknown}`);
    }
  }
}

/** Runs a node with no config file on `dataDir` (any free port) until it exits; its exit code and stderr. */
export async function runUntilExit(dataDir: string): Promise<{ code: number; stderr: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--data-dir", dataDir, "--port", "0"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: result.code, stderr: new TextDecoder().decode(result.stderr) };
}
