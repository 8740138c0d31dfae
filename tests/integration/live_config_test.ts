/**
 * Live configuration against real node processes (see docs/operations.md, Live
 * configuration): SIGHUP and CONFIG RELOAD re-read the --config file, CONFIG GET and SET.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { waitUntil } from "../_support/ports.ts";
import { connectAs, NOAUTH, reply, UsersFile, WRONGPASS } from "../_support/auth.ts";

/** The config file NodeProcess writes, for a node on `port`, with `extra` appended. */
function configText(nodeId: string, port: number, extra: string): string {
  return [`node_id = "${nodeId}"`, `bind_address = "127.0.0.1"`, `bind_port = ${port}`, extra]
    .join("\n") + "\n";
}

async function infoField(client: MerkleKVClient, name: string): Promise<string> {
  const value = (await client.info()).get(name);
  assert.ok(value !== undefined, `INFO has ${name}`);
  return value;
}

/** Starts a node with `extra` TOML, runs `test` with a client, and cleans up. */
async function withNode(
  extra: string,
  test: (client: MerkleKVClient, node: NodeProcess) => Promise<void>,
): Promise<void> {
  const node = await NodeProcess.start({ toml: extra });
  let client: MerkleKVClient | null = null;
  try {
    client = await node.connect();
    await test(client, node);
  } catch (error) {
    console.error(node.stderr());
    throw error;
  } finally {
    await client?.close();
    await node.cleanup();
  }
}

/** Rewrites the node's file, sends SIGHUP, and waits for the reload or its failure. */
async function rewriteAndSignal(
  client: MerkleKVClient,
  node: NodeProcess,
  extra: string,
  counter: "config_reloads" | "config_reload_failures",
): Promise<void> {
  const before = Number(await infoField(client, counter));
  await Deno.writeTextFile(node.configPath, configText(node.nodeId, node.port, extra));
  node.signal("SIGHUP");
  await waitUntil(`${counter} to grow`, async () => {
    return Number(await infoField(client, counter)) > before;
  }, 10_000);
}

/** Limits with a line cap of its own, so that a large value gets an ERROR, not a closed line. */
function limits(maxValueBytes: number, maxLineBytes: number | null = 100_000): string {
  const line = maxLineBytes === null ? "" : `\nmax_line_bytes = ${maxLineBytes}`;
  return `[limits]\nmax_value_bytes = ${maxValueBytes}${line}`;
}

Deno.test("SIGHUP with a new limits.max_value_bytes changes what SET accepts on an open connection", async () => {
  await withNode(limits(1000), async (client, node) => {
    assert.equal(await infoField(client, "config_file"), node.configPath);
    assert.equal(await infoField(client, "config_last_reload"), "0");
    assert.deepEqual(await client.request(`SET small ${"a".repeat(900)}`), ["OK"]);
    const [refused] = await client.request(`SET large ${"b".repeat(3000)}`);
    assert.match(refused ?? "", /^ERROR /);
    await rewriteAndSignal(client, node, limits(4000), "config_reloads");
    assert.deepEqual(await client.request(`SET large ${"b".repeat(3000)}`), ["OK"]);
    assert.ok(Number(await infoField(client, "config_last_reload")) > 0);
    await rewriteAndSignal(client, node, limits(100), "config_reloads");
    const [lowered] = await client.request(`SET small ${"a".repeat(900)}`);
    assert.match(lowered ?? "", /^ERROR /);
    // Without max_line_bytes the line cap follows the value limit, on the open connection too.
    await rewriteAndSignal(client, node, limits(200_000, null), "config_reloads");
    assert.deepEqual(await client.request(`SET huge ${"c".repeat(150_000)}`), ["OK"]);
    assert.deepEqual(await client.request("PING"), ["PONG"]);
    assert.equal(await infoField(client, "config_reloads"), "3");
    assert.match(node.stderr(), /"event":"config_reloaded".*"origin":"SIGHUP"/);
  });
});

