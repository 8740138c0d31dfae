/**
 * A redis-server for side-by-side runs: a free loopback port, its own temporary directory,
 * no persistence unless asked (`--save '' --appendonly no`, then `args`, which override them:
 * e.g. ["--appendonly", "yes", "--appendfsync", "everysec"]). Pinned to the server CPU.
 * Registered with the process registry, so it is stopped on exit and on Ctrl-C.
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

export const REDIS_SERVER_PATH = "/usr/bin/redis-server";
const START_TIMEOUT_MS = 10_000;

export interface RedisOptions {
  /** Extra redis-server arguments, placed after the defaults (so they override them). */
  args?: string[];
  /** CPU to pin to; null for no pinning. Default SERVER_CPU. */
  cpu?: number | null;
  /**
   * TLS only: no plain port (`--port 0`), `port` is the TLS port, clients need no certificate
   * (`--tls-auth-clients no`). The certificate must be valid for "localhost".
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

export { TLS_SERVERNAME } from "./probe.ts";

export class RedisServer {
  readonly port: number;
  readonly directory: string;
  readonly startupMs: number;
  /** How to reach a TLS server (RedisOptions.tls), or null. */
  readonly tls: ProbeTls | null;
  readonly #child: Deno.ChildProcess;
  readonly #output: OutputTail;
  readonly #untrack: () => void;
  #exited = false;

  private constructor(
    port: number,
    directory: string,
    child: Deno.ChildProcess,
    output: OutputTail,
    startupMs: number,
    untrack: () => void,
    tls: ProbeTls | null,
  ) {
    this.tls = tls;
    this.port = port;
    this.directory = directory;
    this.#child = child;
    this.#output = output;
    this.startupMs = startupMs;
    this.#untrack = untrack;
    child.status.then(() => this.#exited = true);
  }

  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const port = await freePort();
    const directory = await Deno.makeTempDir({ prefix: "merklekv-bench-redis-" });
    const tls = options.tls === undefined ? null : {
      caPem: await Deno.readTextFile(options.tls.caFile),
      servername: TLS_SERVERNAME,
    };
    const args = [
      ...["--bind", "127.0.0.1", "--dir", directory],
      ...(options.tls === undefined ? ["--port", String(port)] : [
        ...["--port", "0", "--tls-port", String(port), "--tls-auth-clients", "no"],
        ...["--tls-cert-file", options.tls.certFile, "--tls-key-file", options.tls.keyFile],
        ...["--tls-ca-cert-file", options.tls.caFile],
      ]),
      ...["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""],
      ...(options.args ?? []),
    ];
    const [program, argv] = pinned(
      options.cpu === undefined ? SERVER_CPU : options.cpu,
      REDIS_SERVER_PATH,
      args,
    );
    const startedMs = performance.now();
    const child = new Deno.Command(program, {
      args: argv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const untrack = track(
      "redis-server",
      child,
      () => Deno.removeSync(directory, { recursive: true }),
    );
    const output = new OutputTail([child.stdout, child.stderr]);
    let exited = false;
    child.status.then(() => exited = true);
    try {
      const startupMs = await waitForPing(port, "redis", {
        startedMs,
        timeoutMs: START_TIMEOUT_MS,
        exited: () => exited,
        tls,
      });
      return new RedisServer(port, directory, child, output, startupMs, untrack, tls);
    } catch (error) {
      await stopChild(child, "SIGKILL");
      untrack();
      await Deno.remove(directory, { recursive: true }).catch(() => {});
      throw new Error(`redis-server did not start: ${(error as Error).message}\n${output.text()}`);
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** One command as a RESP array; resolves with the reply. */
  command(...words: string[]): Promise<Reply> {
    return request(this.port, "redis", words, undefined, null, this.tls);
  }

  /** The fields of `INFO <section>` as name -> value. */
  async info(section: string): Promise<Map<string, string>> {
    const reply = await this.command("INFO", section);
    if (reply.kind !== "value") throw new Error(`INFO ${section}: unexpected reply ${reply.kind}`);
    const fields = new Map<string, string>();
    for (const line of reply.value.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0 && !line.startsWith("#")) {
        fields.set(line.slice(0, colon), line.slice(colon + 1));
      }
    }
    return fields;
  }

  /** Redis's own RSS figure (INFO memory used_memory_rss), in bytes. */
  async usedMemoryRssBytes(): Promise<number> {
    const value = (await this.info("memory")).get("used_memory_rss");
    if (value === undefined) throw new Error("INFO memory has no used_memory_rss");
    return Number(value);
  }

  /** VmRSS of the process as the kernel sees it, in bytes. */
  rssBytes(): number {
    return rssBytes(this.pid);
  }

  async version(): Promise<string> {
    return (await this.info("server")).get("redis_version") ?? "unknown";
  }

  output(): string {
    return this.#output.text();
  }

  /** SIGTERM (SIGKILL after 5 s), then removes the directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.#exited) await stopChild(this.#child, "SIGTERM");
    else await this.#child.status;
    this.#untrack();
    await Deno.remove(this.directory, { recursive: true }).catch(() => {});
  }
}
