/**
 * Keys of any byte a key may hold (0x21..0xff but DEL) and of lengths around the value heap's
 * cell sizes, past its largest cell (32,764 bytes: longer keys stay strings beside it) and up to
 * the longest key the formats carry (65,535), through a real node: written pipelined, read,
 * scanned in byte order, deleted, replicated over a real Mosquitto, and read back after restarts
 * from the log and from a snapshot.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { withCluster } from "../_support/replication_cluster.ts";
import { waitUntil } from "../_support/ports.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const SEED = 0x6b_e75;
const DEL = 0x7f;
/** Around the heap's cells (24, 4,096, 16,384 and the largest, 32,768, less the 4-byte length). */
const LENGTHS = [3, 16, 20, 21, 4091, 4092, 4093, 16_380, 32_763, 32_764, 32_765, 40_000, 65_535];
const LIMITS = "[limits]\nmax_key_bytes = 65535\n";
/** A snapshot as soon as the log passes a few of these keys. */
const PERSISTENCE = "[persistence]\nlog_rewrite_min_bytes = 200000\n";

/** key -> value (null: deleted). */
type Model = Map<string, string | null>;

/** A key of `length` bytes: `tag`, then bytes from 0x21..0xff without DEL. */
function keyOf(random: SeededRandom, tag: string, length: number): string {
  let key = tag;
  while (key.length < length) {
    const byte = 0x21 + random.below(0xff - 0x21 + 1);
    if (byte !== DEL) key += String.fromCharCode(byte);
  }
  return key.slice(0, length);
}

/** SET, overwrite and DEL lines over the keys, applied to the model. */
function writes(random: SeededRandom, keys: string[], model: Model): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 3 * keys.length; i++) {
    const key = random.pick(keys);
    if (random.below(6) === 0) {
      lines.push(`DEL ${key}`);
      model.set(key, null);
    } else {
      const value = `v${i}\r\xff${random.below(1_000_000)}`;
      lines.push(`SET ${key} ${value}`);
      model.set(key, value);
    }
  }
  return lines;
}

async function send(client: MerkleKVClient, lines: string[]): Promise<string[][]> {
  const replies: string[][] = [];
  for (let start = 0; start < lines.length; start += 20) {
    replies.push(...await client.pipeline(lines.slice(start, start + 20)));
  }
  return replies;
}

/** Every key reads back as the model says, and SCAN lists the live ones in byte order. */
async function assertModel(client: MerkleKVClient, model: Model, where: string) {
  const keys = [...model.keys()];
  const replies = await send(client, keys.map((key) => `GET ${key}`));
  keys.forEach((key, i) => {
    const value = model.get(key);
    const expected = value === null ? "NOT_FOUND" : `VALUE ${value}`;
    assert.equal(replies[i]?.[0], expected, `${where}: GET of a ${key.length}-byte key`);
  });
  const live = keys.filter((key) => model.get(key) !== null).sort();
  const [scan] = await client.pipeline(["SCAN"]);
  assert.deepEqual(scan, [`KEYS ${live.length}`, ...live], `${where}: SCAN`);
  for (const prefix of new Set(live.map((key) => key.slice(0, 2)))) {
    const [page] = await client.pipeline([`SCAN ${prefix}`]);
    const expected = live.filter((key) => key.startsWith(prefix));
    assert.deepEqual(page, [`KEYS ${expected.length}`, ...expected], `${where}: SCAN ${prefix}`);
  }
}

Deno.test({
  name: "keys of every byte a key may hold, up to 65,535 bytes, are written, scanned, " +
    "deleted, replicated and read back after restarts from the log and from a snapshot",
  async fn() {
    const random = new SeededRandom(SEED);
    const keys = LENGTHS.flatMap((length, i) => [
      keyOf(random, `a${String.fromCharCode(0x41 + i)}`, length),
      keyOf(random, `\xe9${String.fromCharCode(0x41 + i)}`, length),
    ]);
    const model: Model = new Map();
    const dir = await Deno.makeTempDir({ prefix: "merklekv-key-bytes-" });
    try {
      await withCluster(
        { size: 2, toml: LIMITS + PERSISTENCE, dataDirs: [dir] },
        async (cluster) => {
          let clientA = cluster.client(0);
          const replies = await send(clientA, writes(random, keys, model));
          const replyLines = new Set(replies.map(([line]) => line));
          for (const line of ["OK", "DELETED", "NOT_FOUND"]) replyLines.delete(line);
          assert.deepEqual([...replyLines], []);
          await assertModel(clientA, model, "node A");
          await cluster.waitConverged(15_000);
          await assertModel(cluster.client(1), model, "node B (replication from A)");
          await waitUntil(
            "a snapshot on node A",
            async () => Number((await clientA.info()).get("persistence_last_snapshot_entries")) > 0,
            15_000,
          );
          // Changes after the snapshot: recovery loads the snapshot, then merges the log over it.
          await send(clientA, writes(random, keys, model));
          for (const how of ["kill", "SIGTERM"] as const) {
            clientA = await cluster.restart(0, how);
            await assertModel(clientA, model, `node A after a restart (${how})`);
          }
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