Deno.test("SIGHUP with an invalid file changes nothing, logs why, and the node keeps serving", async () => {
  await withNode("[limits]\nmax_value_bytes = 1000", async (client, node) => {
    await rewriteAndSignal(
      client,
      node,
      "[limits]\nmax_value_bytes = -5",
      "config_reload_failures",
    );
    const message = "Invalid config limits.max_value_bytes: must be >= 1, got -5";
    assert.match(node.stderr(), /"event":"config_reload_failed"/);
    assert.ok(node.stderr().includes(message), node.stderr());
    assert.deepEqual(await client.request("CONFIG RELOAD"), [`ERROR ${message}`]);
    assert.deepEqual(await client.request("CONFIG GET limits.max_value_bytes"), ["VALUE 1000"]);
    assert.deepEqual(await client.request(`SET k ${"a".repeat(900)}`), ["OK"]);
    assert.equal(await infoField(client, "config_reloads"), "0");
    assert.equal(await infoField(client, "config_reload_failures"), "2");
    assert.equal(await infoField(client, "config_last_reload"), "0");
  });
});

Deno.test("SIGHUP with a new node_id warns naming it, keeps the id, and applies the rest", async () => {
  await withNode("[limits]\nmax_key_bytes = 100", async (client, node) => {
    const before = await infoField(client, "node_id");
    const extra = "[limits]\nmax_key_bytes = 50";
    const text = configText("another-name", node.port, extra).replace("127.0.0.1", "0.0.0.0");
    await Deno.writeTextFile(node.configPath, text);
    node.signal("SIGHUP");
    await waitUntil(
      "the reload",
      async () => (await infoField(client, "config_reloads")) === "1",
      10_000,
    );
    assert.match(
      node.stderr(),
      /"event":"config_not_reloadable".*"keys":"node_id,bind_address".*node_id, bind_address/,
    );
    assert.equal(await infoField(client, "node_id"), before);
    assert.deepEqual(await client.request("CONFIG GET node_id"), [`VALUE ${before}`]);
    assert.deepEqual(await client.request("CONFIG GET limits.max_key_bytes"), ["VALUE 50"]);
  });
});

Deno.test("a new anti_entropy.peers list is used by SYNC at once and by the next round", async () => {
  const peer = await NodeProcess.start({ nodeId: "peer-b" });
  try {
    const peerClient = await peer.connect();
    await peerClient.set("from-b", "hello");
    await peerClient.close();
    const extra = "[anti_entropy]\ninterval_ms = 200\njitter_ms = 0";
    await withNode(extra, async (client, node) => {
      const [refused] = await client.request(`SYNC 127.0.0.1 ${peer.port}`);
      assert.match(refused ?? "", /is not a known peer/);
      assert.deepEqual(await client.request("GET from-b"), ["NOT_FOUND"]);
      const withPeer = `${extra}\npeers = ["127.0.0.1:${peer.port}"]`;
      await rewriteAndSignal(client, node, withPeer, "config_reloads");
      await waitUntil("the next round to bring the peer's key", async () => {
        const [reply] = await client.request("GET from-b");
        return reply === "VALUE hello";
      }, 10_000);
      const [synced] = await client.request(`SYNC 127.0.0.1 ${peer.port}`);
      assert.match(synced ?? "", /^OK/);
    });
  } finally {
    await peer.cleanup();
  }
});

