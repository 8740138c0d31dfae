/**
 * The single node over TCP, as a real process (main.ts): every command and error of
 * protocol v1, pipelining, binary values, line limits, QUIT, SHUTDOWN, SIGTERM and the CLI.
 */

import assert from "node:assert/strict";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { delay, waitUntil } from "../_support/ports.ts";

const MAX_VALUE_BYTES = 65_536;
const MAX_KEY_BYTES = 1_024;
/** The default: max_value_bytes + max_key_bytes + 64. */
const MAX_LINE_BYTES = MAX_VALUE_BYTES + MAX_KEY_BYTES + 64;
const MAX_REPLY_BYTES = 200_000;
/** MGET's reply size: per key, `key value` and CRLF. */
const HUGE_MGET_BYTES = 4 * ("huge".length + MAX_VALUE_BYTES + 3);

const LIMITS_TOML = `
[limits]
max_key_bytes = ${MAX_KEY_BYTES}
max_value_bytes = ${MAX_VALUE_BYTES}
max_keys_per_command = 100
scan_page_keys = 3
max_reply_bytes = ${MAX_REPLY_BYTES}
`;

/** [request, reply lines] in order; each request runs on one connection after the previous. */
const PROTOCOL_TABLE: [request: string, reply: [string, ...string[]]][] = [
  ["PING", ["PONG"]],
  ["ping hello there", ["PONG hello there"]],
  ["ECHO  two  spaces ", ["ECHO  two  spaces "]],
  ["VERSION", ["VERSION 0.1.0"]],
  ["HASH", ["HASH 0000000000000000"]],
  ["DBSIZE", ["DBSIZE 0"]],
  ["GET k", ["NOT_FOUND"]],
  ["SET k hello  world ", ["OK"]],
  ["GET k", ["VALUE hello  world "]],
  ["set Empty ", ["OK"]],
  ["GET Empty", ["VALUE "]],
  ["DEL Empty", ["DELETED"]],
  ["DELETE Empty", ["NOT_FOUND"]],
  ["INC n", ["VALUE 1"]],
  ["INCR n 41", ["VALUE 42"]],
  ["DEC n 2", ["VALUE 40"]],
  ["DECR n", ["VALUE 39"]],
  ["DEC fresh 5", ["VALUE -5"]],
  ["INC k", ["ERROR value is not a 64-bit integer"]],
  ["GET k", ["VALUE hello  world "]],
  ["SET big 9223372036854775807", ["OK"]],
  ["INC big", ["ERROR increment would overflow a 64-bit integer"]],
  ["GET big", ["VALUE 9223372036854775807"]],
  ["INC n 9223372036854775808", ['ERROR amount is not a 64-bit integer: "9223372036854775808"']],
  ["INC n x", ['ERROR amount is not a 64-bit integer: "x"']],
  ["APPEND s  tail", ["VALUE  tail"]],
  ["PREPEND s head", ["VALUE head tail"]],
  ["MSET a 1 b 2 c 3", ["OK"]],
  ["MSET a 1 b", ["ERROR wrong number of arguments for MSET"]],
  ["MGET a nope c", ["VALUES 3", "a 1", "nope NOT_FOUND", "c 3"]],
  ["EXISTS a b nope a", ["EXISTS 3"]],
  ["SCAN", ["KEYS 3", "a", "b", "big"]],
  ["SCAN AFTER big", ["KEYS 3", "c", "fresh", "k"]],
  ["SCAN AFTER n", ["KEYS 1", "s"]],
  ["SCAN b", ["KEYS 2", "b", "big"]],
  ["SCAN b AFTER b", ["KEYS 1", "big"]],
  ["SCAN a b", ["ERROR usage: SCAN [prefix] [AFTER key]"]],
  ["SCAN AFTER", ["ERROR usage: SCAN [prefix] [AFTER key]"]],
  ["DBSIZE", ["DBSIZE 8"]],
  ["TTL a", ["TTL -1"]],
  ["EXPIRE a 100", ["OK"]],
  ["TTL a", ["TTL 100"]],
  ["PERSIST a", ["OK"]],
  ["TTL a", ["TTL -1"]],
  ["EXPIRE a 0", ["OK"]],
  ["GET a", ["NOT_FOUND"]],
  ["TTL a", ["NOT_FOUND"]],
  ["PERSIST a", ["NOT_FOUND"]],
  ["EXPIRE a 10", ["NOT_FOUND"]],
  ["EXPIRE b -1", ["OK"]],
  ["EXISTS b", ["EXISTS 0"]],
  ["EXPIRE c ten", ['ERROR seconds is not an integer: "ten"']],
  [
    "EXPIRE c 99999999999999999999",
    ["ERROR seconds out of range: 99999999999999999999 (must be -9000000000000..9000000000000)"],
  ],
  ["SETX k v", ['ERROR unknown command "SETX"']],
  ["Z".repeat(100), [`ERROR unknown command "${"Z".repeat(64)}..."`]],
  ["GET", ["ERROR wrong number of arguments for GET"]],
  ["GET a b", ["ERROR wrong number of arguments for GET"]],
  ["SET k", ["ERROR wrong number of arguments for SET"]],
  ["ECHO", ["ERROR wrong number of arguments for ECHO"]],
  ["DBSIZE now", ["ERROR wrong number of arguments for DBSIZE"]],
  [`GET ${"k".repeat(2000)}`, ["ERROR key too long: 2000 bytes, max 1024"]],
  [`SET ${"k".repeat(1025)} v`, ["ERROR key too long: 1025 bytes, max 1024"]],
  ["GET a\x01b", ["ERROR key contains whitespace or control characters"]],
  ["GET a\tb", ["ERROR key contains whitespace or control characters"]],
  [
    `SET k ${"v".repeat(MAX_VALUE_BYTES + 1)}`,
    [`ERROR value too long: ${MAX_VALUE_BYTES + 1} bytes, max ${MAX_VALUE_BYTES}`],
  ],
  [
    `MGET ${Array.from({ length: 101 }, (_, i) => `k${i}`).join(" ")}`,
    ["ERROR too many keys: 101, max 100"],
  ],
  ["", ["ERROR empty command"]],
  ["SYNC", ["ERROR wrong number of arguments for SYNC"]],
  [`SET huge ${"h".repeat(MAX_VALUE_BYTES)}`, ["OK"]],
  [
    "MGET huge huge huge huge",
    [`ERROR reply too large: ${HUGE_MGET_BYTES} bytes, max ${MAX_REPLY_BYTES} (ask for fewer keys)`],
  ],
  ["TRUNCATE", ["OK"]],
  ["DBSIZE", ["DBSIZE 0"]],
  ["SET again 1", ["OK"]],
  ["FLUSHDB", ["OK"]],
  ["GET again", ["NOT_FOUND"]],
];

