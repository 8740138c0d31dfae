/**
 * The files of deploy/ (docs/deployment.md) work as written: a real Mosquitto runs
 * deploy/mosquitto.conf with deploy/merklekv.acl (only the port and the file paths moved to
 * temporary ones), refuses anonymous clients and takes a node started from deploy/node-1.toml
 * with its broker user; every node TOML (compose's and systemd's) passes `--check`; promtool accepts deploy/alerts.yml
 * and passes its unit tests (deploy/alerts_test.yml).
 * `systemd-analyze verify` accepts deploy/merklekv.service. The Dockerfile and compose.yaml
 * are not run here, nor the unit under systemd (see docs/deployment.md).
 */

import assert from "node:assert/strict";
import mqtt from "mqtt";
import { connectAs } from "../_support/auth.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { freePort, waitUntil } from "../_support/ports.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url);
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
/** Each node TOML, with where it expects the clients' password file. */
const NODE_FILES: Record<string, string> = {
  "node.toml": "/run/credentials/merklekv.service/password", // deploy/merklekv.service
  "node-1.toml": "/run/secrets/merklekv_password", // deploy/compose.yaml
  "node-2.toml": "/run/secrets/merklekv_password",
  "node-3.toml": "/run/secrets/merklekv_password",
};
const CLUSTER_PASSWORD = "deploy-test-cluster-password";
const BROKER_PASSWORD = "deploy-test-broker-password";
const CONNECT_TIMEOUT_MS = 10_000;

function findProgram(name: string): string | null {
  for (const directory of ["/usr/bin", "/usr/local/bin", "/usr/sbin"]) {
    try {
      if (Deno.statSync(`${directory}/${name}`).isFile) return `${directory}/${name}`;
    } catch {
      // try the next one
    }
  }
  return null;
}

const MOSQUITTO_PASSWD = findProgram("mosquitto_passwd");
const PROMTOOL = findProgram("promtool");
const SYSTEMD_ANALYZE = findProgram("systemd-analyze");

async function readDeploy(file: string): Promise<string> {
  return await Deno.readTextFile(new URL(file, DEPLOY));
}

/** Replaces each `[written, replacement]` in a deploy/ file; each must be there exactly once. */
function substitute(text: string, file: string, moves: [string, string][]): string {
  for (const [written, replacement] of moves) {
    const count = text.split(written).length - 1;
    assert.equal(count, 1, `deploy/${file} should contain ${written} exactly once`);
    text = text.replace(written, replacement);
  }
  return text;
}

