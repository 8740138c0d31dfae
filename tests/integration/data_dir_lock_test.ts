/**
 * One process per data directory, between real processes: a second node on a directory in use
 * stops at start (exit 1) with a sentence naming the directory and the holder's pid, and after
 * `kill -9` of the holder a new node starts on it with no cleaning up by hand.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { NodeProcess, runUntilExit } from "../_support/node_process.ts";

Deno.test({
  name:
    "a second node on a data_dir in use exits 1 naming it and the holder's pid; kill -9 frees it",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "merklekv-lock-" });
    const holder = await NodeProcess.start({ dataDir: dir });
    let successor: NodeProcess | null = null;
    try {
      const client = await holder.connect();
      await client.set("k", "v");
      await client.close();

      const second = await runUntilExit(dir);
      assert.equal(second.code, 1, second.stderr);
      const sentence = `merklekv: Cannot start: data directory ${dir} is in use by another ` +
        `merklekv node (pid ${holder.pid}), which holds the lock on ${path.join(dir, "LOCK")}`;
      assert.ok(second.stderr.includes(sentence), second.stderr);

      await holder.kill();
      successor = await NodeProcess.start({ dataDir: dir });
      const reader = await successor.connect();
      assert.equal(await reader.get("k"), "v", "the holder's data is still there");
      await reader.close();
      assert.equal(Deno.readTextFileSync(path.join(dir, "LOCK")), `${successor.pid}\n`);
    } finally {
      await holder.cleanup();
      await successor?.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
