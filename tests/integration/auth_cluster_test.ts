/**
 * Users and permissions beyond one client (see docs/security.md): protected mode from a
 * non-loopback address (a network namespace), anti-entropy between nodes that require AUTH,
 * and secrets kept out of INFO, --check, logs and error messages.
 */

import assert from "node:assert/strict";
import { nth } from "../_support/nth.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { createNetns, type Netns, netnsUnavailableReason } from "../_support/netns.ts";
import { freePort, waitUntil } from "../_support/ports.ts";
import { connectAs, NOAUTH, reply, UsersFile, WRONGPASS } from "../_support/auth.ts";
import { PROTECTED_MODE_REFUSAL } from "../../src/auth/mod.ts";

const netnsUnavailable = await netnsUnavailableReason();
const CONNECT_FROM = new URL("../_support/connect_from.ts", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** The first line a PING from inside the namespace gets. */
async function pingFromNamespace(netns: Netns, node: NodeProcess): Promise<string> {
  const child = netns.command(
    Deno.execPath(),
    ["run", "--allow-net", CONNECT_FROM, netns.hostAddress, String(node.port), "1"],
    { stdin: "piped", stdout: "piped", stderr: "inherit" },
  ).spawn();
  const writer = child.stdin.getWriter();
  let text = "";
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
  } finally {
    await writer.close();
  }
  await child.status;
  return nth(JSON.parse(text) as string[], 0);
}

Deno.test({
  name: "protected mode refuses non-loopback clients while default has no password" +
    (netnsUnavailable === null ? "" : ` (skipped: ${netnsUnavailable})`),
  ignore: netnsUnavailable !== null,
  fn: async () => {
    const netns = await createNetns();
    const nodes: NodeProcess[] = [];
    try {
      const start = async (toml: string) => {
        const node = await NodeProcess.start({ bindAddress: netns.hostAddress, toml });
        nodes.push(node);
        return node;
      };
      const open = await start("");
      assert.equal(await pingFromNamespace(netns, open), "ERROR " + PROTECTED_MODE_REFUSAL);
      assert.match(
        open.stderr(),
        new RegExp(
          `"event":"connection_refused",[^\n]*"reason":"DENIED protected mode: [^"]*",` +
            `"client":"${netns.namespaceAddress}"`,
        ),
      );
      const withPassword = await start('[auth]\npassword = "pw"');
      assert.equal(await pingFromNamespace(netns, withPassword), NOAUTH);
      const unprotected = await start("[auth]\nprotected_mode = false");
      assert.equal(await pingFromNamespace(netns, unprotected), "PONG");
    } finally {
      for (const node of nodes) await node.cleanup();
      await netns.close();
    }
  },
});

Deno.test({
  name: "protected mode changed by CONFIG SET applies to the next non-loopback connection" +
    (netnsUnavailable === null ? "" : ` (skipped: ${netnsUnavailable})`),
  ignore: netnsUnavailable !== null,
  fn: async () => {
    const netns = await createNetns();
    // On 0.0.0.0 the test's own client comes from loopback, the namespace's from outside.
    const node = await NodeProcess.start({ bindAddress: "0.0.0.0" });
    const local = await node.connect();
    try {
      assert.equal(await pingFromNamespace(netns, node), "ERROR " + PROTECTED_MODE_REFUSAL);
      assert.equal(await reply(local, "CONFIG SET auth.protected_mode false"), "OK");
      assert.equal(await pingFromNamespace(netns, node), "PONG");
      assert.equal(await reply(local, "CONFIG SET auth.protected_mode true"), "OK");
      assert.equal(await pingFromNamespace(netns, node), "ERROR " + PROTECTED_MODE_REFUSAL);
      assert.equal(await reply(local, "PING"), "PONG");
    } finally {
      await local.close();
      await node.cleanup();
      await netns.close();
    }
  },
});

Deno.test("protected mode lets loopback clients in without a password", async () => {
  const node = await NodeProcess.start();
  try {
    const client = await node.connect();
    assert.equal(await reply(client, "PING"), "PONG");
    assert.equal(await reply(client, "ACL WHOAMI"), "USER default");
    assert.equal(await reply(client, "ACL LIST"), "USERS 1\nuser default on nopass ~* +@all");
    assert.equal(await reply(client, "AUTH anything"), "OK");
    assert.equal(await reply(client, "ACL LOAD"), "ERROR ACL LOAD needs auth.users_file");
    await client.close();
  } finally {
    await node.cleanup();
  }
});

const INTERVAL_MS = 300;
const CONVERGE_MS = 2 * INTERVAL_MS + 5_000;

