/**
 * The front door: the `merklekv` command (bin/merklekv.mjs, run by node as npm runs it) and
 * `deno task start` run the node in the caller's directory and pass signals on to it (see
 * docs/running.md). Each test signals the process it started, never the node behind it.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { NodeProcess } from "../_support/node_process.ts";
import { waitUntil } from "../_support/ports.ts";

const LAUNCHER = new URL("../../bin/merklekv.mjs", import.meta.url).pathname;

async function portIsClosed(port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    connection.close();
    return false;
  } catch {
    return true;
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(dir)).isDirectory;
  } catch {
    return false;
  }
}

Deno.test({
  name: "merklekv --config node.toml runs in the caller's directory and stops cleanly on SIGTERM",
  async fn() {
    const cwd = await Deno.makeTempDir({ prefix: "merklekv-cwd-" });
    const node = await NodeProcess.start({
      cwd,
      through: "launcher",
      topLevel: `data_dir = "./d"`,
    });
    try {
      assert.ok(await isDirectory(path.join(cwd, "d")), "data_dir ./d is made in the cwd");
      const client = await node.connect();
      await client.set("acknowledged", "before SIGTERM");
      await client.close();

      const status = await node.stop("SIGTERM");
      assert.equal(status.code, 0, node.stderr());
      assert.ok(
        await portIsClosed(node.port),
        "the node closed its port before the launcher exited",
      );
      assert.match(node.stderr(), /"event":"node_stopped".*"reason":"SIGTERM"/);

      await node.restart();
      const reader = await node.connect();
      assert.equal(await reader.get("acknowledged"), "before SIGTERM");
      await reader.close();
    } finally {
      await node.cleanup();
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

const TASK_COMMANDS = { task: "deno task start", npm: "npm start", npx: "npx deno task start" };

for (const through of ["task", "npm", "npx"] as const) {
  const command = TASK_COMMANDS[through];
  Deno.test({
    name: `${command} runs the node in the caller's directory and SIGTERM to it stops the node`,
    async fn() {
      const cwd = await Deno.makeTempDir({ prefix: "merklekv-task-cwd-" });
      const node = await NodeProcess.start({ cwd, through, topLevel: `data_dir = "./d"` });
      try {
        assert.ok(await isDirectory(path.join(cwd, "d")), "data_dir ./d is made in the cwd");
        const status = await node.stop("SIGTERM");
        assert.equal(status.code, 0, node.stderr());
        assert.ok(await portIsClosed(node.port));
        assert.match(node.stderr(), /"event":"node_stopped".*"reason":"SIGTERM"/);
      } finally {
        await node.cleanup();
        await Deno.remove(cwd, { recursive: true });
      }
    },
  });
}

const RELOADED = /"event":"config_reloaded".*"origin":"SIGHUP"/;

for (const through of ["deno", "launcher"] as const) {
  const receiver = through === "deno" ? "the node" : "the launcher";
  Deno.test({
    name: `a SIGHUP to ${receiver} re-reads the config file: the node keeps serving`,
    async fn() {
      const node = await NodeProcess.start({ through });
      try {
        node.signal("SIGHUP");
        await waitUntil("the node to log the reload", () => RELOADED.test(node.stderr()), 10_000);
        const client = await node.connect();
        assert.deepEqual(await client.request("PING"), ["PONG"]);
        await client.close();
        const status = await node.stop("SIGINT");
        assert.equal(status.code, 0, node.stderr());
      } finally {
        await node.cleanup();
      }
    },
  });
}

Deno.test({
  name: "the launcher passes arguments through unchanged and exits with the node's exit code",
  async fn() {
    const run = (args: string[]) =>
      new Deno.Command("node", { args: [LAUNCHER, ...args], stdin: "null" }).output();
    const version = await run(["--version"]);
    assert.equal(version.code, 0);
    assert.match(new TextDecoder().decode(version.stdout), /^merklekv \d+\.\d+\.\d+/);
    const usage = await run(["--no-such-flag"]);
    assert.equal(usage.code, 2, "an invalid command line exits 2, as main.ts does");
    assert.match(new TextDecoder().decode(usage.stderr), /no-such-flag/);
  },
});