Deno.test("a node answers protocol v1 over TCP", async (t) => {
  const node = await NodeProcess.start({ toml: LIMITS_TOML });
  const client = await node.connect();
  try {
    await t.step("every command and error of the protocol table, in order", async () => {
      for (const [request, expected] of PROTOCOL_TABLE) {
        const label = request.length > 60 ? request.slice(0, 60) + "…" : request;
        assert.deepEqual(await client.request(request), expected, label);
      }
    });

    await t.step("the connection stays usable after every error", async () => {
      // Errors that do not depend on what the store holds.
      const errors = PROTOCOL_TABLE.filter(([request, reply]) =>
        reply[0].startsWith("ERROR") && !/^(INC (k|big)|MGET huge.*)$/.test(request)
      );
      const lines = errors.flatMap(([request]) => [request, "PING"]);
      const replies = await client.pipeline(lines);
      for (const [i, [, expected]] of errors.entries()) {
        assert.deepEqual(replies[2 * i], expected);
        assert.deepEqual(replies[2 * i + 1], ["PONG"]);
      }
    });

    await t.step("INFO and STATS list name:value fields between INFO and END", async () => {
      await client.request("SET x 1");
      for (const word of ["INFO", "STATS"]) {
        const lines = await client.request(word);
        assert.equal(lines[0], "INFO");
        assert.equal(lines.at(-1), "END");
        for (const line of lines.slice(1, -1)) assert.match(line, /^[a-z_]+:/);
      }
      const info = await client.info();
      assert.equal(info.get("version"), "0.1.0");
      assert.equal(info.get("node_id"), node.nodeId);
      assert.equal(info.get("keys"), "1");
      assert.ok(Number(info.get("tombstones")) > 0);
      assert.equal(info.get("connections"), "1");
      assert.ok(Number(info.get("commands_processed")) > PROTOCOL_TABLE.length);
      assert.ok(Number(info.get("memory_rss_bytes")) > 0);
      assert.match(info.get("uptime_seconds") ?? "", /^\d+$/);
      assert.equal(info.get("merkle_root"), await client.hash());
    });

    await t.step("1,000 commands pipelined in one write are answered in order", async () => {
      const lines: string[] = [];
      for (let i = 0; i < 500; i++) lines.push(`SET p${i} ${i}`, `GET p${i}`);
      const received = await exchangeRaw(node.port, lines.join("\r\n") + "\r\n", lines.length);
      const expected = lines.map((_, i) => i % 2 === 0 ? "OK" : `VALUE ${(i - 1) / 2}`);
      assert.deepEqual(received, expected);
    });

    await t.step("requests ending in a bare LF are accepted, mixed with CRLF", async () => {
      const received = await exchangeRaw(node.port, "SET lf 1\nGET lf\r\nPING\n", 3);
      assert.deepEqual(received, ["OK", "VALUE 1", "PONG"]);
    });

    await t.step("every byte but CR and LF round-trips in values and keys", async () => {
      let value = "";
      for (let byte = 0; byte < 256; byte++) {
        if (byte !== 10 && byte !== 13) value += String.fromCharCode(byte);
      }
      const key = "bin\x80\xc3\x28\xff\xfe~";
      assert.deepEqual(await client.request(`SET ${key} ${value}`), ["OK"]);
      assert.deepEqual(await client.request(`GET ${key}`), [`VALUE ${value}`]);
      assert.deepEqual(await client.request(`MGET ${key}`), ["VALUES 1", `${key} ${value}`]);
      assert.deepEqual(await client.request(`APPEND ${key} \xff`), [`VALUE ${value}\xff`]);
      assert.deepEqual(await client.request(`ECHO ${value}`), [`ECHO ${value}`]);
      // A value that is invalid UTF-8 throughout, checked at the byte level.
      const raw = await RawSocket.connect(node.port);
      try {
        await raw.write("SET raw \xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc\r\nGET raw\r\n");
        await raw.waitFor("two replies", (text) => text.split("\r\n").length > 2);
        assert.equal(raw.received, "OK\r\nVALUE \xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc\r\n");
      } finally {
        await raw.destroy();
      }
    });

    await t.step(
      "a line over max_line_bytes gets ERROR line too long, then the close",
      async () => {
        const raw = await RawSocket.connect(node.port);
        try {
          await raw.write("PING\r\n" + "x".repeat(MAX_LINE_BYTES + 1));
          await raw.waitClosed();
          assert.equal(raw.received, "PONG\r\nERROR line too long\r\n");
        } finally {
          await raw.destroy();
        }
      },
    );

    await t.step("a line of exactly max_line_bytes is read as a request", async () => {
      const value = "v".repeat(MAX_LINE_BYTES - "SET exact ".length);
      const reply = await client.request(`SET exact ${value}`);
      assert.deepEqual(reply, [
        `ERROR value too long: ${value.length} bytes, max ${MAX_VALUE_BYTES}`,
      ]);
    });

    await t.step("an endless line is refused before its end, and not kept", async () => {
      // The client keeps sending after the server's close: the node must neither wait for the
      // line end nor keep what arrives afterwards (heap, where a buffered line would live).
      const heapUsed = async () => Number((await client.info()).get("memory_heap_used_bytes"));
      const before = await heapUsed();
      const raw = await RawSocket.connect(node.port, { allowHalfOpen: true });
      const chunk = "y".repeat(1024 * 1024);
      try {
        // The line never ends: the reply can only come from the limit.
        for (let i = 0; i < 4; i++) await raw.write(chunk);
        await raw.waitFor("the error", (text) => text.includes("\r\n"));
        assert.equal(raw.received, "ERROR line too long\r\n");
        for (let i = 0; i < 96; i++) await raw.write(chunk);
        await delay(200);
        const grownBytes = await heapUsed() - before;
        assert.ok(grownBytes < 32 * 1024 * 1024, `heap grew by ${grownBytes} bytes`);
      } finally {
        await raw.destroy();
      }
    });

    await t.step("QUIT answers the requests before it, then closes", async () => {
      const raw = await RawSocket.connect(node.port);
      try {
        await raw.write("SET q 1\r\nQUIT\r\nGET q\r\n");
        await raw.waitClosed();
        assert.equal(raw.received, "OK\r\n");
      } finally {
        await raw.destroy();
      }
      assert.deepEqual(await client.request("GET q"), ["VALUE 1"]);
    });

    await t.step("a partial request is answered once its line end arrives", async () => {
      const raw = await RawSocket.connect(node.port);
      try {
        for (const part of ["G", "ET", " q", "\r", "\nPI", "NG\r\n"]) await raw.write(part);
        await raw.waitFor("two replies", (text) => text === "VALUE 1\r\nPONG\r\n");
      } finally {
        await raw.destroy();
      }
    });
  } finally {
    await client.close();
    await node.cleanup();
  }
});

