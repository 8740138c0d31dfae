import assert from "node:assert/strict";
import { withFakeServer } from "../_support/fake_server.ts";
import * as net from "node:net";
import { ClientError, fromBinary, MerkleKVClient, toBinary } from "../../src/client/mod.ts";
import { withNode } from "../_support/in_process_node.ts";

Deno.test("MerkleKVClient.pipeline() resolves replies in request order", async () => {
  await withNode(async (client) => {
    const lines = [];
    for (let i = 0; i < 500; i++) lines.push(`SET k${i} v${i}`, `GET k${i}`, `INC n`);
    const replies = await client.pipeline(lines);
    assert.equal(replies.length, lines.length);
    for (let i = 0; i < 500; i++) {
      assert.deepEqual(replies[3 * i], ["OK"]);
      assert.deepEqual(replies[3 * i + 1], [`VALUE v${i}`]);
      assert.deepEqual(replies[3 * i + 2], [`VALUE ${i + 1}`]);
    }
  });
});

Deno.test("MerkleKVClient frames multi-line replies by their header", async () => {
  await withNode(async (client) => {
    await client.pipeline(["SET a 1", "SET b KEYS 3", "SET c VALUES 2"]);
    const [mget, scan, info, get, empty] = await client.pipeline([
      "MGET a missing c",
      "SCAN",
      "INFO",
      "GET b",
      "SCAN zzz",
    ]);
    assert.deepEqual(mget, ["VALUES 3", "a 1", "missing NOT_FOUND", "c VALUES 2"]);
    assert.deepEqual(scan, ["KEYS 3", "a", "b", "c"]);
    assert.ok(info !== undefined, "a reply to INFO");
    assert.equal(info[0], "INFO");
    assert.equal(info.at(-1), "END");
    assert.ok(info.includes("node_id:client-test"));
    assert.deepEqual(get, ["VALUE KEYS 3"]);
    assert.deepEqual(empty, ["KEYS 0"]);
    assert.deepEqual(client.unexpected, []);
  });
});

Deno.test("MerkleKVClient helpers read and write keys, hash and info", async () => {
  await withNode(async (client) => {
    assert.equal(await client.get("k"), null);
    await client.set("k", " spaced  value ");
    assert.equal(await client.get("k"), " spaced  value ");
    assert.match(await client.hash(), /^[0-9a-f]{16}$/);
    assert.equal((await client.info()).get("keys"), "1");
    assert.equal(await client.del("k"), true);
    assert.equal(await client.del("k"), false);
    await assert.rejects(client.set("bad\tkey", "v"), ClientError);
  });
});

Deno.test("MerkleKVClient stores values with CR and refuses one with LF before writing it", async () => {
  await withNode(async (client) => {
    await client.set("k", "a\rb\r");
    assert.equal(await client.get("k"), "a\rb\r");
    await assert.rejects(client.set("k", "a\nDEL k"), /value contains LF/);
    await assert.rejects(client.request("SET k a\nDEL k"), /request holds LF/);
    // Nothing was sent: the connection is in step and the key unchanged.
    assert.equal(await client.get("k"), "a\rb\r");
  });
});

Deno.test("toBinary() and fromBinary() convert UTF-8 text to wire bytes and back", async () => {
  const text = "héllo wörld ✓";
  const binary = toBinary(text);
  assert.equal(binary.length, new TextEncoder().encode(text).length);
  assert.equal(fromBinary(binary), text);
  await withNode(async (client) => {
    // Raw lines carry binary strings; the typed methods send and read the same UTF-8 bytes.
    assert.deepEqual(await client.request(`SET greeting ${binary}`), ["OK"]);
    assert.equal(await client.get("greeting"), text);
    await client.set("typed", text);
    assert.deepEqual(await client.request("GET typed"), [`VALUE ${binary}`]);
  });
});

