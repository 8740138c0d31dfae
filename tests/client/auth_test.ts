/**
 * MerkleKVClient's username/password options (see docs/client.md, Options) against a node in
 * this process that requires AUTH, and against a scripted server that records what it gets.
 */

import assert from "node:assert/strict";
import {
  ClientError,
  type ClientOptions,
  MerkleKVClient,
  ServerError,
} from "../../src/client/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import { silentLogger } from "../../src/log.ts";
import { type NodeHandle, startNode } from "../../src/node/start_node.ts";
import { withFakeServer } from "../_support/fake_server.ts";
import { UsersFile, WRONGPASS } from "../_support/auth.ts";

const DEFAULT_PASSWORD = "default-secret-pw";
const APP_PASSWORD = "app-secret-pw";

/** A node whose `default` has DEFAULT_PASSWORD and whose user `app` has APP_PASSWORD. */
async function withProtectedNode(test: (node: NodeHandle) => Promise<void>): Promise<void> {
  const users = await UsersFile.create(`user app on >${APP_PASSWORD} ~* +@all\n`);
  const defaults = structuredClone(DEFAULT_CONFIG);
  const config = {
    ...defaults,
    nodeId: "client-auth-test",
    bindPort: 0,
    auth: { ...defaults.auth, usersFile: users.path, password: DEFAULT_PASSWORD },
  };
  const node = await startNode(config, silentLogger);
  try {
    await test(node);
  } finally {
    await node.close();
    await users.remove();
  }
}

function connect(node: NodeHandle, options: Partial<ClientOptions>): Promise<MerkleKVClient> {
  return MerkleKVClient.connect({ port: node.port, timeoutMs: 5_000, ...options });
}

