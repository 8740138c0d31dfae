/**
 * The Mosquitto ACL of docs/replication-security.md, with a real broker: each node's broker user
 * (named like the node) may publish only on its own `changes` and `nodes` topics, so a
 * node's credentials, stolen, cannot speak for another node.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import { encodeBatch } from "../../src/replication/codec.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { Cluster } from "../_support/replication_cluster.ts";
import { freePort, waitUntil } from "../_support/ports.ts";

/** The ACL file of docs/replication-security.md, for the default topic prefix. */
const NODE_ACL = [
  "# Every node may read every node's changes and announcements ...",
  "pattern read merklekv/changes/+",
  "pattern read merklekv/nodes/+",
  "# ... and write only its own: %u is the broker user name, the node's node_id.",
  "pattern write merklekv/changes/%u",
  "pattern write merklekv/nodes/%u",
].join("\n");

const PASSWORDS: Record<string, string> = { "node-a": "pass-a", "node-b": "pass-b" };

function findMosquittoPasswd(): string | null {
  for (const path of ["/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

const MOSQUITTO_PASSWD = findMosquittoPasswd();

async function startBroker(directory: string): Promise<Mosquitto> {
  const passwordFile = `${directory}/passwd`;
  for (const [index, [user, password]] of Object.entries(PASSWORDS).entries()) {
    const create = index === 0 ? ["-c"] : [];
    const output = await new Deno.Command(MOSQUITTO_PASSWD!, {
      args: ["-b", ...create, passwordFile, user, password],
    }).output();
    assert.ok(
      output.success,
      `mosquitto_passwd failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  await Deno.writeTextFile(`${directory}/acl`, NODE_ACL + "\n");
  // The broker may drop root privileges before reading these.
  for (const name of ["passwd", "acl"]) await Deno.chmod(`${directory}/${name}`, 0o644);
  await Deno.chmod(directory, 0o755);
  const port = await freePort();
  return await Mosquitto.start({
    port,
    listenerConfig: [
      `listener ${port} 127.0.0.1`,
      `password_file ${passwordFile}`,
      `acl_file ${directory}/acl`,
      "allow_anonymous false",
    ].join("\n"),
  });
}

function batch(origin: string, key: string): Uint8Array {
  return encodeBatch({
    origin,
    incarnation: 1,
    firstSequence: 1,
    entries: [{ key, value: "x", hlc: hlcFromMs(Date.now()), node: origin, expiresAtMs: 0 }],
  });
}

Deno.test({
  name: "the broker ACL lets each node's user publish on its own topics only",
  ignore: MOSQUITTO_PASSWD === null ? (console.log("mosquitto_passwd is missing"), true) : false,
  fn: async () => {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-acl-" });
    const broker = await startBroker(directory);
    let cluster: Cluster | null = null;
    try {
      cluster = await Cluster.start({
        size: 2,
        brokers: [broker],
        // Each node logs in as its own user: TOML read per node from the environment.
        toml: "[replication]\nreconnect_min_ms = 50",
        nodeEnv: (nodeId) => ({
          MERKLEKV_REPLICATION_USERNAME: nodeId,
          MERKLEKV_REPLICATION_PASSWORD: PASSWORDS[nodeId] ?? "",
        }),
      });
      const [a, b] = cluster.clients;
      assert.ok(a !== undefined && b !== undefined);
      await a.set("allowed", "a");
      await waitUntil("a's write on b", async () => (await b.get("allowed")) === "a", 5_000, 5);
      const bAddress = `127.0.0.1:${cluster.nodes[1]?.port}`;
      await waitUntil(
        "a to discover b",
        async () => (await a.info()).get("replication_peers") === bAddress,
        5_000,
        10,
      );

      // node-a's credentials in another client's hands: node-b's topics are refused.
      const stolen = await mqtt.connectAsync(broker.url, {
        username: "node-a",
        password: PASSWORDS["node-a"],
        reconnectPeriod: 0,
      });
      try {
        await stolen.publishAsync("merklekv/changes/node-b", Buffer.from(batch("node-b", "evil")), {
          qos: 1,
        });
        await stolen.publishAsync(
          "merklekv/nodes/node-b",
          '{"format":1,"node_id":"node-b","address":"127.0.0.1:1"}',
          { qos: 1, retain: true },
        );
        await stolen.publishAsync("merklekv/nodes/node-b", "", { qos: 1, retain: true });
        // The same connection on its own topic still gets through, after the refused ones.
        await stolen.publishAsync("merklekv/changes/node-a", Buffer.from(batch("node-a", "own")), {
          qos: 1,
        });
      } finally {
        await stolen.endAsync();
      }
      await waitUntil("own topic on b", async () => (await b.get("own")) === "x", 5_000, 5);
      assert.equal(await a.get("evil"), null);
      assert.equal((await a.info()).get("replication_peers"), bAddress);
    } finally {
      await cluster?.close();
      await broker.cleanup();
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    }
  },
});
