/**
 * The benchmarks' load client (bench/load/load.ts) with 16 KiB values against a real node:
 * requests built from prebuilt bytes, replies that span reads (the client alternates two read
 * buffers), every value read back checked.
 */

import assert from "node:assert/strict";
import { runLoad } from "../../bench/load/load.ts";
import { BenchNode } from "../../bench/harness/node_server.ts";

Deno.test("the load client writes and reads back 16 KiB values intact, pipelined and not", async () => {
  const node = await BenchNode.start({ cpu: null });
  try {
    for (const depth of [1, 8]) {
      const run = await runLoad({
        port: node.port,
        proto: "merklekv",
        conns: 4,
        depth,
        keys: 200,
        valueBytes: 16_384,
        preload: true,
        warmupSeconds: 0,
        seconds: 0.5,
        verifyEvery: 20,
      }, { cpu: null });
      assert.ok(run.ok, `depth ${depth}: ${run.failures.join("; ")}${run.stderr ?? ""}`);
      assert.ok(run.ops > 0);
      assert.equal(run.checks.wrongValues, 0);
      assert.equal(run.checks.misses, 0);
      assert.ok(run.checks.verifyOk > 0);
    }
    // 200 keys, and each run's 4 connections wrote a write-then-read key of their own.
    assert.deepEqual(await node.command("DBSIZE"), { kind: "status", text: "DBSIZE 208" });
  } finally {
    await node.stop();
  }
});
