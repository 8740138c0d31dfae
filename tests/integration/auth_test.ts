/**
 * Users and permissions against a real node process (see docs/security.md): every category
 * and command allowed and refused with the exact lines, key globs, SCAN's filtering, NOAUTH,
 * WRONGPASS, off users, #sha256 passwords, the unauthenticated line limit and ACL LOAD.
 */

import assert from "node:assert/strict";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import {
  connectAs,
  NOAUTH,
  noperm,
  nopermKey,
  reply,
  UsersFile,
  WRONGPASS,
} from "../_support/auth.ts";
import { sha256Hex } from "../../src/auth/mod.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const USERS = `
# one user per category, and one with none
user reader on >rp ~* +@read
user writer on >wp ~* +@write
user admin on >ap ~* +@admin
user syncer on >sp +@sync
user nothing on >np ~*
user alice on >alicepw ~user:* ~shared +@read +@write
user hashed on #${sha256Hex("from-hash")} ~* +@read
user sleeper off >zp ~* +@all
`;

async function withNode(
  users: string,
  toml: string,
  run: (node: NodeProcess, file: UsersFile) => Promise<void>,
): Promise<void> {
  const file = await UsersFile.create(users);
  const node = await NodeProcess.start({ toml: `[auth]\nusers_file = "${file.path}"\n${toml}` });
  try {
    await run(node, file);
  } finally {
    await node.cleanup();
    await file.remove();
  }
}

/** [line, the command word NOPERM names, the category that allows it]. */
const EXAMPLES: [string, string, string][] = [
  ["GET k", "get", "read"],
  ["MGET k j", "mget", "read"],
  ["EXISTS k", "exists", "read"],
  ["SCAN", "scan", "read"],
  ["DBSIZE", "dbsize", "read"],
  ["TTL k", "ttl", "read"],
  ["HASH", "hash", "read"],
  ["SET k v", "set", "write"],
  ["DEL k", "del", "write"],
  ["DELETE k", "delete", "write"],
  ["INC k", "inc", "write"],
  ["DEC k", "dec", "write"],
  ["INCR k", "incr", "write"],
  ["DECR k", "decr", "write"],
  ["APPEND k v", "append", "write"],
  ["PREPEND k v", "prepend", "write"],
  ["MSET k v j w", "mset", "write"],
  ["EXPIRE k 100", "expire", "write"],
  ["PERSIST k", "persist", "write"],
  ["INFO", "info", "admin"],
  ["STATS", "stats", "admin"],
  ["TRUNCATE", "truncate", "admin"],
  ["FLUSHDB", "flushdb", "admin"],
  ["ACL LIST", "acl|list", "admin"],
  ["ACL LOAD", "acl|load", "admin"],
  ["SYNC 127.0.0.1 1", "sync", "admin"],
  ["SYNC ROOT", "sync", "sync"],
];
const CATEGORY_USERS: Record<string, string> = {
  read: "reader",
  write: "writer",
  admin: "admin",
  sync: "syncer",
};
const PASSWORDS: Record<string, string> = {
  reader: "rp",
  writer: "wp",
  admin: "ap",
  syncer: "sp",
  nothing: "np",
};

Deno.test("every command runs for its category's user and is refused to the others", async () => {
  await withNode(USERS, "", async (node) => {
    for (const user of [...Object.values(CATEGORY_USERS), "nothing"]) {
      const client = await connectAs(node, user, PASSWORDS[user] ?? "");
      try {
        for (const [line, word, category] of EXAMPLES) {
          const got = await reply(client, line);
          if (CATEGORY_USERS[category] === user) {
            assert.doesNotMatch(got, /NOPERM|NOAUTH/, `${user}: ${line}`);
          } else assert.equal(got, noperm(user, word), `${user}: ${line}`);
        }
        // Connection commands need no permission once authenticated.
        assert.equal(await reply(client, "PING"), "PONG");
        assert.equal(await reply(client, "ECHO hi"), "ECHO hi");
        assert.match(await reply(client, "VERSION"), /^VERSION /);
        assert.equal(await reply(client, "ACL WHOAMI"), `USER ${user}`);
      } catch (error) {
        await client.close();
        throw error;
      }
      await client.close();
    }
    // SHUTDOWN last: refused to the others, then run by admin.
    for (const user of ["reader", "writer", "syncer", "nothing"]) {
      const client = await connectAs(node, user, PASSWORDS[user] ?? "");
      assert.equal(await reply(client, "SHUTDOWN"), noperm(user, "shutdown"));
      await client.close();
    }
    const admin = await connectAs(node, "admin", "ap");
    assert.equal(await reply(admin, "SHUTDOWN"), "OK");
    await admin.close();
    assert.equal((await node.exited).code, 0);
  });
});

Deno.test("key globs allow and refuse every key of GET, SET, MGET, MSET and EXISTS", async () => {
  await withNode(USERS, "", async (node) => {
    const alice = await connectAs(node, "alice", "alicepw");
    try {
      assert.equal(await reply(alice, "SET user:1 one"), "OK");
      assert.equal(await reply(alice, "SET shared s"), "OK");
      assert.equal(await reply(alice, "GET user:1"), "VALUE one");
      assert.equal(await reply(alice, "get shared"), "VALUE s");
      assert.equal(await reply(alice, "GET secret"), nopermKey("alice", "secret"));
      assert.equal(await reply(alice, "SET secret x"), nopermKey("alice", "secret"));
      assert.equal(await reply(alice, "SET shared2 x"), nopermKey("alice", "shared2"));
      assert.equal(await reply(alice, "MGET user:1 shared"), "VALUES 2\nuser:1 one\nshared s");
      assert.equal(await reply(alice, "MGET user:1 secret shared"), nopermKey("alice", "secret"));
      assert.equal(await reply(alice, "MSET user:1 two secret x"), nopermKey("alice", "secret"));
      // All or nothing: the allowed key of a refused MSET is unchanged.
      assert.equal(await reply(alice, "GET user:1"), "VALUE one");
      assert.equal(await reply(alice, "MSET user:1 two user:2 three"), "OK");
      assert.equal(await reply(alice, "EXISTS user:1 user:2"), "EXISTS 2");
      assert.equal(await reply(alice, "EXISTS user:1 other"), nopermKey("alice", "other"));
      assert.equal(await reply(alice, "INCR other"), nopermKey("alice", "other"));
      assert.equal(await reply(alice, "EXPIRE other 5"), nopermKey("alice", "other"));
    } finally {
      await alice.close();
    }
  });
});

Deno.test("SCAN lists only the keys the user's globs allow, page by page", async () => {
  await withNode(USERS, "[limits]\nscan_page_keys = 2", async (node) => {
    const admin = await connectAs(node, "writer", "wp");
    const keys = ["a:1", "a:2", "secret:1", "shared", "user:1", "user:2", "user:3", "zz"];
    for (const key of keys) assert.equal(await reply(admin, `SET ${key} v`), "OK");
    await admin.close();
    const alice = await connectAs(node, "alice", "alicepw");
    try {
      assert.equal(await reply(alice, "SCAN"), "KEYS 2\nshared\nuser:1");
      assert.equal(await reply(alice, "SCAN AFTER user:1"), "KEYS 2\nuser:2\nuser:3");
      assert.equal(await reply(alice, "SCAN AFTER user:3"), "KEYS 0");
      assert.equal(await reply(alice, "SCAN user: AFTER user:2"), "KEYS 1\nuser:3");
      assert.equal(await reply(alice, "SCAN secret"), "KEYS 0");
    } finally {
      await alice.close();
    }
  });
});

Deno.test("before AUTH only AUTH and QUIT run; WRONGPASS for wrong, unknown and off users", async () => {
  await withNode(USERS, "", async (node) => {
    const client = await node.connect();
    try {
      for (const line of ["GET k", "PING", "ACL WHOAMI", "INFO", "NOSUCH", "SYNC ROOT"]) {
        assert.equal(await reply(client, line), NOAUTH, line);
      }
      assert.equal(await reply(client, "AUTH reader wrong"), WRONGPASS);
      assert.equal(await reply(client, "AUTH nobody rp"), WRONGPASS);
      assert.equal(await reply(client, "AUTH sleeper zp"), WRONGPASS);
      // No users file default: default is off.
      assert.equal(await reply(client, "AUTH rp"), WRONGPASS);
      assert.equal(await reply(client, "GET k"), NOAUTH);
      assert.equal(await reply(client, "AUTH hashed from-hash"), "OK");
      assert.equal(await reply(client, "ACL WHOAMI"), "USER hashed");
      // A failed AUTH keeps who the connection is.
      assert.equal(await reply(client, "AUTH reader wrong"), WRONGPASS);
      assert.equal(await reply(client, "ACL WHOAMI"), "USER hashed");
      assert.equal(await reply(client, "AUTH writer wp"), "OK");
      assert.equal(await reply(client, "ACL WHOAMI"), "USER writer");
    } finally {
      await client.close();
    }
    const admin = await connectAs(node, "admin", "ap");
    const info = await reply(admin, "INFO");
    await admin.close();
    assert.match(info, /\nauth_failures:5\n/);
    const raw = await RawSocket.connect(node.port);
    await raw.write("QUIT\r\n");
    await raw.waitClosed();
    assert.equal(raw.received, "");
  });
});

Deno.test("auth.password is the default user's: AUTH <password> and AUTH default <password>", async () => {
  await withNode("user admin on >ap ~* +@all", 'password = "defpw"', async (node) => {
    const client = await node.connect();
    try {
      assert.equal(await reply(client, "GET k"), NOAUTH);
      assert.equal(await reply(client, "AUTH nope"), WRONGPASS);
      assert.equal(await reply(client, "AUTH defpw"), "OK");
      assert.equal(await reply(client, "ACL WHOAMI"), "USER default");
      assert.equal(await reply(client, "SET k v"), "OK");
      assert.equal(await reply(client, "AUTH default defpw"), "OK");
      const list = await reply(client, "ACL LIST");
      assert.equal(
        list,
        `USERS 2\nuser admin on #${sha256Hex("ap")} ~* +@all\n` +
          `user default on #${sha256Hex("defpw")} ~* +@all`,
      );
    } finally {
      await client.close();
    }
  });
});