/** Writes `bytes` in one write on a fresh connection; returns the first `count` reply lines. */
async function exchangeRaw(port: number, bytes: string, count: number): Promise<string[]> {
  const raw = await RawSocket.connect(port);
  try {
    await raw.write(bytes);
    await raw.waitFor(`${count} reply lines`, (text) => text.split("\r\n").length > count);
    return raw.received.split("\r\n").slice(0, count);
  } finally {
    await raw.destroy();
  }
}

Deno.test("SHUTDOWN from a loopback client answers OK and the process exits 0", async () => {
  const node = await NodeProcess.start();
  try {
    const client = await node.connect();
    assert.deepEqual(await client.request("SHUTDOWN"), ["OK"]);
    const status = await node.exited;
    await client.close();
    assert.equal(status.code, 0);
    assert.match(node.stderr(), /"event":"node_stopping".*"reason":"SHUTDOWN"/);
  } finally {
    await node.cleanup();
  }
});

Deno.test("SIGTERM stops accepting, answers every request received, then exits 0", async () => {
  const node = await NodeProcess.start({
    toml: "[limits]\nmax_pending_reply_bytes = 1048576",
  });
  try {
    const idle = await RawSocket.connect(node.port);
    const setup = await node.connect();
    const value = "v".repeat(60_000);
    await setup.request(`SET big ${value}`);
    await setup.close();
    // A client that sent 500 GETs (30 MB of replies) in one write and does not read yet: the
    // node has read them all but can answer only as fast as the client reads.
    const busy = await RawSocket.connect(node.port);
    busy.keepText = false;
    busy.socket.pause();
    await busy.write("GET big\r\n".repeat(500));
    await waitUntil("the node to start answering", async () => {
      const probe = await node.connect();
      const info = await probe.info();
      await probe.close();
      return Number(info.get("commands_processed")) > 3;
    }, 10_000);
    const status = node.stop("SIGTERM");
    await idle.waitClosed();
    assert.equal(idle.received, "", "an idle client is closed without a word");
    await assert.rejects(RawSocket.connect(node.port), "no new connection is accepted");
    busy.socket.resume();
    await busy.waitClosed(20_000);
    assert.equal((await status).code, 0);
    const replyBytes = "VALUE ".length + value.length + 2;
    assert.equal(busy.receivedBytes, 500 * replyBytes, "every GET received was answered");
    assert.match(node.stderr(), /"event":"node_stopped".*"reason":"SIGTERM"/);
    // Structured logs: one JSON object per line, each with time, level and event.
    for (const line of node.stderr().trim().split("\n")) {
      const record = JSON.parse(line);
      assert.ok(record.ts && record.level && record.event, line);
    }
  } finally {
    await node.cleanup();
  }
});