Deno.test("nodes that require AUTH converge through anti-entropy; wrong credentials fail", async () => {
  const file = await UsersFile.create("user admin on >ap ~* +@all\nuser peer on >peerpw +@sync\n");
  const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()] as const;
  const toml = (peers: number[], password: string) =>
    `[auth]\nusers_file = "${file.path}"\n[anti_entropy]\ninterval_ms = ${INTERVAL_MS}\n` +
    `jitter_ms = 0\npeers = [${peers.map((port) => `"127.0.0.1:${port}"`).join(", ")}]\n` +
    `username = "peer"\npassword = "${password}"\n`;
  const nodes: NodeProcess[] = [];
  try {
    nodes.push(await NodeProcess.start({ port: portA, toml: toml([portB], "peerpw") }));
    nodes.push(await NodeProcess.start({ port: portB, toml: toml([portA], "peerpw") }));
    nodes.push(await NodeProcess.start({ port: portC, toml: toml([portA], "wrong-pw") }));
    const clients = await Promise.all(nodes.map((node) => connectAs(node, "admin", "ap")));
    const [a, b, c] = [nth(clients, 0), nth(clients, 1), nth(clients, 2)];
    const nodeC = nth(nodes, 2);
    try {
      assert.equal(await reply(a, "SET from:a 1"), "OK");
      assert.equal(await reply(b, "SET from:b 2"), "OK");
      assert.equal(await reply(c, "SET from:c 3"), "OK");
      await waitUntil("a and b converge", async () => {
        return (await reply(a, "HASH")) === (await reply(b, "HASH")) &&
          (await reply(a, "GET from:b")) === "VALUE 2";
      }, CONVERGE_MS);
      assert.equal(await reply(b, "GET from:a"), "VALUE 1");
      await waitUntil("c logs its refused session", () => {
        return nodeC.stderr().includes("the peer refused AUTH as peer: " + WRONGPASS);
      }, CONVERGE_MS);
      assert.match(nodeC.stderr(), /"event":"sync_failed"/);
      assert.equal(await reply(a, "GET from:c"), "NOT_FOUND");
      assert.ok(!nodeC.stderr().includes("wrong-pw"), "the password is never logged");
      assert.match(await reply(a, "INFO"), /\nauth_failures:[1-9][0-9]*\n/);
    } finally {
      for (const client of [a, b, c]) await client.close();
    }
  } finally {
    for (const node of nodes) await node.cleanup();
    await file.remove();
  }
});

async function runMain(args: string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: decode(output.stdout) + decode(output.stderr) };
}

Deno.test("secrets never appear in INFO, --check, logs or error messages", async () => {
  const file = await UsersFile.create("user admin on >hunter2-admin ~* +@all\n");
  const passwordFile = `${file.path}.password`;
  await Deno.writeTextFile(passwordFile, "hunter2-default\n", { mode: 0o644 });
  await Deno.chmod(passwordFile, 0o644);
  const toml = `[auth]\nusers_file = "${file.path}"\npassword_file = "${passwordFile}"\n` +
    `[anti_entropy]\nusername = "peer"\npassword = "hunter2-peer"\n`;
  const node = await NodeProcess.start({ toml });
  try {
    const check = await runMain(["--config", node.configPath, "--check"]);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /password = "\*\*\*"/);
    assert.ok(!check.out.includes("hunter2"), check.out);
    const guess = await node.connect();
    assert.equal(await reply(guess, "AUTH hunter2-guess"), WRONGPASS);
    assert.equal(await reply(guess, "AUTH admin hunter2-wrong"), WRONGPASS);
    assert.equal(await reply(guess, "AUTH hunter2-default"), "OK");
    await guess.close();
    const admin = await connectAs(node, "admin", "hunter2-admin");
    const info = await reply(admin, "INFO");
    const list = await reply(admin, "ACL LIST");
    await admin.close();
    assert.ok(!info.includes("hunter2"), info);
    assert.ok(!list.includes("hunter2"), list);
    assert.match(node.stderr(), /"event":"auth_failed"/);
    assert.match(
      node.stderr(),
      new RegExp(`"event":"secret_file_readable_by_others",[^\n]*"file":"${passwordFile}"`),
    );
    assert.ok(!node.stderr().includes("hunter2"), node.stderr());
    // A bad users file stops the start, naming the file, line and rule, never the password.
    await file.write("user admin on >hunter2-admin ~* +@all\nuser bad on >hunter2-bad +@nope\n");
    const failed = await runMain(["--config", node.configPath]);
    assert.equal(failed.code, 1);
    assert.match(
      failed.out,
      new RegExp(`Invalid users file ${file.path}:2: rule "\\+@nope": unknown category "nope"`),
    );
    assert.ok(!failed.out.includes("hunter2"), failed.out);
  } finally {
    await node.cleanup();
    await file.remove();
  }
});