Deno.test("an unauthenticated line over 4 KiB gets ERROR line too long and is closed", async () => {
  await withNode(USERS, "", async (node) => {
    const long = "SET user:1 " + "v".repeat(5000) + "\r\n";
    const raw = await RawSocket.connect(node.port);
    await raw.write(long);
    await raw.waitClosed();
    assert.equal(raw.received, "ERROR line too long\r\n");
    // Once authenticated, the configured limit applies.
    const alice = await RawSocket.connect(node.port);
    await alice.write("AUTH alice alicepw\r\n" + long + "QUIT\r\n");
    await alice.waitClosed();
    assert.equal(alice.received, "OK\r\nOK\r\n");
  });
});

Deno.test("ACL LOAD keeps the old users when the file is broken, and closes removed users", async () => {
  const users = "user admin on >ap ~* +@all\nuser bob on >bp ~* +@read\n" +
    "user carol on >cp ~* +@read\nuser erin on >ep ~* +@read\n";
  await withNode(users, "", async (node, file) => {
    const admin = await connectAs(node, "admin", "ap");
    const bob = await RawSocket.connect(node.port);
    const carol = await RawSocket.connect(node.port);
    const erin = await connectAs(node, "erin", "ep");
    try {
      await bob.write("AUTH bob bp\r\n");
      await carol.write("AUTH carol cp\r\n");
      await bob.waitFor("bob's OK", (text) => text === "OK\r\n");
      await carol.waitFor("carol's OK", (text) => text === "OK\r\n");
      await file.write(users + "user dave on >dp +@bogus\n");
      assert.equal(
        await reply(admin, "ACL LOAD"),
        `ERROR Invalid users file ${file.path}:5: rule "+@bogus": unknown category "bogus" ` +
          "(read, write, admin, sync, all)",
      );
      await bob.write("PING\r\n");
      await bob.waitFor("bob's PONG", (text) => text.endsWith("PONG\r\n"));
      const again = await connectAs(node, "bob", "bp");
      await again.close();
      // bob removed, carol turned off, erin now may write, dave new.
      await file.write(
        "user admin on >ap ~* +@all\nuser carol off >cp ~* +@read\n" +
          "user erin on >ep ~* +@read +@write\nuser dave on >dp ~* +@read\n",
      );
      assert.equal(await reply(admin, "ACL LOAD"), "OK");
      await bob.waitClosed();
      await carol.waitClosed();
      assert.equal(await reply(erin, "SET k v"), "OK");
      const dave = await connectAs(node, "dave", "dp");
      await dave.close();
      const refused = await node.connect();
      assert.equal(await reply(refused, "AUTH bob bp"), WRONGPASS);
      assert.equal(await reply(refused, "AUTH carol cp"), WRONGPASS);
      await refused.close();
    } finally {
      await admin.close();
      await erin.close();
      bob.socket.destroy();
      carol.socket.destroy();
    }
  });
});