Deno.test("SIGINT stops the node and exits 0", async () => {
  const node = await NodeProcess.start();
  try {
    const client = await node.connect();
    assert.deepEqual(await client.request("PING"), ["PONG"]);
    const status = await node.stop("SIGINT");
    await client.close();
    assert.equal(status.code, 0);
    assert.match(node.stderr(), /"event":"node_stopped".*"reason":"SIGINT"/);
  } finally {
    await node.cleanup();
  }
});

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("merklekv --help and --version print and exit 0", async () => {
  const help = await runMain(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: merklekv/);
  assert.match(help.stdout, /--config/);
  const version = await runMain(["--version"]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), "merklekv 0.1.0");
});

Deno.test("merklekv --check exits 0 for a valid config and 2 naming the key of a bad one", async () => {
  const good = await Deno.makeTempFile({ suffix: ".toml" });
  const bad = await Deno.makeTempFile({ suffix: ".toml" });
  const typo = await Deno.makeTempFile({ suffix: ".toml" });
  try {
    await Deno.writeTextFile(good, 'node_id = "checked"\n[limits]\nmax_connections = 50\n');
    await Deno.writeTextFile(bad, 'node_id = "checked"\n[limits]\nmax_connections = -5\n');
    await Deno.writeTextFile(typo, 'node_id = "checked"\nbind_prot = 7000\n');
    const valid = await runMain(["--config", good, "--check"]);
    assert.equal(valid.code, 0, valid.stderr);
    assert.match(valid.stdout, /node_id = "checked"/);
    assert.match(valid.stdout, /max_connections = 50/);
    const invalid = await runMain(["--config", bad, "--check"]);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /limits\.max_connections/);
    assert.match(invalid.stderr, /-5/);
    assert.equal(invalid.stderr.trim().split("\n").length, 1, "one line");
    const unknown = await runMain(["--config", typo, "--check"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /bind_prot/);
  } finally {
    for (const path of [good, bad, typo]) await Deno.remove(path);
  }
});
