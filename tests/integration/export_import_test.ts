/**
 * `merklekv export` and `merklekv import` with real processes (see docs/backup.md): a backup
 * file and a running node to JSON lines, and those lines into another node.
 */

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { tempDir } from "../persistence/support.ts";
import { reply, UsersFile } from "../_support/auth.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const BINARY = new Uint8Array([0, 255, 1, 128, 7]);

async function merklekv(args: string[]): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

async function fill(client: MerkleKVClient): Promise<void> {
  await client.set("text", "hello world");
  await client.set("utf8", "héllo");
  await client.set("binary", BINARY);
  await client.set("deleted", "x");
  await client.del("deleted");
  await client.set("expiring", "soon");
  await client.expire("expiring", 1000);
  for (let i = 0; i < 2500; i++) await client.set(`many:${i}`, `v${i}`);
}

async function assertImported(client: MerkleKVClient, source: string): Promise<void> {
  assert.equal(await client.dbsize(), 2504, source);
  assert.equal(await client.get("text"), "hello world", source);
  assert.equal(await client.get("utf8"), "héllo", source);
  assert.deepEqual(await client.getBytes("binary"), BINARY, source);
  assert.equal(await client.get("deleted"), null, source);
  const ttl = await client.ttl("expiring");
  assert.ok(ttl !== null && ttl > 990 && ttl <= 1000, `${source}: TTL ${ttl}`);
  assert.equal(await client.get("many:2499"), "v2499", source);
}

Deno.test("export of a backup file and of a running node, then import, round-trips every live key", async () => {
  const dir = await tempDir();
  const work = await tempDir();
  const source = await NodeProcess.start({ dataDir: dir });
  const targets = [await NodeProcess.start(), await NodeProcess.start()];
  try {
    const client = await source.connect();
    await fill(client);
    const [reply] = await client.request("SNAPSHOT");
    const backup = (reply ?? "").replace(/^OK /, "");
    assert.ok(fs.existsSync(backup), `SNAPSHOT replied ${reply}`);
    const fromFile = path.join(work, "file.jsonl");
    const fromNode = path.join(work, "node.jsonl");
    assert.equal((await merklekv(["export", "--file", backup, "--out", fromFile])).code, 0);
    const exported = await merklekv(["export", "--port", String(source.port), "--out", fromNode]);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = fs.readFileSync(fromFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2504);
    assert.ok(lines.every((line) => line.key !== "deleted" && typeof line.hlc === "number"));
    assert.equal(lines.find((line) => line.key === "binary")?.value_encoding, "base64");
    for (const [i, file] of [fromFile, fromNode].entries()) {
      const target = targets[i]!;
      const imported = await merklekv(["import", file, "--port", String(target.port)]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stderr, /"event":"import_done","imported":2504/);
      const targetClient = await target.connect();
      await assertImported(targetClient, file);
      await targetClient.close();
    }
    await client.close();
  } finally {
    await source.cleanup();
    for (const target of targets) await target.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** An export line with UTF-8 key and value. */
function line(key: string, value: string, expiresAtMs = 0): string {
  return JSON.stringify({
    format: 1,
    key,
    key_encoding: "utf8",
    value,
    value_encoding: "utf8",
    hlc: null,
    node: null,
    expires_at_ms: expiresAtMs,
  });
}

Deno.test("import keeps the file's order across MSET, SET and EXPIRE lines, and stops at a refused line", async () => {
  const work = await tempDir();
  const target = await NodeProcess.start({ toml: "[limits]\nmax_value_bytes = 50" });
  try {
    const inAnHour = Date.now() + 3_600_000;
    const lines = [
      line("dup", "first"),
      ...Array.from({ length: 250 }, (_, i) => line(`k:${i}`, `v${i}`)),
      line("dup", "second value"),
      line("empty", ""),
      line("expiring", "x", inAnHour),
      line("was-expiring", "y", inAnHour),
      line("was-expiring", "z"),
      line("past", "gone", 1_000),
    ];
    const file = path.join(work, "ordered.jsonl");
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const imported = await merklekv(["import", file, "--port", String(target.port)]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /"event":"import_done","imported":256,"expired":1/);
    const client = await target.connect();
    try {
      assert.equal(await client.dbsize(), 254);
      assert.equal(await client.get("dup"), "second value");
      assert.equal(await client.get("empty"), "");
      assert.equal(await client.get("k:249"), "v249");
      const ttl = await client.ttl("expiring");
      assert.ok(ttl !== null && ttl > 3590, `TTL ${ttl}`);
      assert.deepEqual(await client.request("TTL was-expiring"), await client.request("TTL k:0"));
      assert.equal(await client.get("was-expiring"), "z");
    } finally {
      await client.close();
    }
    const tooLong = path.join(work, "too_long.jsonl");
    fs.writeFileSync(tooLong, [line("a", "1"), line("b", "x".repeat(60))].join("\n") + "\n");
    const refused = await merklekv(["import", tooLong, "--port", String(target.port)]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /too_long\.jsonl lines [12] and after: M?SET [ab] \.\.\. answered ERROR value too long/,
    );
    const badKey = path.join(work, "bad_key.jsonl");
    fs.writeFileSync(badKey, [line("a", "1"), line("two words", "1")].join("\n") + "\n");
    const badKeyRun = await merklekv(["import", badKey, "--port", String(target.port)]);
    assert.equal(badKeyRun.code, 1);
    assert.match(badKeyRun.stderr, /bad_key\.jsonl line 2: the key is empty or holds whitespace/);
  } finally {
    await target.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

Deno.test("import into a node that refuses CONFIG GET sends SET lines within its small line limit", async () => {
  const work = await tempDir();
  const users = await UsersFile.create("user default on nopass ~* +@read +@write\n");
  const target = await NodeProcess.start({
    toml: `[auth]\nusers_file = "${users.path}"\n[limits]\nmax_key_bytes = 20\n` +
      "max_value_bytes = 20",
  });
  try {
    const file = path.join(work, "small.jsonl");
    const lines = Array.from({ length: 300 }, (_, i) => line(`k:${i}`, `value-${i}`));
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const imported = await merklekv(["import", file, "--port", String(target.port)]);
    assert.equal(imported.code, 0, imported.stderr);
    const client = await target.connect();
    try {
      assert.match(await reply(client, "CONFIG GET limits.max_line_bytes"), /^ERROR NOPERM/);
      assert.equal(await client.dbsize(), 300);
      assert.equal(await client.get("k:299"), "value-299");
    } finally {
      await client.close();
    }
  } finally {
    await target.cleanup();
    await users.remove();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
