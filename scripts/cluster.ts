/**
 * `deno task cluster`: a local MerkleKV cluster to try replication — one Mosquitto broker and
 * three nodes (ports 7878-7880) that find each other through the broker, each with its
 * operators' HTTP listener (/status, /metrics, /readyz: ports 9878-9880). Ctrl-C stops all.
 *
 *   deno task cluster [--nodes 3] [--base-port 7878] [--broker-port 1883] [--password <pw>]
 *                     [--tls-dir <dir>]
 *
 * With --password, every node requires `AUTH <pw>` (auth.password, the user default) and uses
 * it with its peers (anti_entropy.password); see docs/security.md. With --tls-dir, every node
 * serves TLS (and HTTPS) with the certificate in that directory and syncs with its peers over
 * TLS, trusting its ca.crt (docs/security.md, TLS, shows how to make the files).
 */

import * as net from "node:net";
import { parseArgs } from "node:util";
import { findMosquitto } from "../tests/_support/mosquitto.ts";
import { freePort } from "../tests/_support/ports.ts";
import { AUTH_WORD_RULE } from "../src/config/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 20_000;
/** A node's HTTP port is its client port plus this (7878 -> 9878). */
const HTTP_PORT_OFFSET = 2000;
const USAGE = `Usage: deno task cluster [options]

  --nodes <n>          nodes to start (default 3)
  --base-port <port>   client port of the first node; the others follow (default 7878);
                       each node's HTTP port (/status, /metrics, /readyz) is its client port + ${HTTP_PORT_OFFSET}
  --broker-port <port> Mosquitto port (default 1883 if free, else any free port)
  --password <pw>      nodes require AUTH <pw> (auth.password of the user default; the
                       nodes use it with each other too); 1..128 printable ASCII, no spaces
  --tls-dir <dir>      nodes speak TLS only, with <dir>/node.crt and <dir>/node.key (valid
                       for 127.0.0.1), trusting <dir>/ca.crt for each other
  --help               this text`;

interface Options {
  nodes: number;
  basePort: number;
  brokerPort: number | null;
  /** auth.password (and anti_entropy.password) of every node; null: no auth. */
  password: string | null;
  /** Holds ca.crt, node.crt and node.key: every node's [tls]; null: plain TCP. */
  tlsDir: string | null;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      nodes: { type: "string", default: "3" },
      "base-port": { type: "string", default: "7878" },
      "broker-port": { type: "string" },
      password: { type: "string" },
      "tls-dir": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const number = (name: string, text: string, min: number, max: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      console.error(`cluster: --${name} must be an integer in ${min}..${max}, got "${text}"`);
      Deno.exit(2);
    }
    return value;
  };
  const password = values.password ?? null;
  if (password !== null && !AUTH_WORD_RULE.test(password)) {
    console.error(`cluster: --password must be ${AUTH_WORD_RULE.expected}`);
    Deno.exit(2);
  }
  const tlsDir = values["tls-dir"] ?? null;
  for (const name of tlsDir === null ? [] : TLS_FILES) {
    if (!fileExists(`${tlsDir}/${name}`)) {
      console.error(`cluster: --tls-dir ${tlsDir} has no ${name} (see docs/security.md, TLS)`);
      Deno.exit(2);
    }
  }
  return {
    password,
    tlsDir,
    nodes: number("nodes", values.nodes, 1, 20),
    basePort: number("base-port", values["base-port"], 1, 65_535 - 20 - HTTP_PORT_OFFSET),
    brokerPort: values["broker-port"] === undefined
      ? null
      : number("broker-port", values["broker-port"], 1, 65_535),
  };
}