const FUZZ_SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20_261_207);
const FUZZ_WORDS = ["AUTH", "auth", "ACL", "acl", "WHOAMI", "LIST", "LOAD", "admin", "ap", "alice"]
  .concat(["alicepw", "default", "GET", "SET", "user:1", "secret", "", " ", "\t", "\x00", "\xff"]);

Deno.test(`random AUTH and ACL lines never crash a node (seed ${FUZZ_SEED})`, async () => {
  await withNode(USERS, "", async (node) => {
    const random = new SeededRandom(FUZZ_SEED);
    for (let connection = 0; connection < 20; connection++) {
      const raw = await RawSocket.connect(node.port);
      let lines = "";
      for (let line = 0; line < 30; line++) {
        const words: string[] = [];
        for (let word = 1 + random.below(4); word > 0; word--) {
          words.push(
            random.below(8) === 0 ? random.bytes(random.below(8)) : random.pick(FUZZ_WORDS),
          );
        }
        lines += words.join(" ").replace(/[\r\n]/g, "") + "\r\n";
      }
      await raw.write(lines + "QUIT\r\n");
      await raw.waitClosed();
      // Every line got its reply before QUIT closed the connection.
      assert.equal(raw.received.split("\r\n").length - 1 >= 30, true, raw.received);
    }
    const client = await connectAs(node, "admin", "ap");
    assert.equal(await reply(client, "PING"), "PONG");
    await client.close();
  });
});

Deno.test("pipelined GETs and SETs are checked against each form of key glob", async () => {
  const users = "user g on >gp ~cache:* ~*:tmp ~v*_* ~k?y ~exact +@all\n";
  await withNode(users, "", async (node) => {
    const raw = await RawSocket.connect(node.port);
    const allowed = ["cache:1", "a:tmp", "v100_0000123", "v_", "key", "kxy", "exact"];
    const refused = ["cache", "a:tmpx", "v100", "x100_1", "kiey", "exactly", "exac", "Cache:1"];
    let lines = "AUTH g gp\r\n";
    let expected = "OK\r\n";
    for (const key of allowed) {
      lines += `SET ${key} ${key}\r\nGET ${key}\r\n`;
      expected += `OK\r\nVALUE ${key}\r\n`;
    }
    for (const key of refused) {
      lines += `GET ${key}\r\nSET ${key} x\r\n`;
      expected += `${nopermKey("g", key)}\r\n`.repeat(2);
    }
    await raw.write(lines + "QUIT\r\n");
    await raw.waitClosed();
    assert.equal(raw.received, expected);
  });
});
