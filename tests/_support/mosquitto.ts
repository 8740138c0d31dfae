/**
 * A real Mosquitto broker on a free loopback port, for replication tests and the replication
 * benchmark (the one launcher both use). Installed by .ci/run (`apt-get install -y mosquitto`);
 * tests fail with a clear message if it is missing.
 */

import { freePort, waitForPort } from "./ports.ts";

const MOSQUITTO_PATHS = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];

/** Where Debian (or a local build) put mosquitto; null when it is not installed. */
export function findMosquitto(): string | null {
  for (const path of MOSQUITTO_PATHS) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

export function mosquittoPath(): string {
  const path = findMosquitto();
  if (path === null) throw new Error("mosquitto is not installed: apt-get install -y mosquitto");
  return path;
}

export interface BrokerOptions {
  port?: number;
  /** Extra mosquitto.conf lines (listeners, password_file, bridges...). */
  extraConfig?: string;
  /** Replace the default plain listener entirely (for TLS/password tests). */
  listenerConfig?: string;
  /**
   * A whole mosquitto.conf, written as given instead of every line above (for a config file a
   * user runs, such as examples/mosquitto.conf); its listener must be on `port`.
   */
  configLines?: string[];
  /** Rewrites the command line before each launch (the benchmark pins the broker to a CPU). */
  wrapCommand?: (program: string, args: string[]) => [string, string[]];
  /**
   * Called with each broker process as it starts (the benchmark registers it, so that it is
   * killed and its directory removed if the benchmark is interrupted).
   */
  onLaunch?: (child: Deno.ChildProcess, broker: Mosquitto) => void;
}

/** The broker the tests run: a plain loopback listener unless told otherwise, no persistence. */
function defaultConfigLines(port: number, options: BrokerOptions): string[] {
  const listener = options.listenerConfig ?? `listener ${port} 127.0.0.1\nallow_anonymous true`;
  return [
    listener,
    "per_listener_settings false",
    "set_tcp_nodelay true",
    // The default (1000) silently drops QoS 1 messages for a slow subscriber.
    "max_queued_messages 1000000",
    "max_inflight_messages 0",
    "persistence false",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    options.extraConfig ?? "",
  ];
}

export class Mosquitto {
  readonly port: number;
  readonly configPath: string;
  readonly directory: string;
  readonly #options: BrokerOptions;
  #child: Deno.ChildProcess | null = null;
  #log: string[] = [];

  private constructor(port: number, directory: string, options: BrokerOptions) {
    this.port = port;
    this.directory = directory;
    this.configPath = `${directory}/mosquitto.conf`;
    this.#options = options;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(options: BrokerOptions = {}): Promise<Mosquitto> {
    const port = options.port ?? await freePort();
    const directory = await Deno.makeTempDir({ prefix: "merklekv-mosquitto-" });
    const broker = new Mosquitto(port, directory, options);
    const lines = options.configLines ?? defaultConfigLines(port, options);
    await Deno.writeTextFile(broker.configPath, lines.join("\n") + "\n");
    await broker.#launch();
    return broker;
  }

  async #launch(): Promise<void> {
    const wrap = this.#options.wrapCommand ?? ((program, args) => [program, args]);
    const [program, args] = wrap(mosquittoPath(), ["-c", this.configPath]);
    const command = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    const child = command.spawn();
    this.#child = child;
    this.#options.onLaunch?.(child, this);
    (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) this.#log.push(decoder.decode(chunk));
    })();
    let hasExited = false;
    const exited = child.status.then((status) => {
      hasExited = true;
      throw new Error(`mosquitto exited with ${status.code}:\n${this.log()}`);
    });
    await Promise.race([waitForPort(this.port, 10_000, () => hasExited), exited]);
  }

  log(): string {
    return this.#log.join("");
  }

  /** Stops the broker (SIGKILL models a crash; SIGTERM a clean stop). */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
  }

  /** Starts the broker again on the same port with the same config. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  async cleanup(): Promise<void> {
    await this.stop("SIGKILL");
    await Deno.remove(this.directory, { recursive: true }).catch(() => {});
  }
}
