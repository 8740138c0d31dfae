/**
 * A MerkleKV node as a real process for benchmarks: `deno run main.ts --config <temp file>`
 * on a free loopback port, pinned to the server CPU, ready once it answers PING (the time
 * from spawn to that first PONG is its start-up time). Standalone and memory-only unless the
 * caller's TOML says otherwise. Registered with the process registry, so it is stopped on exit
 * and on Ctrl-C.
 */

import {
  freePort,
  OutputTail,
  pinned,
  rssBytes,
  SERVER_CPU,
  stopChild,
  track,
} from "./processes.ts";
import { type ProbeTls, request, TLS_SERVERNAME, waitForPing } from "./probe.ts";
import type { Reply } from "../load/load_protocol.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** As the merklekv command and `deno task start` run a node (bin/merklekv.mjs; docs/performance.md, Memory). */
const RUNTIME_FLAGS = ["--v8-flags=--max-semi-space-size=8"];
const START_TIMEOUT_MS = 30_000;

export interface BenchNodeOptions {
  nodeId?: string;
  /** Default: a free port. */
  port?: number;
  /** Top-level TOML lines (e.g. `data_dir = "..."`, `fsync = "always"`), before any section. */
  topLevel?: string[];
  /** TOML sections appended to the config (e.g. "[replication]\n..."). */
  sections?: string;
  /** Flags for `deno run` itself, before main.ts (e.g. "--cpu-prof"). */
  denoFlags?: string[];
  /** Default "warn": a benchmark should not time the logger. */
  logLevel?: string;
  /** CPU to pin to; null for no pinning. Default SERVER_CPU. */
  cpu?: number | null;
  env?: Record<string, string>;
  /** The main.ts to run; default this checkout's (bench/ab.ts runs another checkout's). */
  main?: string;
  /**
   * auth.password of the user default: the node requires `AUTH <password>`, which the
   * readiness PING and command() send first (pass it on to runLoad as `password`).
   */
  password?: string;
  /**
   * Users from an ACL file (auth.users_file): the readiness PING and command() AUTH as `user`
   * (pass `user` and `password` on to runLoad). Not with `password`.
   */
  users?: { usersFile: string; user: string; password: string };
  /**
   * `[tls] cert_file` and `key_file`: the client port speaks TLS only; the readiness PING and
   * command() check its certificate against `caFile` for TLS_SERVERNAME ("localhost").
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export class BenchNode {
  readonly port: number;
  readonly nodeId: string;
  readonly startupMs: number;
  /** The node's password (BenchNodeOptions.password), or null. */
  readonly password: string | null;
  /** What the readiness PING sends first (AUTH), or null. */
  readonly #auth: string[] | null;
  /** How to reach the node's TLS port, or null. */
  readonly tls: ProbeTls | null;
  readonly #child: Deno.ChildProcess;
  readonly #configPath: string;
  readonly #output: OutputTail;
  readonly #untrack: () => void;

  private constructor(
    fields: {
      port: number;
      nodeId: string;
      startupMs: number;
      configPath: string;
      password: string | null;
      auth: string[] | null;
      tls: ProbeTls | null;
    },
    child: Deno.ChildProcess,
    output: OutputTail,
    untrack: () => void,
  ) {
    this.port = fields.port;
    this.nodeId = fields.nodeId;
    this.startupMs = fields.startupMs;
    this.password = fields.password;
    this.#auth = fields.auth;
    this.tls = fields.tls;
    this.#configPath = fields.configPath;
    this.#child = child;
    this.#output = output;
    this.#untrack = untrack;
  }

  static async start(options: BenchNodeOptions = {}): Promise<BenchNode> {
    const port = options.port ?? await freePort();
    const nodeId = options.nodeId ?? `bench-${port}`;
    const configPath = await Deno.makeTempFile({ prefix: "merklekv-bench-", suffix: ".toml" });
    // Owner only (makeTempFile's mode): the file may hold the password.
    await Deno.writeTextFile(configPath, configText(nodeId, port, options));
    const password = options.password ?? null;
    const auth = options.users !== undefined
      ? ["AUTH", options.users.user, options.users.password]
      : authWords(password);
    const tls = options.tls === undefined
      ? null
      : { caPem: await Deno.readTextFile(options.tls.caFile), servername: TLS_SERVERNAME };
    const [program, argv] = pinned(
      options.cpu === undefined ? SERVER_CPU : options.cpu,
      Deno.execPath(),
      [
        "run",
        "--allow-all",
        ...RUNTIME_FLAGS,
        ...(options.denoFlags ?? []),
        options.main ?? MAIN,
        "--config",
        configPath,
      ],
    );
    const startedMs = performance.now();
    const child = new Deno.Command(program, {
      args: argv,
      env: options.env ?? {},
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const untrack = track(`merklekv ${nodeId}`, child, () => Deno.removeSync(configPath));
    const output = new OutputTail([child.stdout, child.stderr]);
    let exited = false;
    child.status.then(() => exited = true);
    try {
      const startupMs = await waitForPing(port, "merklekv", {
        startedMs,
        timeoutMs: START_TIMEOUT_MS,
        exited: () => exited,
        auth,
        tls,
      });
      const fields = { port, nodeId, startupMs, configPath, password, auth, tls };
      return new BenchNode(fields, child, output, untrack);
    } catch (error) {
      await stopChild(child, "SIGKILL");
      untrack();
      await Deno.remove(configPath).catch(() => {});
      throw new Error(`merklekv did not start: ${(error as Error).message}\n${output.text()}`);
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** One request line (words joined by spaces); resolves with the reply. */
  command(...words: string[]): Promise<Reply> {
    return request(this.port, "merklekv", words, undefined, this.#auth, this.tls);
  }

  /** VmRSS of the node process, in bytes. */
  rssBytes(): number {
    return rssBytes(this.pid);
  }

  output(): string {
    return this.#output.text();
  }

  /**
   * Stops the node with `signal` (SIGINT lets `--cpu-prof` write its profile), SIGKILL after
   * graceMs; removes the config file. Safe to call twice.
   */
  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 10_000): Promise<Deno.CommandStatus> {
    const status = await stopChild(this.#child, signal, graceMs);
    this.#untrack();
    await Deno.remove(this.#configPath).catch(() => {});
    return status;
  }
}

function configText(nodeId: string, port: number, options: BenchNodeOptions): string {
  const lines = [
    `node_id = "${nodeId}"`,
    `bind_address = "127.0.0.1"`,
    `bind_port = ${port}`,
    `log_level = "${options.logLevel ?? "warn"}"`,
    ...(options.topLevel ?? []),
  ];
  if (options.sections !== undefined) lines.push(options.sections);
  // A JSON string is a TOML basic string for printable ASCII.
  if (options.password !== undefined) {
    lines.push("[auth]", `password = ${JSON.stringify(options.password)}`);
  }
  if (options.users !== undefined) {
    lines.push("[auth]", `users_file = ${JSON.stringify(options.users.usersFile)}`);
  }
  if (options.tls !== undefined) {
    lines.push(
      "[tls]",
      `cert_file = ${JSON.stringify(options.tls.certFile)}`,
      `key_file = ${JSON.stringify(options.tls.keyFile)}`,
    );
  }
  return lines.join("\n") + "\n";
}

function authWords(password: string | null): string[] | null {
  return password === null ? null : ["AUTH", password];
}
