/**
 * Large values with every byte but LF, written pipelined so that lines straddle received chunks
 * and keys are overwritten while their earlier changes still wait for the log and the broker,
 * come back equal from the node, from its replica over a real Mosquitto and after restarts from
 * the log; on a node with a password too (its SET path checks the user first). The lengths
 * cross the value heap's cell sizes and its largest value (values past it stay strings).
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { waitUntil } from "../_support/ports.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const LF = 10;
const SEED = 0x16_b17e5;
const PASSWORD = "large-values-pw";
/** Around the heap's cell sizes (4,096 and 16,384 among them) and its largest value (32,764). */
const LENGTHS = [0, 1, 255, 4095, 4096, 16_383, 16_384, 16_385, 32_763, 32_764, 32_765, 70_000];

/** key -> the value it must hold. */
type Model = Map<string, string>;

/** `length` bytes: every byte but LF, in order from a random start, then CR and NUL often. */
function largeValue(random: SeededRandom, length: number): string {
  let value = "";
  let byte = random.below(256);
  while (value.length < length) {
    const roll = random.below(8);
    const next = roll === 0 ? 13 : roll === 1 ? 0 : byte++ & 0xff;
    if (next !== LF) value += String.fromCharCode(next);
  }
  return value;
}

/** SET lines for `count` writes over `keys` keys (so most overwrite), applied to the model. */
function sets(random: SeededRandom, model: Model, tag: string, count: number, keys: number) {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${tag}:${random.below(keys)}`;
    const value = largeValue(random, LENGTHS[random.below(LENGTHS.length)]!);
    lines.push(`SET ${key} ${value}`);
    model.set(key, value);
  }
  return lines;
}

async function write(client: MerkleKVClient, lines: string[]) {
  for (let start = 0; start < lines.length; start += 100) {
    const replies = await client.pipeline(lines.slice(start, start + 100));
    assert.deepEqual(replies.map(([line]) => line), replies.map(() => "OK"));
  }
}

/** Every key of the model reads back equal. */
async function assertModel(client: MerkleKVClient, model: Model, where: string) {
  const keys = [...model.keys()];
  const replies = await client.pipeline(keys.map((key) => `GET ${key}`));
  const wrong = keys.filter((key, index) => replies[index]?.[0] !== "VALUE " + model.get(key));
  assert.deepEqual(
    wrong.slice(0, 3).map((key) => [key, model.get(key)?.length]),
    [],
    `${where}: ${wrong.length} of ${keys.length} values differ`,
  );
}

async function authenticated(node: NodeProcess): Promise<MerkleKVClient> {
  const client = await node.connect();
  assert.deepEqual(await client.request(`AUTH ${PASSWORD}`), ["OK"]);
  return client;
}

Deno.test({
  name: "large values with every byte but LF, SET pipelined, round-trip through the log, " +
    "restarts and replication, with and without a password",
  async fn() {
    const random = new SeededRandom(SEED);
    const model: Model = new Map();
    const broker = await Mosquitto.start();
    const dir = await Deno.makeTempDir({ prefix: "merklekv-large-values-" });
    const brokerLine = `mqtt_broker_address = "${broker.url}"`;
    const nodes: NodeProcess[] = [];
    const clients: MerkleKVClient[] = [];
    try {
      const a = await NodeProcess.start({ nodeId: "node-a", dataDir: dir, topLevel: brokerLine });
      nodes.push(a);
      const b = await NodeProcess.start({
        nodeId: "node-b",
        topLevel: brokerLine,
        toml: `[auth]\npassword = "${PASSWORD}"\n`,
      });
      nodes.push(b);
      let clientA = await a.connect();
      const clientB = await authenticated(b);
      clients.push(clientA, clientB);
      for (const client of [clientA, clientB]) {
        await waitUntil(
          "the broker connected",
          async () => (await client.info()).get("replication_broker") === "connected",
          15_000,
        );
      }

      const open: Model = new Map();
      const checked: Model = new Map();
      await write(clientA, sets(random, open, "open", 300, 60));
      await write(clientB, sets(random, checked, "checked", 200, 40));
      await assertModel(clientA, open, "node A");
      await assertModel(clientB, checked, "node B");
      for (const written of [open, checked]) {
        for (const [key, value] of written) model.set(key, value);
      }
      await waitUntil(
        "equal HASH on A and B",
        async () => (await clientA.hash()) === (await clientB.hash()),
        15_000,
      );
      await assertModel(clientA, model, "node A (replication from B)");
      await assertModel(clientB, model, "node B (replication from A)");

      for (const stop of [() => a.kill(), () => a.stop("SIGTERM")]) {
        await clientA.close();
        await stop();
        await a.restart();
        clientA = await a.connect();
        clients[0] = clientA;
        await assertModel(clientA, model, "node A after a restart from the log");
      }
    } finally {
      await Promise.all(nodes.map((node) => node.cleanup()));
      await Promise.all(clients.map((client) => client.close().catch(() => {})));
      await broker.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
