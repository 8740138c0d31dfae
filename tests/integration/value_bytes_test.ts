/**
 * Values hold any byte but LF (see docs/protocol.md). Written by a client through SET,
 * APPEND, PREPEND and MSET, every value comes back equal: from the node, from its replica over
 * a real Mosquitto, after restarts (kill -9 and graceful, before and after a snapshot), and
 * from a node that joins by anti-entropy alone.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { waitUntil } from "../_support/ports.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import { writeLog } from "../persistence/support.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";

const REPAIR_SCRIPT = new URL("../../scripts/repair_log.ts", import.meta.url).pathname;

const CR = "\r";
const LF = 10;
const SEED = 0x5eed_c0de;

/** key -> the value it must hold. */
type Model = Map<string, string>;

/** A random value: any byte but LF, CR more often than the rest, optionally no space. */
function randomValue(random: SeededRandom, options: { spaces: boolean; minLength: number }) {
  const length = options.minLength + random.below(24);
  let value = "";
  while (value.length < length) {
    const byte = random.below(5) === 0 ? 13 : random.below(256);
    if (byte === LF || (!options.spaces && byte === 0x20)) continue;
    value += String.fromCharCode(byte);
  }
  return value;
}

/** Requests that write the model's values, with the reply each must get. */
function writes(random: SeededRandom, model: Model, count: number, tag: string) {
  const requests: { line: string; reply: RegExp }[] = [];
  const set = (key: string, value: string) => {
    requests.push({ line: `SET ${key} ${value}`, reply: /^OK$/ });
    model.set(key, value);
  };
  // Every byte value but LF in one value, and CR at every position of a 16-byte value.
  let everyByte = "";
  for (let byte = 0; byte < 256; byte++) if (byte !== LF) everyByte += String.fromCharCode(byte);
  set(`${tag}:every-byte`, everyByte);
  for (let position = 0; position < 16; position++) {
    const value = "abcdefghijklmnop".split("");
    value[position] = CR;
    set(`${tag}:cr-at-${position}`, value.join(""));
  }
  set(`${tag}:only-cr`, CR);
  set(`${tag}:two-cr`, CR + CR);
  for (let i = 0; i < count; i++) {
    const key = `${tag}:${random.below(count)}`;
    const value = randomValue(random, { spaces: true, minLength: 0 });
    const current = model.get(key) ?? "";
    switch (random.below(4)) {
      case 0:
        set(key, value);
        break;
      case 1:
        requests.push({ line: `APPEND ${key} ${value}`, reply: /^VALUE / });
        model.set(key, current + value);
        break;
      case 2:
        requests.push({ line: `PREPEND ${key} ${value}`, reply: /^VALUE / });
        model.set(key, value + current);
        break;
      default: {
        const second = `${key}:m`;
        const value0 = randomValue(random, { spaces: false, minLength: 1 });
        const value1 = randomValue(random, { spaces: false, minLength: 1 });
        requests.push({ line: `MSET ${key} ${value0} ${second} ${value1}`, reply: /^OK$/ });
        model.set(key, value0);
        model.set(second, value1);
      }
    }
  }
  return requests;
}

async function write(client: MerkleKVClient, requests: { line: string; reply: RegExp }[]) {
  for (let start = 0; start < requests.length; start += 200) {
    const batch = requests.slice(start, start + 200);
    const replies = await client.pipeline(batch.map((request) => request.line));
    for (const [index, request] of batch.entries()) {
      const line = replies[index]?.[0];
      assert.ok(line !== undefined, `a reply to ${JSON.stringify(request.line)}`);
      assert.match(line, request.reply, JSON.stringify(request.line));
    }
  }
}

/** Every key of the model reads back equal, by GET and by MGET. */
async function assertModel(client: MerkleKVClient, model: Model, where: string) {
  const keys = [...model.keys()];
  const replies = await client.pipeline(keys.map((key) => `GET ${key}`));
  const wrong = keys.filter((key, index) => replies[index]?.[0] !== "VALUE " + model.get(key));
  assert.deepEqual(
    wrong.slice(0, 3).map((key) => [key, model.get(key), replies[keys.indexOf(key)]?.[0]]),
    [],
    `${where}: ${wrong.length} of ${keys.length} values differ`,
  );
  const [mget] = await client.pipeline([`MGET ${keys.slice(0, 50).join(" ")}`]);
  const expected = keys.slice(0, 50).map((key) => `${key} ${model.get(key)}`);
  assert.deepEqual(mget?.slice(1, 51), expected, `${where}: MGET`);
}

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "merklekv-values-" });
}