async function run(program: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(program, { args, env, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** deploy/mosquitto.conf on a free loopback port, its files and persistence in `directory`. */
async function startBroker(directory: string): Promise<Mosquitto> {
  const passwordFile = `${directory}/merklekv.passwd`;
  const created = await run(MOSQUITTO_PASSWD!, [
    "-b",
    "-c",
    passwordFile,
    "node-1",
    BROKER_PASSWORD,
  ]);
  assert.equal(created.code, 0, `mosquitto_passwd failed: ${created.stderr}`);
  await Deno.writeTextFile(`${directory}/merklekv.acl`, await readDeploy("merklekv.acl"));
  await Deno.mkdir(`${directory}/persistence`);
  // Mosquitto started as root drops to its own user before reading these.
  for (const name of ["merklekv.passwd", "merklekv.acl"]) {
    await Deno.chmod(`${directory}/${name}`, 0o644);
  }
  await Deno.chmod(`${directory}/persistence`, 0o777);
  await Deno.chmod(directory, 0o755);
  const port = await freePort();
  const config = substitute(await readDeploy("mosquitto.conf"), "mosquitto.conf", [
    ["listener 1883\n", `listener ${port} 127.0.0.1\n`],
    ["password_file /etc/mosquitto/merklekv.passwd", `password_file ${passwordFile}`],
    ["acl_file /etc/mosquitto/merklekv.acl", `acl_file ${directory}/merklekv.acl`],
    ["persistence_location /var/lib/mosquitto/", `persistence_location ${directory}/persistence/`],
  ]);
  return await Mosquitto.start({ port, configLines: config.split("\n") });
}

/** A deploy/ node TOML with its secret file and data directory moved into `directory`. */
async function nodeConfig(file: string, directory: string): Promise<string> {
  return substitute(await readDeploy(file), file, [
    [`"${NODE_FILES[file]}"`, `"${directory}/merklekv_password"`],
    ['data_dir = "/var/lib/merklekv"', `data_dir = "${directory}/data-${file}"`],
  ]);
}

/** Whether an MQTT client with these credentials is let in (CONNACK success) or refused. */
async function brokerAccepts(url: string, username?: string, password?: string): Promise<boolean> {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(username === undefined ? {} : { username, password }),
  });
  try {
    return await new Promise<boolean>((resolve) => {
      client.once("connect", () => resolve(true));
      client.once("error", () => resolve(false));
      client.once("close", () => resolve(false));
    });
  } finally {
    await client.endAsync(true);
  }
}

Deno.test({
  name: "deploy/mosquitto.conf refuses anonymous clients and takes deploy/node-1.toml's node",
  ignore: MOSQUITTO_PASSWD === null
    ? (console.log("mosquitto_passwd is missing: apt-get install -y mosquitto-clients"), true)
    : false,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-deploy-" });
    let broker: Mosquitto | null = null;
    let node: NodeProcess | null = null;
    try {
      broker = await startBroker(directory);
      assert.equal(await brokerAccepts(broker.url), false, "an anonymous client was let in");
      assert.equal(await brokerAccepts(broker.url, "node-1", "wrong"), false);
      assert.equal(await brokerAccepts(broker.url, "node-1", BROKER_PASSWORD), true);

      await Deno.writeTextFile(`${directory}/merklekv_password`, CLUSTER_PASSWORD + "\n");
      const [port, httpPort] = [await freePort(), await freePort()];
      const config = substitute(await nodeConfig("node-1.toml", directory), "node-1.toml", [
        [
          'bind_address = "0.0.0.0"\nbind_port = 7878',
          `bind_address = "127.0.0.1"\nbind_port = ${port}`,
        ],
        ['"mqtt://mosquitto:1883"', `"${broker.url}"`],
        ["port = 9878", `port = ${httpPort}`],
      ]);
      node = await NodeProcess.start({
        port,
        nodeId: "node-1",
        config,
        env: { MERKLEKV_REPLICATION_PASSWORD: BROKER_PASSWORD },
      });
      const client = await connectAs(node, null, CLUSTER_PASSWORD);
      try {
        await waitUntil(
          "node-1 connected to the broker",
          async () => (await client.info()).get("replication_broker") === "connected",
          CONNECT_TIMEOUT_MS,
        );
      } finally {
        await client.close();
      }
      assert.match(broker.log(), /New client connected .* as merklekv-node-1 \(.*u'node-1'\)/);
    } finally {
      await node?.cleanup();
      await broker?.cleanup();
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("every node TOML in deploy/ passes --check with its paths moved", async () => {
  const directory = await Deno.makeTempDir({ prefix: "merklekv-deploy-check-" });
  try {
    await Deno.writeTextFile(`${directory}/merklekv_password`, CLUSTER_PASSWORD + "\n");
    for (const file of Object.keys(NODE_FILES)) {
      const path = `${directory}/${file}`;
      await Deno.writeTextFile(path, await nodeConfig(file, directory));
      const checked = await run(
        Deno.execPath(),
        ["run", "--allow-all", MAIN, "--config", path, "--check"],
        {
          MERKLEKV_REPLICATION_PASSWORD: BROKER_PASSWORD,
          MERKLEKV_ANTI_ENTROPY_PASSWORD: CLUSTER_PASSWORD,
        },
      );
      assert.equal(checked.code, 0, `${file}: ${checked.stderr}`);
      const nodeId = file === "node.toml" ? "node-1" : file.replace(".toml", "");
      assert.match(checked.stdout, new RegExp(`^node_id = "${nodeId}"$`, "m"));
      assert.match(checked.stdout, new RegExp(`^username = "${nodeId}"$`, "m"));
    }
  } finally {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: "promtool accepts the alert rules of deploy/alerts.yml",
  ignore: PROMTOOL === null ? (console.log("promtool is missing"), true) : false,
  async fn() {
    const rules = new URL("alerts.yml", DEPLOY).pathname;
    const checked = await run(PROMTOOL!, ["check", "rules", rules]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /SUCCESS: 4 rules found/);
  },
});

Deno.test({
  name: "promtool's unit tests of deploy/alerts.yml pass: not converged fires after 10 intervals",
  ignore: PROMTOOL === null ? (console.log("promtool is missing"), true) : false,
  async fn() {
    const tests = new URL("alerts_test.yml", DEPLOY).pathname;
    const checked = await run(PROMTOOL!, ["test", "rules", tests]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /SUCCESS/);
  },
});

Deno.test({
  name: "systemd-analyze verify accepts deploy/merklekv.service with this checkout's Deno",
  ignore: SYSTEMD_ANALYZE === null ? (console.log("systemd-analyze is missing"), true) : false,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-deploy-unit-" });
    try {
      // verify wants ExecStart's program to exist; the unit names /opt/merklekv's.
      const unit = substitute(await readDeploy("merklekv.service"), "merklekv.service", [
        ["ExecStart=/opt/merklekv/node_modules/deno/deno ", `ExecStart=${Deno.execPath()} `],
      ]);
      await Deno.writeTextFile(`${directory}/merklekv.service`, unit);
      const verified = await run(SYSTEMD_ANALYZE!, ["verify", `${directory}/merklekv.service`]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.equal(verified.stderr.trim(), "", verified.stderr);
    } finally {
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    }
  },
});