const TLS_FILES = ["ca.crt", "node.crt", "node.key"] as const;

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The [tls] section of every node: the files of --tls-dir, absolute. */
function tlsLines(tlsDir: string | null): string[] {
  if (tlsDir === null) return [];
  const file = (name: string) => JSON.stringify(`${Deno.realPathSync(tlsDir)}/${name}`);
  return [
    "",
    "# TLS only on the client port and the HTTP listener; peers are checked against ca_file.",
    "[tls]",
    `cert_file = ${file("node.crt")}`,
    `key_file = ${file("node.key")}`,
    `ca_file = ${file("ca.crt")}`,
  ];
}

/** Binds the port for a moment: true when nothing else holds it. */
function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function waitForPort(port: number, child: Deno.ChildProcess, what: string): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} exited during start-up`);
    if (!(await isPortFree(port))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not listen on port ${port} within ${START_TIMEOUT_MS} ms`);
}

async function startBroker(
  mosquitto: string,
  port: number,
  directory: string,
): Promise<Deno.ChildProcess> {
  const configPath = `${directory}/mosquitto.conf`;
  await Deno.writeTextFile(
    configPath,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "set_tcp_nodelay true",
      // The default (1000) silently drops QoS 1 messages for a slow subscriber.
      "max_queued_messages 1000000",
      "persistence false",
      "log_dest stderr",
    ].join("\n") + "\n",
  );
  const log = await Deno.open(`${directory}/mosquitto.log`, { write: true, create: true });
  const child = new Deno.Command(mosquitto, {
    args: ["-c", configPath],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  child.stderr.pipeTo(log.writable).catch(() => {});
  await waitForPort(port, child, "mosquitto");
  return child;
}

async function startNode(
  index: number,
  port: number,
  brokerPort: number,
  directory: string,
  options: Options,
): Promise<Deno.ChildProcess> {
  const { password, tlsDir } = options;
  const nodeId = `node-${index + 1}`;
  const configPath = `${directory}/${nodeId}.toml`;
  // A JSON string is a TOML basic string for printable ASCII (\" and \\ escaped alike).
  const auth = password === null ? [] : ["", "[auth]", `password = ${JSON.stringify(password)}`];
  // Owner only: the file holds the password (the node warns about one others may read).
  await Deno.writeTextFile(configPath, "", { mode: 0o600 });
  await Deno.writeTextFile(
    configPath,
    [
      `node_id = "${nodeId}"`,
      `bind_address = "127.0.0.1"`,
      `bind_port = ${port}`,
      `mqtt_broker_address = "mqtt://127.0.0.1:${brokerPort}"`,
      "",
      "# Peers for anti-entropy are the nodes announced on the broker.",
      "[anti_entropy]",
      "interval_ms = 5000",
      ...(password === null ? [] : [`password = ${JSON.stringify(password)}`]),
      ...auth,
      "",
      "# The operators' listener: /status, /metrics, /livez, /readyz, /health.",
      "[http]",
      `port = ${port + HTTP_PORT_OFFSET}`,
      ...tlsLines(tlsDir),
    ].join("\n") + "\n",
  );
  const log = await Deno.open(`${directory}/${nodeId}.log`, { write: true, create: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--config", configPath],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  child.stderr.pipeTo(log.writable).catch(() => {});
  await waitForPort(port, child, nodeId);
  return child;
}

async function stopAll(children: Deno.ChildProcess[]): Promise<void> {
  // Nodes first (they clear their announcements), the broker last.
  for (const child of [...children].reverse()) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  const mosquitto = findMosquitto();
  if (mosquitto === null) {
    console.error("cluster: Mosquitto is not installed. Install it with:");
    console.error("  apt-get install -y mosquitto");
    Deno.exit(1);
  }
  const ports = Array.from({ length: options.nodes }, (_, index) => options.basePort + index);
  for (const port of ports.flatMap((port) => [port, port + HTTP_PORT_OFFSET])) {
    if (!(await isPortFree(port))) {
      console.error(`cluster: port ${port} is in use; pick others with --base-port <port>`);
      Deno.exit(1);
    }
  }
  let brokerPort = options.brokerPort ?? 1883;
  if (!(await isPortFree(brokerPort))) {
    if (options.brokerPort !== null) {
      console.error(`cluster: broker port ${brokerPort} is in use`);
      Deno.exit(1);
    }
    brokerPort = await freePort();
  }
  const directory = await Deno.makeTempDir({ prefix: "merklekv-cluster-" });
  const children: Deno.ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping the cluster...");
    await stopAll(children);
    console.log(`Stopped. Logs kept in ${directory}`);
    Deno.exit(code);
  };
  Deno.addSignalListener("SIGINT", () => stop(0));
  Deno.addSignalListener("SIGTERM", () => stop(0));
  try {
    children.push(await startBroker(mosquitto, brokerPort, directory));
    for (const [index, port] of ports.entries()) {
      children.push(await startNode(index, port, brokerPort, directory, options));
    }
  } catch (error) {
    console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`cluster: logs in ${directory}`);
    await stop(1);
    return;
  }
  printWelcome(ports, brokerPort, directory, options);
}

/** `text` quoted for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function printWelcome(
  ports: number[],
  brokerPort: number,
  directory: string,
  options: Options,
): void {
  const { password, tlsDir } = options;
  console.log(
    `MerkleKV cluster running: ${ports.length} nodes, Mosquitto on 127.0.0.1:${brokerPort}`,
  );
  for (const [index, port] of ports.entries()) {
    const http = `${tlsDir === null ? "http" : "https"}://127.0.0.1:${port + HTTP_PORT_OFFSET}`;
    const urls = [`${http}/status`, `${http}/metrics`, `${http}/readyz?verbose`].join("  ");
    console.log(`  node-${index + 1}  127.0.0.1:${port}   ${urls}`);
  }
  const [first, second] = [ports[0], ports[1] ?? ports[0]];
  if (tlsDir !== null) {
    const ca = shellQuote(`${tlsDir}/ca.crt`);
    console.log(`
Every node speaks TLS only${password === null ? "" : " and requires AUTH (the user default)"}:
${password === null ? "" : `  export MERKLEKV_PASSWORD=${shellQuote(password)}\n`}\
  deno task cli -p ${first} --cacert ${ca} SET greeting hello
  deno task cli -p ${second} --cacert ${ca} GET greeting
  openssl s_client -quiet -CAfile ${ca} -connect 127.0.0.1:${first}   (a line client over TLS)
  curl --cacert ${ca} https://127.0.0.1:${(first ?? 0) + HTTP_PORT_OFFSET}/readyz?verbose
Logs: ${directory}
Ctrl-C stops everything.`);
    return;
  }
  if (password !== null) {
    console.log(`
Every node requires AUTH (the user default). With the CLI, the password in the environment:
  export MERKLEKV_PASSWORD=${shellQuote(password)}
  deno task cli -p ${first} SET greeting hello
  deno task cli -p ${second} GET greeting
From code: MerkleKVClient.connect({ port: ${first}, password: Deno.env.get("MERKLEKV_PASSWORD") })
With a line client, send AUTH first:
  nc 127.0.0.1 ${first}        then type: AUTH <password>, then: SET greeting hello
Watch the changes on the broker:
  mosquitto_sub -p ${brokerPort} -t 'merklekv/#' -v
Logs: ${directory}
Ctrl-C stops everything.`);
    return;
  }
  console.log(`
Talk to any node with a line client (nc, telnet, socat), e.g.:
  nc 127.0.0.1 ${first}        then type: SET greeting hello
  nc 127.0.0.1 ${second}        then type: GET greeting
  printf 'INFO\\r\\n' | nc -q1 127.0.0.1 ${first}   (replication_* fields: broker, peers, lag)
Watch the changes on the broker:
  mosquitto_sub -p ${brokerPort} -t 'merklekv/#' -v
Logs: ${directory}
Ctrl-C stops everything.`);
}

if (import.meta.main) await main();
