/**
 * Backup and restore with real node processes (see docs/backup.md): SNAPSHOT under write load,
 * the restore of its one file into an empty data directory, and anti-entropy bringing what
 * happened after the backup.
 */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { snapshotPath } from "../../src/persistence/data_dir.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { tempDir } from "../persistence/support.ts";
import { freePort, waitUntil } from "../_support/ports.ts";

/** SYNC <host> <port> to any address, no loop: the test says when nodes sync. */
const SYNC_ON_DEMAND = ["[anti_entropy]", "interval_ms = 0", "allow_any_sync_target = true"]
  .join("\n");

async function snapshot(client: MerkleKVClient): Promise<string> {
  const [line] = await client.request("SNAPSHOT");
  const match = /^OK (\/.+)$/.exec(line ?? "");
  assert.ok(match !== null, `SNAPSHOT replied ${line}`);
  return match[1]!;
}

/** Sequential SETs of load:<i> until stopped; `acked` is how many got their OK. */
function writeLoad(client: MerkleKVClient) {
  const state = { acked: 0, running: true, done: Promise.resolve() };
  state.done = (async () => {
    for (let i = 0; state.running; i++) {
      await client.set(`load:${i}`, `v${i}`);
      state.acked = i + 1;
    }
  })();
  return state;
}

Deno.test("SNAPSHOT without data_dir answers ERROR saying backups need a data directory", async () => {
  const node = await NodeProcess.start();
  try {
    const client = await node.connect();
    assert.deepEqual(await client.request("SNAPSHOT"), [
      "ERROR backups need a data directory (set data_dir)",
    ]);
    await client.close();
  } finally {
    await node.cleanup();
  }
});

Deno.test("a backup taken under load, restored into an empty data dir, converges with its peer", async () => {
  const dirA = await tempDir();
  const work = await tempDir();
  const a = await NodeProcess.start({ dataDir: dirA, nodeId: "node-a", toml: SYNC_ON_DEMAND });
  const b = await NodeProcess.start({ nodeId: "node-b", toml: SYNC_ON_DEMAND });
  try {
    const clientA = await a.connect();
    const clientB = await b.connect();
    await clientA.mset(
      Array.from({ length: 300 }, (_, i) => [`before:${i}`, `value-${i}`] as const),
    );
    await clientA.set("binary", new Uint8Array([0, 255, 1, 128, 7]));
    const load = writeLoad(await a.connect());
    while (load.acked < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    const ackedBeforeSnapshot = load.acked;
    const backup = await snapshot(clientA);
    load.running = false;
    await load.done;
    assert.equal(path.dirname(backup), path.resolve(dirA));
    assert.match(path.basename(backup), /^backup\.\d+\.snapshot$/);
    const copy = path.join(work, "a.backup");
    fs.copyFileSync(backup, copy);
    // After the backup: a write on B, and one on A that reached B by SYNC before A was lost.
    await clientB.set("after:on-b", "b");
    await clientA.set("after:on-a", "a");
    assert.match((await clientB.request(`SYNC 127.0.0.1 ${a.port}`))[0] ?? "", /^OK /);
    await clientA.close();
    await a.kill();
    // Restore: an empty data dir holding only the backup, named as recovery loads it.
    fs.rmSync(dirA, { recursive: true });
    fs.mkdirSync(dirA);
    fs.copyFileSync(copy, snapshotPath(dirA, 1));
    await a.restart();
    const restored = await a.connect();
    assert.equal((await restored.info()).get("node_id"), "node-a");
    assert.equal(await restored.get("before:299"), "value-299");
    for (let i = 0; i < ackedBeforeSnapshot; i++) {
      assert.equal(
        await restored.get(`load:${i}`),
        `v${i}`,
        `load:${i} acknowledged before SNAPSHOT`,
      );
    }
    assert.equal(await restored.get("after:on-b"), null);
    assert.match((await restored.request(`SYNC 127.0.0.1 ${b.port}`))[0] ?? "", /^OK /);
    assert.equal(await restored.hash(), await clientB.hash());
    assert.equal(await restored.get("after:on-b"), "b");
    assert.equal(await restored.get("after:on-a"), "a");
    assert.deepEqual(await restored.getBytes("binary"), new Uint8Array([0, 255, 1, 128, 7]));
    await restored.close();
    await clientB.close();
  } finally {
    await a.cleanup();
    await b.cleanup();
    fs.rmSync(dirA, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});

Deno.test("a new node with an empty data dir and its peers listed fills itself from them", async () => {
  const dir = await tempDir();
  const port = await freePort();
  const peer = await NodeProcess.start({ nodeId: "old", toml: SYNC_ON_DEMAND });
  const loop = ["[anti_entropy]", "interval_ms = 200", "jitter_ms = 20"];
  const joining = await NodeProcess.start({
    nodeId: "new",
    port,
    dataDir: dir,
    toml: [...loop, `peers = ["127.0.0.1:${peer.port}"]`].join("\n"),
  });
  try {
    const old = await peer.connect();
    await old.mset(Array.from({ length: 500 }, (_, i) => [`k${i}`, `v${i}`] as const));
    await old.set("deleted", "x");
    await old.del("deleted");
    const fresh = await joining.connect();
    const expected = await old.hash();
    await waitUntil(
      "the new node has the peer's root",
      async () => (await fresh.hash()) === expected,
      10_000,
    );
    assert.equal(await fresh.get("k499"), "v499");
    assert.equal(await fresh.dbsize(), 500);
    await old.close();
    await fresh.close();
  } finally {
    await joining.cleanup();
    await peer.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
