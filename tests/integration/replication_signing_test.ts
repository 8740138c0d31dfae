/**
 * Signed replication with real node processes and a real Mosquitto (see
 * docs/replication-security.md): nodes sharing a key replicate; batches and announcements a rogue
 * MQTT client forges are dropped, counted and change nothing; keys rotate without downtime;
 * accept_unsigned lets a cluster take keys in one node at a time; no key is ever printed.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import {
  decodeSignedAnnouncement,
  encodeBatch,
  encodeSignedAnnouncement,
  TAG_BYTES,
} from "../../src/replication/codec.ts";
import { keyIdOf, Signer } from "../../src/replication/signing.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import type { Entry } from "../../src/store/entry.ts";
import { ChangeObserver } from "../_support/change_observer.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { waitUntil } from "../_support/ports.ts";

const KEY_OLD = "3c1f0a8e5d7b9c2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e";
const KEY_NEW = "8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b";
const KEY_ROGUE = "a rogue key that no node has, 32 characters or longer";
const encoder = new TextEncoder();

interface TestNode {
  node: NodeProcess;
  client: MerkleKVClient;
}

/** Mosquitto, a directory for key files, and the nodes started in it; all closed at the end. */
class Setup {
  readonly nodes: TestNode[] = [];
  private constructor(readonly broker: Mosquitto, readonly directory: string) {}

  static async start(): Promise<Setup> {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-signing-" });
    return new Setup(await Mosquitto.start(), directory);
  }

  /** A key file (mode 600) holding these keys, the first signing. */
  async keyFile(name: string, keys: string[]): Promise<string> {
    const path = `${this.directory}/${name}`;
    await Deno.writeTextFile(path, `# merklekv signing keys\n${keys.join("\n")}\n`, {
      mode: 0o600,
    });
    return path;
  }

  async node(nodeId: string, replicationToml: string[]): Promise<TestNode> {
    const node = await NodeProcess.start({
      nodeId,
      topLevel: `mqtt_broker_address = "${this.broker.url}"`,
      toml: ["[anti_entropy]", "interval_ms = 0", "[replication]", ...replicationToml].join("\n"),
    });
    const client = await node.connect();
    this.nodes.push({ node, client });
    await waitUntil(
      `${nodeId} connected to the broker`,
      async () => (await client.info()).get("replication_broker") === "connected",
      15_000,
    );
    return { node, client };
  }

  logs(): string {
    return this.nodes.map(({ node }) => `--- ${node.nodeId}\n${node.stderr()}`).join("\n");
  }

  async close(): Promise<void> {
    for (const { node } of this.nodes) await node.cleanup();
    for (const { client } of this.nodes) await client.close().catch(() => {});
    await this.broker.cleanup();
    await Deno.remove(this.directory, { recursive: true }).catch(() => {});
  }
}

async function withSetup(body: (setup: Setup) => Promise<void>): Promise<void> {
  const setup = await Setup.start();
  try {
    await body(setup);
  } catch (error) {
    if (error instanceof Error) error.message += `\n${setup.logs()}`;
    throw error;
  } finally {
    await setup.close();
  }
}

function entry(key: string, value: string, node: string): Entry {
  return { key, value, hlc: hlcFromMs(Date.now()), node, expiresAtMs: 0 };
}

function signerOf(key: string): Signer {
  const secret = encoder.encode(key);
  return new Signer([{ id: keyIdOf(secret), secret }]);
}

async function infoField(client: MerkleKVClient, field: string): Promise<string> {
  return (await client.info()).get(field) ?? "";
}

async function waitForField(client: MerkleKVClient, field: string, atLeast: number) {
  await waitUntil(
    `${field} >= ${atLeast}`,
    async () => Number(await infoField(client, field)) >= atLeast,
    5_000,
    10,
  );
}

async function replicates(from: MerkleKVClient, to: MerkleKVClient, key: string) {
  await from.set(key, "v");
  await waitUntil(`${key} to replicate`, async () => (await to.get(key)) === "v", 5_000, 5);
}

/** Forged batches on `topic` for origin `origin`: no tag, wrong tags, another key's. */
async function forgedBatches(origin: string): Promise<Uint8Array[]> {
  const batch = (key: string) => ({
    origin,
    incarnation: 7,
    firstSequence: 1,
    entries: [entry(key, "forged", origin)],
  });
  const ourId = keyIdOf(encoder.encode(KEY_OLD));
  const unsigned = encodeBatch(batch("forged-unsigned"));
  const zeroTag = encodeBatch(batch("forged-zero-tag"), ourId);
  const rogue = signerOf(KEY_ROGUE);
  const rogueKey = encodeBatch(batch("forged-rogue-key"), rogue.keyId);
  await rogue.sign(rogueKey);
  const rogueUnderOurId = encodeBatch(batch("forged-rogue-tag"), ourId);
  await rogue.sign(rogueUnderOurId);
  // A real tag (as if captured from the broker) on altered bytes.
  const real = encodeBatch(batch("forged-replayed"), ourId);
  await signerOf(KEY_OLD).sign(real);
  const altered = encodeBatch(batch("forged-altered"), ourId);
  altered.set(real.subarray(real.length - TAG_BYTES), altered.length - TAG_BYTES);
  return [unsigned, zeroTag, rogueKey, rogueUnderOurId, altered];
}