Deno.test("MerkleKVClient reassembles replies split at every byte", async () => {
  const reply = "VALUES 2\r\na 1\r\nb NOT_FOUND\r\nOK\r\nINFO\r\nx:1\r\nEND\r\nVALUE v\n";
  await withFakeServer(
    (socket) => {
      let i = 0;
      const send = () => {
        if (i >= reply.length || socket.destroyed) return;
        socket.write(reply.charAt(i++));
        setTimeout(send, 0);
      };
      send();
    },
    async (port) => {
      const client = await MerkleKVClient.connect({ port, timeoutMs: 5_000 });
      try {
        const replies = await client.pipeline(["MGET a b", "SET a 1", "INFO", "GET a"]);
        assert.deepEqual(replies, [
          ["VALUES 2", "a 1", "b NOT_FOUND"],
          ["OK"],
          ["INFO", "x:1", "END"],
          ["VALUE v"],
        ]);
      } finally {
        await client.close();
      }
    },
  );
});

Deno.test("MerkleKVClient rejects a request not answered within the timeout", async () => {
  await withFakeServer(
    () => {},
    async (port) => {
      const client = await MerkleKVClient.connect({ port, timeoutMs: 200 });
      try {
        const started = Date.now();
        await assert.rejects(client.request("PING"), (error: Error) => {
          assert.ok(error instanceof ClientError);
          assert.equal(error.message, "no reply within 200 ms");
          return true;
        });
        assert.ok(Date.now() - started >= 150);
        await assert.rejects(
          client.request("PING"),
          ClientError,
          "a timed-out client stays failed",
        );
      } finally {
        await client.close();
      }
    },
  );
});

Deno.test("MerkleKVClient rejects pending and later requests when the server closes", async () => {
  await withFakeServer(
    (socket, received) => {
      if (received.includes("PING")) socket.write("PONG\r\n");
      if (received.includes("CLOSE")) socket.end();
    },
    async (port) => {
      const client = await MerkleKVClient.connect({ port, timeoutMs: 5_000 });
      try {
        assert.deepEqual(await client.request("PING"), ["PONG"]);
        await assert.rejects(client.pipeline(["CLOSE", "GET a"]), /connection closed/);
        await assert.rejects(client.request("PING"), /connection closed/);
      } finally {
        await client.close();
      }
    },
  );
});

Deno.test("MerkleKVClient.connect() rejects when nothing listens on the port", async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  await assert.rejects(MerkleKVClient.connect({ port, timeoutMs: 2_000 }));
});

Deno.test("MerkleKVClient keeps reply lines that answer no request apart", async () => {
  await withFakeServer(
    (socket) => socket.write("PONG\r\nSURPRISE\r\n"),
    async (port) => {
      const client = await MerkleKVClient.connect({ port, timeoutMs: 5_000 });
      try {
        assert.deepEqual(await client.request("PING"), ["PONG"]);
        await waitFor(() => client.unexpected.length > 0);
        assert.deepEqual(client.unexpected, ["SURPRISE"]);
      } finally {
        await client.close();
      }
    },
  );
});

Deno.test("MerkleKVClient.close() resolves once the connection is closed, twice too", async () => {
  await withNode(async (_client, node) => {
    const other = await MerkleKVClient.connect({ port: node.port });
    await other.request("PING");
    await other.close();
    await other.close();
    await assert.rejects(other.request("PING"), ClientError);
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("MerkleKVClient fails a reply larger than maxReplyBytes instead of buffering it", async () => {
  for (
    const reply of ["VALUE " + "x".repeat(5000) + "\r\n", "KEYS 1000\r\n" + "key\r\n".repeat(1000)]
  ) {
    await withFakeServer(
      (socket) => socket.write(reply),
      async (port) => {
        const client = await MerkleKVClient.connect({ port, maxReplyBytes: 4096 });
        try {
          await assert.rejects(client.request("GET k"), (error: Error) => {
            assert.ok(error instanceof ClientError);
            assert.equal(error.message, "reply larger than 4096 bytes");
            return true;
          });
        } finally {
          await client.close();
        }
      },
    );
  }
});