/** The error connect() rejects with. */
async function connectError(connecting: Promise<MerkleKVClient>): Promise<Error> {
  try {
    const client = await connecting;
    await client.close();
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail("connect() resolved");
}

Deno.test("MerkleKVClient.connect() with a password runs every typed method as that user", async () => {
  await withProtectedNode(async (node) => {
    for (
      const options of [{ password: DEFAULT_PASSWORD }, { username: "app", password: APP_PASSWORD }]
    ) {
      const client = await connect(node, options);
      try {
        const who = options.username ?? "default";
        assert.deepEqual(await client.request("ACL WHOAMI"), [`USER ${who}`]);
        await client.set(`${who}:k`, "v");
        assert.equal(await client.get(`${who}:k`), "v");
        assert.deepEqual(await client.getBytes(`${who}:k`), new TextEncoder().encode("v"));
        assert.equal(await client.incr(`${who}:n`, 5), 5n);
        assert.equal(await client.decr(`${who}:n`), 4n);
        assert.equal(await client.append(`${who}:k`, "w"), "vw");
        assert.equal(await client.prepend(`${who}:k`, "u"), "uvw");
        await client.mset({ [`${who}:a`]: "1", [`${who}:b`]: "2" });
        assert.deepEqual(
          await client.mget([`${who}:a`, `${who}:b`]),
          new Map([[`${who}:a`, "1"], [`${who}:b`, "2"]]),
        );
        assert.equal(await client.exists([`${who}:a`, `${who}:nope`]), 1);
        const keys = [];
        for await (const key of client.scan(`${who}:`)) keys.push(key);
        assert.deepEqual(keys, [`${who}:a`, `${who}:b`, `${who}:k`, `${who}:n`]);
        assert.ok(await client.dbsize() >= 4);
        assert.equal(await client.expire(`${who}:a`, 100), true);
        assert.equal(await client.ttl(`${who}:a`), 100);
        assert.equal(await client.persist(`${who}:a`), true);
        assert.equal(await client.del(`${who}:a`), true);
        assert.equal(await client.ping(), "PONG");
        assert.equal(await client.echo("hi"), "hi");
        assert.equal((await client.info()).get("node_id"), "client-auth-test");
        assert.match(await client.version(), /^\d+\.\d+\.\d+/);
        assert.match(await client.hash(), /^[0-9a-f]{16}$/);
        assert.deepEqual(client.unexpected, []);
      } finally {
        await client.close();
      }
    }
  });
});

Deno.test("MerkleKVClient.connect() with a wrong password rejects with WRONGPASS, never the password", async () => {
  await withProtectedNode(async (node) => {
    for (
      const options of [{ password: "wrong-pw-1" }, { username: "app", password: "wrong-pw-2" }]
    ) {
      const error = await connectError(connect(node, options));
      assert.ok(error instanceof ServerError, String(error));
      assert.equal(`ERROR ${error.message}`, WRONGPASS);
      assert.ok(!String(error.stack).includes(options.password));
    }
    // A user name that is no user gets the same refusal.
    const error = await connectError(connect(node, { username: "nobody", password: "x" }));
    assert.equal(`ERROR ${error.message}`, WRONGPASS);
  });
});

Deno.test("MerkleKVClient.connect() sends nothing after a refused AUTH", async () => {
  let received = "";
  const onData = (socket: { write(text: string): void }, chunk: string) => {
    received += chunk;
    socket.write("ERROR WRONGPASS invalid username-password pair or user is disabled\r\n");
  };
  await withFakeServer(onData, async (port) => {
    const error = await connectError(
      MerkleKVClient.connect({ port, timeoutMs: 5_000, username: "u", password: "bad-pw" }),
    );
    assert.ok(error instanceof ServerError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(received, "AUTH u bad-pw\r\n");
  });
});

Deno.test("MerkleKVClient with reconnect authenticates each new connection first", async () => {
  await withProtectedNode(async (node) => {
    const client = await connect(node, {
      username: "app",
      password: APP_PASSWORD,
      reconnect: true,
    });
    try {
      await client.set("r", "1");
      await client.quit();
      // Requests queued on the new connection go out behind its AUTH, in order.
      const [value, who] = await Promise.all([client.get("r"), client.request("ACL WHOAMI")]);
      assert.equal(value, "1");
      assert.deepEqual(who, ["USER app"]);
      await client.quit();
      assert.equal(await client.incr("count"), 1n);
    } finally {
      await client.close();
    }
  });
});

Deno.test("MerkleKVClient with reconnect fails queued requests when the new AUTH is refused", async () => {
  let connections = 0;
  let received = "";
  const onData = (socket: { write(text: string): void; end(): void }, chunk: string) => {
    received += chunk;
    if (connections++ === 0) {
      socket.write("OK\r\n");
      socket.end();
    } else {
      socket.write("ERROR WRONGPASS invalid username-password pair or user is disabled\r\n");
    }
  };
  await withFakeServer(onData, async (port) => {
    const client = await MerkleKVClient.connect({
      port,
      timeoutMs: 5_000,
      password: "pw-that-changed",
      reconnect: true,
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the server has closed it
      const error = await client.get("k").then(() => null, (failure: Error) => failure);
      assert.ok(error instanceof ServerError, String(error));
      assert.match(error.message, /^WRONGPASS /);
      assert.ok(!error.message.includes("pw-that-changed"));
      assert.ok(received.startsWith("AUTH pw-that-changed\r\nAUTH pw-that-changed\r\n"));
    } finally {
      await client.close();
    }
  });
});

Deno.test("MerkleKVClient.connect() refuses a username or password the server would not take", async () => {
  const cases: [Partial<ClientOptions>, RegExp][] = [
    [{ password: "has space" }, /^Invalid client option password: must be 1 to 128 printable/],
    [{ password: "" }, /^Invalid client option password/],
    [{ password: "x".repeat(129) }, /^Invalid client option password/],
    [{ password: "tab\there" }, /^Invalid client option password/],
    [{ password: "clé" }, /^Invalid client option password/],
    [{ username: "a b", password: "pw" }, /^Invalid client option username: must be/],
    [{ username: "app" }, /^Invalid client option username: needs a password/],
  ];
  for (const [options, message] of cases) {
    const error = await connectError(MerkleKVClient.connect({ port: 1, ...options }));
    assert.ok(error instanceof ClientError && !(error instanceof ServerError), String(error));
    assert.match(error.message, message);
    if (options.password) assert.ok(!error.message.includes(options.password));
  }
});

Deno.test("MerkleKVClient does not show its password when inspected", async () => {
  await withProtectedNode(async (node) => {
    const client = await connect(node, { password: DEFAULT_PASSWORD });
    try {
      assert.ok(!Deno.inspect(client, { depth: 10, showHidden: true }).includes(DEFAULT_PASSWORD));
    } finally {
      await client.close();
    }
  });
});
