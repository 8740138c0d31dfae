/**
 * The conflict log of record mode on a node over TCP: CONFLICTS and CONFLICTS CLEAR, the
 * refusal in lww mode, INFO, key globs, and the log read back from data_dir after a restart.
 * Records enter through the store's conflict hook, the one merges call (see start_node.ts).
 */

import assert from "node:assert/strict";
import { MerkleKVClient } from "../../src/client/mod.ts";
import type { Config } from "../../src/config/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import { silentLogger } from "../../src/log.ts";
import { type NodeHandle, startNode } from "../../src/node/start_node.ts";
import { UsersFile } from "../_support/auth.ts";

const WINNER = { node: "node-b", hlc: 1_800_000_000_000 * 1024 };
const LOSER = { node: "node-a", hlc: 1_800_000_000_000 * 1024 - 5 };

function configOf(overrides: Partial<Config>): Config {
  const defaults = structuredClone(DEFAULT_CONFIG);
  return {
    ...defaults,
    nodeId: "node-b",
    bindPort: 0,
    conflicts: { mode: "record", logMaxEntries: 100 },
    ...overrides,
  };
}

async function withNode(
  overrides: Partial<Config>,
  test: (node: NodeHandle, client: MerkleKVClient) => Promise<void>,
): Promise<void> {
  const node = await startNode(configOf(overrides), silentLogger);
  const client = await MerkleKVClient.connect({ port: node.port, timeoutMs: 5_000 });
  try {
    await test(node, client);
  } finally {
    await client.close();
    await node.close();
  }
}

function detect(node: NodeHandle, key: string, winner = WINNER, loser = LOSER): void {
  const hook = node.core.store.onConflict;
  assert.ok(hook !== null, "record mode sets the store's conflict hook");
  hook(key, winner, loser);
}

Deno.test("in lww mode CONFLICTS is an error that names the mode, and the store has no hook", async () => {
  await withNode({ conflicts: { mode: "lww", logMaxEntries: 100 } }, async (node, client) => {
    const expected =
      "ERROR conflicts are not recorded: conflicts.mode is lww (set it to record on every node)";
    assert.deepEqual(await client.request("CONFLICTS"), [expected]);
    assert.deepEqual(await client.request("CONFLICTS CLEAR"), [expected]);
    assert.equal(node.core.store.onConflict, null);
    const info = await client.info();
    assert.equal(info.get("conflicts_mode"), "lww");
    assert.equal(info.get("conflict_log_entries"), "0");
  });
});

Deno.test("CONFLICTS lists detected pairs newest first, once each, and CLEAR empties the list", async () => {
  await withNode({}, async (node, client) => {
    assert.deepEqual(await client.request("CONFLICTS"), ["CONFLICTS 0"]);
    const before = Date.now();
    detect(node, "k1");
    detect(node, "k2");
    detect(node, "k1");
    const lines = await client.request("CONFLICTS");
    assert.equal(lines[0], "CONFLICTS 2");
    const [key, winner, loser, detectedAt] = lines[1]!.split(" ");
    assert.deepEqual([key, winner, loser], ["k2", `node-b@${WINNER.hlc}`, `node-a@${LOSER.hlc}`]);
    assert.ok(Number(detectedAt) >= before && Number(detectedAt) <= Date.now(), `${detectedAt}`);
    assert.match(lines[2]!, /^k1 /);
    assert.deepEqual((await client.request("conflicts 1")).length, 2);
    assert.equal((await client.info()).get("conflict_log_entries"), "2");
    assert.deepEqual(await client.request("CONFLICTS clear"), ["OK"]);
    assert.deepEqual(await client.request("CONFLICTS"), ["CONFLICTS 0"]);
  });
});

Deno.test("CONFLICTS takes a count of 1..1000 and nothing else", async () => {
  await withNode({}, async (_node, client) => {
    for (const bad of ["0", "1001", "-1", "x", "1.5"]) {
      const [line] = await client.request(`CONFLICTS ${bad}`);
      assert.equal(line, `ERROR CONFLICTS count must be 1..1000 or CLEAR, got "${bad}"`);
    }
    assert.deepEqual(await client.request("CONFLICTS 1000"), ["CONFLICTS 0"]);
    const [tooMany] = await client.request("CONFLICTS 1 2");
    assert.match(tooMany ?? "", /^ERROR wrong number of arguments/);
  });
});

Deno.test("a live log_max_entries trims the conflict log to the newest records", async () => {
  await withNode({}, async (node, client) => {
    for (let i = 0; i < 10; i++) detect(node, `k${i}`);
    assert.deepEqual(await client.request("CONFIG SET conflicts.log_max_entries 3"), ["OK"]);
    const lines = await client.request("CONFLICTS");
    assert.deepEqual(lines.map((line) => line.split(" ")[0]), ["CONFLICTS", "k9", "k8", "k7"]);
  });
});

Deno.test("the conflict log survives a restart with data_dir", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-conflicts-" });
  try {
    let listed: string[] = [];
    await withNode({ dataDir }, async (node, client) => {
      detect(node, "k1");
      detect(node, "k2");
      listed = await client.request("CONFLICTS");
    });
    await withNode({ dataDir }, async (node, client) => {
      assert.deepEqual(await client.request("CONFLICTS"), listed);
      // Detected again after the restart: still held once.
      detect(node, "k1");
      assert.equal((await client.request("CONFLICTS"))[0], "CONFLICTS 2");
      assert.deepEqual(await client.request("CONFLICTS CLEAR"), ["OK"]);
    });
    await withNode({ dataDir }, async (_node, client) => {
      assert.deepEqual(await client.request("CONFLICTS"), ["CONFLICTS 0"]);
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("CONFLICTS lists only the keys a user's globs allow; CLEAR needs admin", async () => {
  const users = await UsersFile.create(
    "user default off\nuser app on >app-pw ~app:* +@read\nuser root on >root-pw ~* +@all\n",
  );
  try {
    const auth = { ...DEFAULT_CONFIG.auth, usersFile: users.path };
    await withNode({ auth }, async (node, client) => {
      detect(node, "app:1");
      detect(node, "other:1");
      detect(node, "app:2");
      assert.deepEqual(await client.request("AUTH app app-pw"), ["OK"]);
      const lines = await client.request("CONFLICTS");
      assert.deepEqual(lines.map((line) => line.split(" ")[0]), ["CONFLICTS", "app:2", "app:1"]);
      const [refused] = await client.request("CONFLICTS CLEAR");
      assert.match(refused ?? "", /^ERROR NOPERM user app has no permissions to run/);
      assert.deepEqual(await client.request("AUTH root root-pw"), ["OK"]);
      assert.equal((await client.request("CONFLICTS"))[0], "CONFLICTS 3");
      assert.deepEqual(await client.request("CONFLICTS CLEAR"), ["OK"]);
    });
  } finally {
    await users.remove();
  }
});