/** main.ts with these arguments, to its exit. */
async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../../main.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const FORGED_KEYS = [
  "forged-unsigned",
  "forged-zero-tag",
  "forged-rogue-key",
  "forged-rogue-tag",
  "forged-altered",
];

Deno.test("two nodes sharing a key replicate; forged batches are dropped, counted and change nothing", async () => {
  await withSetup(async (setup) => {
    const keys = await setup.keyFile("cluster.keys", [KEY_OLD]);
    const a = await setup.node("node-a", [`signing_key_file = "${keys}"`]);
    const b = await setup.node("node-b", [`signing_key_file = "${keys}"`]);
    await replicates(a.client, b.client, "signed-a");
    await replicates(b.client, a.client, "signed-b");
    assert.equal(await infoField(b.client, "replication_signing"), "on");
    assert.equal(await infoField(b.client, "replication_accept_unsigned"), "no");

    const rogue = await ChangeObserver.start(setup.broker.url);
    try {
      const forged = await forgedBatches("node-a"); // impersonating node-a
      for (const payload of forged) await rogue.publish("merklekv/changes/node-a", payload);
      for (const payload of await forgedBatches("stranger")) {
        await rogue.publish("merklekv/changes/stranger", payload);
      }
      await waitForField(b.client, "replication_messages_unauthenticated", 2 * forged.length);
      await waitForField(a.client, "replication_messages_unauthenticated", forged.length);
      for (const { client } of [a, b]) {
        for (const key of FORGED_KEYS) assert.equal(await client.get(key), null, key);
      }
      assert.equal(await infoField(b.client, "replication_events_applied"), "1");
      assert.equal(await infoField(b.client, "replication_messages_malformed"), "0");
    } finally {
      await rogue.close();
    }
    await replicates(a.client, b.client, "still-replicating");
    assert.match(b.node.stderr(), /"event":"replication_message_unauthenticated"/);
    // Rate-limited: one warning per 10 s, the others at debug level.
    assert.equal(b.node.stderr().split('"replication_message_unauthenticated"').length, 2);
  });
});

Deno.test("keys rotate without downtime: a node signing with the new key and one with the old replicate", async () => {
  await withSetup(async (setup) => {
    // Step 2 of a rotation: A has moved the new key first, B still signs with the old one.
    const a = await setup.node("node-a", [
      `signing_key_file = "${await setup.keyFile("a.keys", [KEY_NEW, KEY_OLD])}"`,
    ]);
    const b = await setup.node("node-b", [
      `signing_key_file = "${await setup.keyFile("b.keys", [KEY_OLD, KEY_NEW])}"`,
    ]);
    await replicates(a.client, b.client, "from-new-key");
    await replicates(b.client, a.client, "from-old-key");
    assert.notEqual(
      await infoField(a.client, "replication_signing_key_id"),
      await infoField(b.client, "replication_signing_key_id"),
    );
    assert.equal(await infoField(a.client, "replication_signing_keys"), "2");
    assert.equal(await infoField(a.client, "replication_messages_unauthenticated"), "0");
    assert.equal(await infoField(b.client, "replication_messages_unauthenticated"), "0");
  });
});

Deno.test("accept_unsigned takes unsigned batches in, and a node without a key takes signed ones unverified", async () => {
  await withSetup(async (setup) => {
    // Step 1 of a rolling introduction: A has the key with accept_unsigned, B has none yet.
    const keys = await setup.keyFile("cluster.keys", [KEY_OLD]);
    const a = await setup.node("node-a", [
      `signing_key_file = "${keys}"`,
      "accept_unsigned = true",
    ]);
    const b = await setup.node("node-b", []);
    await replicates(b.client, a.client, "unsigned-from-b");
    await replicates(a.client, b.client, "signed-from-a");
    assert.equal(await infoField(a.client, "replication_accept_unsigned"), "yes");
    assert.equal(await infoField(b.client, "replication_signing"), "off");
    assert.ok(Number(await infoField(b.client, "replication_messages_unverified")) >= 1);
    assert.equal(await infoField(a.client, "replication_messages_unauthenticated"), "0");
  });
});