Deno.test("CONFIG GET, SET and RELOAD answer VALUE, OK or ERROR, with secrets as ***", async () => {
  const extra = `${limits(1000)}\n[anti_entropy]\npassword = "s3cret"`;
  await withNode(extra, async (client) => {
    const ask = async (line: string) => (await client.request(line))[0];
    assert.equal(await ask("CONFIG GET limits.max_value_bytes"), "VALUE 1000");
    assert.equal(await ask("CONFIG GET anti_entropy.password"), "VALUE ***");
    assert.equal(await ask("CONFIG GET log_level"), "VALUE info");
    assert.equal(await ask("CONFIG GET anti_entropy.peers"), "VALUE ");
    assert.match(await ask("CONFIG GET limits.nope") ?? "", /^ERROR Unknown config key/);
    assert.equal(await ask("CONFIG SET limits.max_value_bytes 500"), "OK");
    assert.equal(await ask("CONFIG GET limits.max_value_bytes"), "VALUE 500");
    assert.match(await ask(`SET k ${"a".repeat(600)}`) ?? "", /^ERROR /);
    assert.equal(await ask("CONFIG SET anti_entropy.peers 127.0.0.1:1, 127.0.0.1:2"), "OK");
    assert.equal(await ask("CONFIG GET anti_entropy.peers"), "VALUE 127.0.0.1:1,127.0.0.1:2");
    assert.equal(await ask("CONFIG SET log_level debug"), "OK");
    assert.equal(await ask("CONFIG SET allow_remote_shutdown true"), "OK");
    assert.equal(await ask("CONFIG GET allow_remote_shutdown"), "VALUE true");
    assert.equal(await ask("CONFIG SET anti_entropy.username peer"), "OK");
    assert.equal(await ask("CONFIG GET anti_entropy.username"), "VALUE peer");
    assert.equal(await ask("CONFIG SET anti_entropy.password n3w-secret"), "OK");
    assert.equal(await ask("CONFIG GET anti_entropy.password"), "VALUE ***");
    // An empty value unsets a key that may be unset.
    assert.equal(await ask("CONFIG SET anti_entropy.username "), "OK");
    assert.equal(await ask("CONFIG GET anti_entropy.username"), "VALUE ");
    assert.match(
      await ask("CONFIG SET anti_entropy.password x y") ?? "",
      /^ERROR /,
      "a password of two words is refused",
    );
    assert.match(
      await ask("CONFIG SET limits.max_value_bytes lots") ?? "",
      /^ERROR Invalid config limits\.max_value_bytes: /,
    );
    assert.match(await ask("CONFIG SET node_id x") ?? "", /^ERROR Cannot set config node_id: /);
    assert.match(await ask("CONFIG SET data_dir /tmp") ?? "", /^ERROR .*data_dir/);
    // The file says 1000: a reload takes the file's value again.
    assert.equal(await ask("CONFIG RELOAD"), "OK");
    assert.equal(await ask("CONFIG GET limits.max_value_bytes"), "VALUE 1000");
    assert.equal(await ask("CONFIG GET log_level"), "VALUE info");
    assert.equal(await infoField(client, "config_reloads"), "1");
    assert.match(await ask("CONFIG FROB") ?? "", /^ERROR unknown CONFIG subcommand/);
  });
});

Deno.test("a reload re-reads auth.users_file; a broken one fails the reload and keeps the users", async () => {
  const users = "user admin on >ap ~* +@all\n";
  const file = await UsersFile.create(users);
  const node = await NodeProcess.start({ toml: `[auth]\nusers_file = "${file.path}"` });
  const admin = await connectAs(node, "admin", "ap");
  try {
    await file.write(users + "user dave on >dp ~* +@read\n");
    assert.deepEqual(await admin.request("CONFIG RELOAD"), ["OK"]);
    const dave = await connectAs(node, "dave", "dp");
    await dave.close();
    await file.write(users + "user erin on >ep +@bogus\n");
    const [refused] = await admin.request("CONFIG RELOAD");
    assert.match(refused ?? "", /^ERROR Cannot reload auth: Invalid users file .*bogus/);
    const again = await connectAs(node, "dave", "dp");
    await again.close();
    assert.equal(await infoField(admin, "config_reload_failures"), "1");
  } catch (error) {
    console.error(node.stderr());
    throw error;
  } finally {
    await admin.close();
    await node.cleanup();
    await file.remove();
  }
});