Deno.test({
  name: "values with CR and every other byte but LF round-trip through protocol, log, " +
    "snapshot, restarts, replication and anti-entropy",
  async fn() {
    const random = new SeededRandom(SEED);
    const model: Model = new Map();
    const broker = await Mosquitto.start();
    const dir = await tempDir();
    const brokerLine = `mqtt_broker_address = "${broker.url}"`;
    const persistence = "[persistence]\nlog_rewrite_min_bytes = 200000\n" +
      "[anti_entropy]\ninterval_ms = 0\n";
    const nodes: NodeProcess[] = [];
    const clients: MerkleKVClient[] = [];
    try {
      const a = await NodeProcess.start({
        nodeId: "node-a",
        dataDir: dir,
        topLevel: `${brokerLine}\nfsync = "always"`,
        toml: persistence,
      });
      nodes.push(a);
      const b = await NodeProcess.start({
        nodeId: "node-b",
        topLevel: brokerLine,
        toml: persistence,
      });
      nodes.push(b);
      let clientA = await a.connect();
      const clientB = await b.connect();
      clients.push(clientA, clientB);
      for (const client of [clientA, clientB]) {
        await waitUntil(
          "the broker connected",
          async () => (await client.info()).get("replication_broker") === "connected",
          15_000,
        );
      }

      // Written through the protocol, read back; the replica gets them over MQTT.
      await write(clientA, writes(random, model, 300, "first"));
      await assertModel(clientA, model, "node A");
      await waitUntil(
        "equal HASH on A and B",
        async () => (await clientA.hash()) === (await clientB.hash()),
        10_000,
      );
      await assertModel(clientB, model, "node B (replication)");
      assert.equal((await clientA.info()).get("persistence_snapshots"), "0");

      // Restarts from the log alone: kill -9, then graceful.
      for (const stop of [() => a.kill(), () => a.stop("SIGTERM")]) {
        await clientA.close();
        await stop();
        await a.restart();
        clientA = await a.connect();
        clients[0] = clientA;
        await assertModel(clientA, model, "node A after a restart from the log");
      }

      // Enough writes for a snapshot, then restarts from the snapshot and the log after it.
      await write(clientA, writes(random, model, 6000, "second"));
      await waitUntil(
        "a snapshot",
        async () => Number((await clientA.info()).get("persistence_snapshots")) >= 1,
        30_000,
      );
      await write(clientA, writes(random, model, 100, "third"));
      for (const stop of [() => a.stop("SIGTERM"), () => a.kill()]) {
        await clientA.close();
        await stop();
        await a.restart();
        clientA = await a.connect();
        clients[0] = clientA;
        await assertModel(clientA, model, "node A after a restart from a snapshot");
      }
      await waitUntil(
        "equal HASH on A and B",
        async () => (await clientA.hash()) === (await clientB.hash()),
        10_000,
      );
      await assertModel(clientB, model, "node B (replication)");

      // A node with no broker gets everything by one anti-entropy session.
      const c = await NodeProcess.start({
        nodeId: "node-c",
        toml: `[anti_entropy]\ninterval_ms = 0\npeers = ["127.0.0.1:${a.port}"]\n`,
      });
      nodes.push(c);
      const clientC = await c.connect(30_000);
      clients.push(clientC);
      // A session repairs at most anti_entropy.max_keys_per_session keys: run until equal.
      await waitUntil("equal HASH on A and C", async () => {
        const [reply] = await clientC.request(`SYNC 127.0.0.1 ${a.port}`);
        assert.ok(reply !== undefined, "a reply to SYNC");
        assert.match(reply, /^OK .* refused=0 /, reply);
        return (await clientC.hash()) === (await clientA.hash());
      }, 20_000);
      await assertModel(clientC, model, "node C (anti-entropy)");
    } finally {
      await Promise.all(nodes.map((node) => node.cleanup()));
      await Promise.all(clients.map((client) => client.close().catch(() => {})));
      await broker.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a node keeps CR values an earlier version wrote, and stops on an entry it refuses " +
    "until repair_log.ts drops that entry alone",
  async fn() {
    const dir = await tempDir();
    const hlc = hlcFromMs(Date.now() - 1000);
    const entry = (key: string, value: string, tick: number): Entry => ({
      key,
      value,
      hlc: hlc + tick,
      node: "node-old",
      expiresAtMs: 0,
    });
    // Bytes as an earlier version left them: CR in values (the format is unchanged), and a
    // record whose checksum is intact but which holds a value no build accepts (LF).
    const { path } = await writeLog(dir, 1, [
      [entry("cr", "a\rb", 1), entry("cr-end", "x\r", 2)],
      [entry("before", "kept", 3), entry("evil", "line\nbreak", 4), entry("after", "kept", 5)],
    ]);
    let node: NodeProcess | null = null;
    try {
      await assert.rejects(NodeProcess.start({ dataDir: dir }), (error: Error) => {
        // The log line is JSON: the quotes around the key arrive escaped.
        assert.match(error.message, /key \\"evil\\": value contains LF/);
        assert.ok(error.message.includes(`scripts/repair_log.ts ${path}`), error.message);
        return true;
      });
      const repair = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", REPAIR_SCRIPT, path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const printed = new TextDecoder().decode(repair.stdout);
      assert.equal(repair.code, 0, new TextDecoder().decode(repair.stderr));
      assert.match(printed, /dropped record at offset \d+, entry 1: key "evil": value contains LF/);
      node = await NodeProcess.start({ dataDir: dir });
      const client = await node.connect();
      const replies = await client.pipeline(["cr", "cr-end", "before", "evil", "after"]
        .map((key) => `GET ${key}`));
      await client.close();
      assert.deepEqual(replies.map(([line]) => line), [
        "VALUE a\rb",
        "VALUE x\r",
        "VALUE kept",
        "NOT_FOUND",
        "VALUE kept",
      ]);
    } finally {
      await node?.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