Deno.test("forged announcements and a forged empty retained message do not change discovery", async () => {
  await withSetup(async (setup) => {
    const keys = await setup.keyFile("cluster.keys", [KEY_OLD]);
    const a = await setup.node("node-a", [`signing_key_file = "${keys}"`]);
    const b = await setup.node("node-b", [`signing_key_file = "${keys}"`]);
    const bAddress = `127.0.0.1:${b.node.port}`;
    await waitUntil(
      "a to discover b",
      async () => (await infoField(a.client, "replication_peers")) === bAddress,
      5_000,
      10,
    );
    const rogue = await ChangeObserver.start(setup.broker.url);
    try {
      const attacker = "127.0.0.1:1";
      const rogueSigner = signerOf(KEY_ROGUE);
      const order = { epochMs: Date.now() + 3_600_000, connection: 1 };
      const signedByRogue = encodeSignedAnnouncement(
        { nodeId: "node-b", address: attacker, order },
        rogueSigner.keyId,
      );
      await rogueSigner.sign(signedByRogue);
      const rogueGone = encodeSignedAnnouncement(
        { nodeId: "node-b", address: null, order },
        keyIdOf(encoder.encode(KEY_OLD)),
      );
      await rogueSigner.sign(rogueGone);
      const forged = [
        encoder.encode(`{"format":1,"node_id":"node-b","address":"${attacker}"}`),
        signedByRogue,
        rogueGone,
        new Uint8Array(0),
      ];
      for (const payload of forged) await rogue.publish("merklekv/nodes/node-b", payload, true);
      await waitForField(a.client, "replication_messages_unauthenticated", forged.length);
      assert.equal(await infoField(a.client, "replication_peers"), bAddress);
      assert.ok(!a.node.stderr().includes('"replication_peer_gone"'));
    } finally {
      await rogue.close();
    }
    // B's own, signed "gone" (its clean stop) is honoured.
    await b.node.stop("SIGTERM");
    await waitUntil(
      "a to see b leave",
      () => Promise.resolve(a.node.stderr().includes('"event":"replication_peer_gone"')),
      5_000,
      10,
    );
  });
});

Deno.test("a killed node's signed will clears it; replayed after the node is back, it changes nothing", async () => {
  await withSetup(async (setup) => {
    const keys = await setup.keyFile("cluster.keys", [KEY_OLD]);
    const a = await setup.node("node-a", [`signing_key_file = "${keys}"`]);
    const b = await setup.node("node-b", [`signing_key_file = "${keys}"`]);
    const bAddress = `127.0.0.1:${b.node.port}`;
    const peersOfA = () => infoField(a.client, "replication_peers");
    await waitUntil("a to discover b", async () => (await peersOfA()) === bAddress, 5_000, 10);
    const listener = await mqtt.connectAsync(setup.broker.url, { reconnectPeriod: 0 });
    const seen: Uint8Array[] = [];
    listener.on("message", (_topic, payload) => seen.push(new Uint8Array(payload)));
    try {
      await listener.subscribeAsync("merklekv/nodes/node-b", { qos: 1 });
      await b.node.kill(); // the broker sees the socket close and publishes the will
      await waitUntil(
        "a to see b's will",
        () => Promise.resolve(a.node.stderr().includes('"event":"replication_peer_gone"')),
        5_000,
        10,
      );
      // The will is a signed "gone": format 2, address null.
      const isGone = (payload: Uint8Array) => {
        const decoded = decodeSignedAnnouncement(payload);
        return decoded.ok && decoded.announcement.address === null;
      };
      await waitUntil("the will", () => Promise.resolve(seen.some(isGone)), 5_000, 10);
      const will = seen.find(isGone);
      assert.ok(will !== undefined);
      await b.node.restart();
      const announcedB = '"event":"replication_peer_announced","node":"node-a","peer":"node-b"';
      await waitUntil(
        "a to see b announce itself again",
        () => Promise.resolve(a.node.stderr().split(announcedB).length === 3),
        10_000,
        10,
      );
      await listener.publishAsync("merklekv/nodes/node-b", Buffer.from(will), {
        qos: 1,
        retain: true,
      });
      await waitForField(a.client, "replication_announcements_stale", 1);
      assert.equal(await peersOfA(), bAddress);
    } finally {
      await listener.endAsync();
    }
  });
});

Deno.test("no key appears in INFO, --check, the logs or the error for a bad key file", async () => {
  await withSetup(async (setup) => {
    const keys = await setup.keyFile("cluster.keys", [KEY_OLD, KEY_NEW]);
    const a = await setup.node("node-a", [`signing_key_file = "${keys}"`]);
    const b = await setup.node("node-b", [`signing_key_file = "${keys}"`]);
    await replicates(a.client, b.client, "k");
    const info = (await a.client.request("INFO")).join("\n");
    const check = await runMain(["--config", a.node.configPath, "--check"]);
    assert.match(check.stdout, new RegExp(`signing_key_file = "${keys}"`));
    // A bad key file: the start fails naming the file and line, not the key.
    const bad = await setup.keyFile("bad.keys", [KEY_OLD, KEY_NEW.slice(0, 20)]);
    const config = `${setup.directory}/bad.toml`;
    await Deno.writeTextFile(
      config,
      `node_id = "node-c"\nbind_port = 0\nmqtt_broker_address = "${setup.broker.url}"\n` +
        `[replication]\nsigning_key_file = "${bad}"\n`,
    );
    const failed = await runMain(["--config", config]);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /bad\.keys\\?" line 3: a key needs at least 32 characters, got 20/);
    const everything = [info, check.stdout, setup.logs(), failed.stderr].join("\n");
    for (const key of [KEY_OLD, KEY_NEW, KEY_NEW.slice(0, 20)]) {
      assert.ok(!everything.includes(key), "a key was printed");
    }
  });
});
