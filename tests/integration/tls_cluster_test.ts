/**
 * Anti-entropy over TLS (see docs/security.md, TLS): nodes that serve mutual TLS and require
 * AUTH converge through anti-entropy and MQTT; a peer with wrong credentials, an untrusted
 * certificate or no TLS fails its sessions, and its log says why.
 */

import assert from "node:assert/strict";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { freePort, waitUntil } from "../_support/ports.ts";
import { reply, UsersFile, WRONGPASS } from "../_support/auth.ts";
import {
  type KeyPair,
  makeTestPki,
  opensslUnavailableReason,
  type TestPki,
  tlsSection,
} from "../_support/tls.ts";

const opensslUnavailable = opensslUnavailableReason();
const skip = opensslUnavailable === null ? "" : ` (skipped: ${opensslUnavailable})`;
const INTERVAL_MS = 300;
const CONVERGE_MS = 2 * INTERVAL_MS + 8_000;
const USERS = "user admin on >ap ~* +@all\nuser peer on >peerpw +@sync\n";

/** A node's config: mutual TLS with `pair`, users, and anti-entropy to `peers`. */
function nodeToml(
  pki: TestPki,
  users: UsersFile,
  options: { pair: KeyPair; caFile?: string; peers: number[]; password?: string },
): string {
  const peers = options.peers.map((port) => `"127.0.0.1:${port}"`).join(", ");
  return [
    `[auth]\nusers_file = "${users.path}"`,
    `[anti_entropy]\ninterval_ms = ${INTERVAL_MS}\njitter_ms = 0\npeers = [${peers}]`,
    `username = "peer"\npassword = "${options.password ?? "peerpw"}"`,
    tlsSection(
      options.pair,
      `ca_file = "${options.caFile ?? pki.caFile}"`,
      "require_client_cert = true",
    ),
  ].join("\n");
}

/** An admin client of a node with mutual TLS. */
async function admin(node: NodeProcess, pki: TestPki): Promise<MerkleKVClient> {
  const read = (path: string) => Deno.readTextFileSync(path);
  return await MerkleKVClient.connect({
    port: node.port,
    username: "admin",
    password: "ap",
    tls: {
      ca: read(pki.caFile),
      cert: read(pki.client.certFile),
      key: read(pki.client.keyFile),
    },
  });
}

function clusterTest(name: string, fn: (pki: TestPki, users: UsersFile) => Promise<void>) {
  Deno.test({
    name: name + skip,
    ignore: opensslUnavailable !== null,
    fn: async () => {
      const directory = await Deno.makeTempDir({ prefix: "merklekv-tls-cluster-" });
      const users = await UsersFile.create(USERS);
      try {
        await fn(await makeTestPki(directory), users);
      } finally {
        await users.remove();
        await Deno.remove(directory, { recursive: true });
      }
    },
  });
}

clusterTest("nodes with mutual TLS and users converge through anti-entropy and MQTT", async (
  pki,
  users,
) => {
  const broker = await Mosquitto.start();
  const [portA, portB] = [await freePort(), await freePort()];
  const topLevel = `mqtt_broker_address = "${broker.url}"`;
  const nodes: NodeProcess[] = [];
  const clients: MerkleKVClient[] = [];
  try {
    const toml = (peers: number[]) => nodeToml(pki, users, { pair: pki.server, peers });
    nodes.push(await NodeProcess.start({ port: portA, topLevel, toml: toml([portB]) }));
    const a = await admin(nodes[0] as NodeProcess, pki);
    clients.push(a);
    // Written before b exists: only anti-entropy can bring it there.
    assert.equal(await reply(a, "SET before:b 1"), "OK");
    nodes.push(await NodeProcess.start({ port: portB, topLevel, toml: toml([portA]) }));
    const b = await admin(nodes[1] as NodeProcess, pki);
    clients.push(b);
    await waitUntil("anti-entropy brings the old key to b", async () => {
      return (await reply(b, "GET before:b")) === "VALUE 1";
    }, CONVERGE_MS);
    assert.equal(await reply(b, "SET from:b 2"), "OK");
    await waitUntil("the new key reaches a", async () => {
      return (await reply(a, "GET from:b")) === "VALUE 2";
    }, CONVERGE_MS);
    await waitUntil("a and b agree", async () => {
      return (await reply(a, "HASH")) === (await reply(b, "HASH"));
    }, CONVERGE_MS);
    // a tried b before b listened; b, started after a, never failed a session.
    assert.doesNotMatch((nodes[1] as NodeProcess).stderr(), /"event":"sync_failed"/);
    for (const line of (nodes[0] as NodeProcess).stderr().split("\n")) {
      if (line.includes('"event":"sync_failed"')) assert.match(line, /ECONNREFUSED/);
    }
  } finally {
    for (const client of clients) await client.close();
    for (const node of nodes) await node.cleanup();
    await broker.cleanup();
  }
});

clusterTest(
  "a peer with wrong credentials, an untrusted certificate or no TLS fails and says why",
  async (
    pki,
    users,
  ) => {
    const portA = await freePort();
    const nodes: NodeProcess[] = [];
    try {
      nodes.push(
        await NodeProcess.start({
          port: portA,
          toml: nodeToml(pki, users, { pair: pki.server, peers: [] }),
        }),
      );
      const start = async (options: Parameters<typeof nodeToml>[2]) => {
        const node = await NodeProcess.start({ toml: nodeToml(pki, users, options) });
        nodes.push(node);
        return node;
      };
      const wrongPassword = await start({ pair: pki.server, peers: [portA], password: "wrong-pw" });
      // Its certificate is signed by a CA that a does not trust: a refuses it in the handshake.
      const untrustedCert = await start({ pair: pki.untrustedServer, peers: [portA] });
      // It does not trust a's CA: it refuses a's certificate.
      const untrustingCa = await start({
        pair: pki.server,
        caFile: pki.untrustedCaFile,
        peers: [portA],
      });
      const plainPeer = await NodeProcess.start({});
      nodes.push(plainPeer);
      const toPlain = await start({ pair: pki.server, peers: [plainPeer.port] });
      const failed = (node: NodeProcess, reason: RegExp) =>
        waitUntil(`a failed session logged with ${reason}`, () => {
          return node.stderr().split("\n").some((line) =>
            line.includes('"event":"sync_failed"') && reason.test(line)
          );
        }, CONVERGE_MS);
      await failed(wrongPassword, new RegExp(`the peer refused AUTH as peer: ${WRONGPASS}`));
      await failed(untrustedCert, /may have refused this client's TLS certificate/);
      await failed(untrustingCa, /failed: self-signed certificate in certificate chain/);
      await failed(toPlain, /failed: .*wrong version number/);
      for (const node of nodes) assert.ok(!node.stderr().includes("wrong-pw"));
    } finally {
      for (const node of nodes) await node.cleanup();
    }
  },
);
