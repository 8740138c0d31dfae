/**
 * Starts MerkleKV as a real process (`deno run main.ts --config <file>`) on a free port.
 */

import { MerkleKVClient } from "../../src/client/mod.ts";
import { freePort, waitForPort } from "./ports.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 20_000;

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
   * A whole config file, written as given instead of the generated one (for a file a user runs,
   * such as examples/node-a.toml); its bind_port must be `port`.
   */
  config?: string;
}

export class NodeProcess {
  readonly port: number;
  readonly nodeId: string;
  readonly configPath: string;
  readonly options: NodeOptions;
  #child: Deno.ChildProcess;
  #stderr: string[] = [];
  #exited: Promise<Deno.CommandStatus>;

  private constructor(options: NodeOptions, port: number, configPath: string) {
    this.options = options;
    this.port = port;
    this.nodeId = options.nodeId ?? `node-${port}`;
    this.configPath = configPath;
    this.#child = this.#spawn();
    this.#exited = this.#child.status;
  }

  static async start(options: NodeOptions = {}): Promise<NodeProcess> {
    const port = options.port ?? await freePort();
    const nodeId = options.nodeId ?? `node-${port}`;
    const configPath = await Deno.makeTempFile({ prefix: "merklekv-", suffix: ".toml" });
    const lines = [
      `node_id = "${nodeId}"`,
      `bind_address = "${options.bindAddress ?? "127.0.0.1"}"`,
      `bind_port = ${port}`,
    ];
    if (options.dataDir !== undefined) lines.push(`data_dir = "${options.dataDir}"`);
    if (options.topLevel !== undefined) lines.push(options.topLevel);
    if (options.toml !== undefined) lines.push(options.toml);
    await Deno.writeTextFile(configPath, options.config ?? lines.join("\n") + "\n");
    const node = new NodeProcess({ ...options, nodeId }, port, configPath);
    await node.ready();
    return node;
  }

  #spawn(): Deno.ChildProcess {
    const command = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "--config", this.configPath, ...(this.options.args ?? [])],
      env: { MERKLEKV_LOG_LEVEL: "info", ...this.options.env },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    const child = command.spawn();
    this.#collect(child.stderr);
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

  get pid(): number {
    return this.#child.pid;
  }

  connect(timeoutMs = 10_000): Promise<MerkleKVClient> {
    const host = this.options.bindAddress ?? "127.0.0.1";
    return MerkleKVClient.connect({ host, port: this.port, timeoutMs });
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
    return await this.#exited;
  }

  kill(): Promise<Deno.CommandStatus> {
    return this.stop("SIGKILL");
  }

  get exited(): Promise<Deno.CommandStatus> {
    return this.#exited;
  }

  /** Starts the same node again (same port, config and data dir) after it stopped. */
  async restart(): Promise<void> {
    await this.#exited;
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