Deno.test("SIGHUP with a new auth.password: new AUTHs need it, authenticated connections stay", async () => {
  const node = await NodeProcess.start({ toml: '[auth]\npassword = "old-pw"' });
  const passwordFile = await UsersFile.create("from-file-pw\n");
  const first = await connectAs(node, null, "old-pw");
  try {
    await rewriteAndSignal(first, node, '[auth]\npassword = "new-pw"', "config_reloads");
    assert.equal(await reply(first, "SET k v"), "OK");
    const stranger = await node.connect();
    assert.equal(await reply(stranger, "GET k"), NOAUTH);
    assert.equal(await reply(stranger, "AUTH old-pw"), WRONGPASS);
    assert.equal(await reply(stranger, "AUTH new-pw"), "OK");
    assert.equal(await reply(stranger, "GET k"), "VALUE v");
    await stranger.close();
    // auth.password_file is read again on every reload.
    const fromFile = `[auth]\npassword_file = "${passwordFile.path}"`;
    await rewriteAndSignal(first, node, fromFile, "config_reloads");
    await connectAs(node, null, "from-file-pw").then((client) => client.close());
    await passwordFile.write("changed-pw\n");
    await rewriteAndSignal(first, node, fromFile, "config_reloads");
    await connectAs(node, null, "changed-pw").then((client) => client.close());
    assert.equal(await reply(first, "PING"), "PONG");
    for (const secret of ["old-pw", "new-pw", "from-file-pw", "changed-pw"]) {
      assert.ok(!node.stderr().includes(secret), `the log does not hold ${secret}`);
    }
  } catch (error) {
    console.error(node.stderr());
    throw error;
  } finally {
    await first.close();
    await node.cleanup();
    await passwordFile.remove();
  }
});

Deno.test("CONFIG SET auth.password turns AUTH on: open connections stay default, new ones need it", async () => {
  await withNode("", async (client, node) => {
    assert.equal(await reply(client, "CONFIG SET auth.password s3cret-pw"), "OK");
    assert.equal(await reply(client, "CONFIG GET auth.password"), "VALUE ***");
    assert.equal(await reply(client, "ACL WHOAMI"), "USER default");
    assert.equal(await reply(client, "SET k v"), "OK");
    const later = await node.connect();
    try {
      assert.equal(await reply(later, "GET k"), NOAUTH);
      assert.equal(await reply(later, "AUTH wrong"), WRONGPASS);
      assert.equal(await reply(later, "AUTH s3cret-pw"), "OK");
      assert.equal(await reply(later, "GET k"), "VALUE v");
    } finally {
      await later.close();
    }
    assert.equal(await reply(client, "CONFIG SET auth.password another-pw"), "OK");
    assert.equal(await reply(client, "CONFIG SET auth.protected_mode false"), "OK");
    assert.equal(await reply(client, "CONFIG GET auth.protected_mode"), "VALUE false");
    assert.equal(await reply(client, "PING"), "PONG");
    assert.match(
      await reply(client, "CONFIG SET auth.password bad word"),
      /^ERROR /,
      "two words are no password",
    );
    assert.ok(!node.stderr().includes("s3cret-pw") && !node.stderr().includes("another-pw"));
    // An empty value unsets the password: without a users file nothing is checked again.
    assert.equal(await reply(client, "CONFIG SET auth.password "), "OK");
    const open = await node.connect();
    assert.equal(await reply(open, "SET k2 v2"), "OK");
    await open.close();
  });
});

Deno.test("CONFIG SET auth.users_file with a broken file answers ERROR naming the line and keeps the users", async () => {
  const file = await UsersFile.create("user admin on >ap ~* +@all\nuser dave on >dp +@nope\n");
  const node = await NodeProcess.start({ toml: '[auth]\npassword = "pw"' });
  const admin = await connectAs(node, null, "pw");
  try {
    const refused = await reply(admin, `CONFIG SET auth.users_file ${file.path}`);
    assert.match(refused, /^ERROR Cannot set config auth\.users_file: Invalid users file .*:2: /);
    assert.equal(await reply(admin, "CONFIG GET auth.users_file"), "VALUE ");
    await file.write("user admin on >ap ~* +@all\n");
    assert.equal(await reply(admin, `CONFIG SET auth.users_file ${file.path}`), "OK");
    await connectAs(node, "admin", "ap").then((client) => client.close());
    // default keeps auth.password: its open connection stays.
    assert.equal(await reply(admin, "ACL WHOAMI"), "USER default");
  } catch (error) {
    console.error(node.stderr());
    throw error;
  } finally {
    await admin.close();
    await node.cleanup();
    await file.remove();
  }
});
