/**
 * The benchmarks' load client (bench/load/load.ts, a process speaking raw protocol) against a
 * node that requires AUTH: `--password` (and `--user`) AUTH each connection before the run.
 */

import assert from "node:assert/strict";
import { runLoad } from "../../bench/load/load.ts";
import { BenchNode } from "../../bench/harness/node_server.ts";
import { request } from "../../bench/harness/probe.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { UsersFile } from "../_support/auth.ts";

const APP_PASSWORD = "load-app-pw";
const DEFAULT_PASSWORD = "load-default-pw";

/** A short run: two connections, half a second, no warmup. */
const SHORT = { conns: 2, depth: 4, keys: 100, warmupSeconds: 0, seconds: 0.5, verifyEvery: 50 };

Deno.test("the load client with --password runs against a protected node; a wrong one fails", async () => {
  const users = await UsersFile.create(`user app on >${APP_PASSWORD} ~* +@read +@write\n`);
  const node = await NodeProcess.start({
    toml: `[auth]\nusers_file = "${users.path}"\npassword = "${DEFAULT_PASSWORD}"`,
  });
  try {
    const request = { ...SHORT, port: node.port, proto: "merklekv" as const };
    const spawn = { cpu: null };
    const asDefault = await runLoad(
      { ...request, password: DEFAULT_PASSWORD, preload: true },
      spawn,
    );
    assert.ok(asDefault.ok, asDefault.failures.join("; ") + (asDefault.stderr ?? ""));
    assert.ok(asDefault.ops > 0);
    assert.equal(asDefault.checks.errors, 0);
    assert.equal(asDefault.settings.password, "***");
    const asApp = await runLoad({ ...request, user: "app", password: APP_PASSWORD }, spawn);
    assert.ok(asApp.ok, asApp.failures.join("; ") + (asApp.stderr ?? ""));
    assert.equal(asApp.checks.errors, 0);
    const wrong = await runLoad({ ...request, user: "app", password: "wrong-load-pw" }, spawn);
    assert.equal(wrong.ok, false);
    assert.match(wrong.failures.join("; "), /refused AUTH: ERROR WRONGPASS/);
    assert.ok(!JSON.stringify(wrong).includes("wrong-load-pw"));
    // Without a password every request is refused (NOAUTH): the run is not ok.
    const none = await runLoad(request, spawn);
    assert.equal(none.ok, false);
  } finally {
    await node.cleanup();
    await users.remove();
  }
});

Deno.test("a benchmark node with a password starts, answers command() and a load run", async () => {
  const node = await BenchNode.start({ password: DEFAULT_PASSWORD, cpu: null });
  try {
    assert.deepEqual(await node.command("DBSIZE"), { kind: "status", text: "DBSIZE 0" });
    const refused = await request(node.port, "merklekv", ["PING"], 5_000, ["AUTH", "nope-pw"])
      .then(() => null, (error: Error) => error.message);
    assert.equal(
      refused,
      `port ${node.port} refused AUTH: WRONGPASS invalid username-password pair or user is disabled`,
    );
    const run = await runLoad({
      ...SHORT,
      port: node.port,
      proto: "merklekv",
      password: node.password ?? "",
    }, { cpu: null });
    assert.ok(run.ok, run.failures.join("; ") + (run.stderr ?? ""));
  } finally {
    await node.stop();
  }
});
