/**
 * The two-node example of the README (examples/mosquitto.conf, node-a.toml, node-b.toml) runs
 * as written: a real Mosquitto with the example's broker config and two nodes with the example
 * TOMLs, where only the ports, the data directories and the broker address are moved (to free
 * ports and a temporary directory). A write on either node is read on the other.
 */

import assert from "node:assert/strict";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { freePort, waitUntil } from "../_support/ports.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url);
const REPLICATION_TIMEOUT_MS = 10_000;

/** Replaces the one occurrence of `written` in an example file; fails if it is not there once. */
function substitute(text: string, written: string, replacement: string, file: string): string {
  const count = text.split(written).length - 1;
  assert.equal(count, 1, `examples/${file} should contain ${written} exactly once`);
  return text.replace(written, replacement);
}

async function readExample(file: string): Promise<string> {
  return await Deno.readTextFile(new URL(file, EXAMPLES));
}

interface Ports {
  broker: number;
  a: number;
  b: number;
}

async function distinctFreePorts(): Promise<Ports> {
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [broker, a, b] = [...ports] as [number, number, number];
  return { broker, a, b };
}

/** An example node's TOML with its port, peer, data directory and broker moved. */
async function nodeConfig(
  file: string,
  moves: { port: [number, number]; peer: [number, number]; dataDir: [string, string] },
  brokerUrl: string,
): Promise<string> {
  let text = await readExample(file);
  text = substitute(text, `bind_port = ${moves.port[0]}`, `bind_port = ${moves.port[1]}`, file);
  text = substitute(
    text,
    `"127.0.0.1:${moves.peer[0]}"`,
    `"127.0.0.1:${moves.peer[1]}"`,
    file,
  );
  text = substitute(
    text,
    `data_dir = "${moves.dataDir[0]}"`,
    `data_dir = "${moves.dataDir[1]}"`,
    file,
  );
  text = substitute(
    text,
    'mqtt_broker_address = "mqtt://127.0.0.1:1883"',
    `mqtt_broker_address = "${brokerUrl}"`,
    file,
  );
  return text;
}

async function startBroker(port: number): Promise<Mosquitto> {
  const written = await readExample("mosquitto.conf");
  const config = substitute(
    written,
    "listener 1883 127.0.0.1",
    `listener ${port} 127.0.0.1`,
    "mosquitto.conf",
  );
  return await Mosquitto.start({ port, configLines: config.split("\n") });
}

async function readsOn(node: NodeProcess, key: string, value: string): Promise<void> {
  const client = await node.connect();
  try {
    await waitUntil(
      `${key} = ${value} on ${node.nodeId}`,
      async () => (await client.get(key)) === value,
      REPLICATION_TIMEOUT_MS,
    );
  } finally {
    await client.close();
  }
}

async function writeOn(node: NodeProcess, key: string, value: string): Promise<void> {
  const client = await node.connect();
  try {
    await client.set(key, value);
  } finally {
    await client.close();
  }
}

Deno.test("the two-node example replicates a write on either node to the other", async () => {
  const directory = await Deno.makeTempDir({ prefix: "merklekv-examples-" });
  const ports = await distinctFreePorts();
  const started: NodeProcess[] = [];
  let broker: Mosquitto | null = null;
  try {
    broker = await startBroker(ports.broker);
    const configA = await nodeConfig("node-a.toml", {
      port: [7878, ports.a],
      peer: [7879, ports.b],
      dataDir: ["./data-a", `${directory}/data-a`],
    }, broker.url);
    const configB = await nodeConfig("node-b.toml", {
      port: [7879, ports.b],
      peer: [7878, ports.a],
      dataDir: ["./data-b", `${directory}/data-b`],
    }, broker.url);
    const nodeA = await NodeProcess.start({ port: ports.a, nodeId: "node-a", config: configA });
    started.push(nodeA);
    const nodeB = await NodeProcess.start({ port: ports.b, nodeId: "node-b", config: configB });
    started.push(nodeB);

    await writeOn(nodeA, "city", "paris");
    await readsOn(nodeB, "city", "paris");
    await writeOn(nodeB, "greeting", "hello from b");
    await readsOn(nodeA, "greeting", "hello from b");

    const client = await nodeB.connect();
    try {
      const info = await client.info();
      assert.equal(info.get("node_id"), "node-b");
      assert.equal(info.get("replication_broker"), "connected");
      assert.equal(info.get("persistence"), "on");
    } finally {
      await client.close();
    }
  } finally {
    for (const node of started) await node.cleanup();
    await broker?.cleanup();
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  }
});
