/**
 * HTTP Basic credentials on the operators' listener of a real node process (see
 * docs/observability.md, Authentication): /metrics, /status and /status.json need a user
 * allowed INFO once client authentication is on; the probes stay open; refused credentials
 * count as AUTH failures and are logged without the password.
 */

import assert from "node:assert/strict";
import { NodeProcess } from "../_support/node_process.ts";
import { connectAs, UsersFile } from "../_support/auth.ts";

const USERS = `
user ops on >ops-secret-pw +info
user reader on >reader-pw ~* +@read
`;
const GUARDED = ["/metrics", "/status", "/status.json"];
const PROBES = ["/livez", "/readyz", "/health"];

function basic(user: string, password: string): string {
  return "Basic " + btoa(`${user}:${password}`);
}

async function get(
  node: NodeProcess,
  path: string,
  authorization: string | null,
): Promise<{ status: number; body: string; headers: Headers }> {
  const headers: Record<string, string> = authorization === null ? {} : { authorization };
  const response = await fetch(`http://127.0.0.1:${node.httpPort}${path}`, { headers });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

async function authFailures(node: NodeProcess): Promise<number> {
  const client = await connectAs(node, "ops", "ops-secret-pw");
  const info = await client.info();
  await client.close();
  return Number(info.get("auth_failures"));
}

Deno.test("with a users file, the data pages need a user allowed INFO and the probes stay open", async () => {
  const file = await UsersFile.create(USERS);
  const node = await NodeProcess.start({
    httpPort: true,
    toml: `[auth]\nusers_file = "${file.path}"`,
  });
  try {
    for (const path of PROBES) assert.equal((await get(node, path, null)).status, 200, path);
    for (const path of GUARDED) {
      const anonymous = await get(node, path, null);
      assert.equal(anonymous.status, 401, path);
      assert.equal(
        anonymous.headers.get("www-authenticate"),
        'Basic realm="merklekv", charset="UTF-8"',
      );
      assert.doesNotMatch(anonymous.body, /merklekv_|node_id/);
      assert.equal((await get(node, path, basic("ops", "wrong"))).status, 401, path);
      assert.equal((await get(node, path, basic("nobody", "x"))).status, 401, path);
      const reader = await get(node, path, basic("reader", "reader-pw"));
      assert.equal(reader.status, 403, path);
      assert.equal(reader.headers.get("www-authenticate"), null);
      assert.equal((await get(node, path, basic("ops", "ops-secret-pw"))).status, 200, path);
    }
    const metrics = await get(node, "/metrics", basic("ops", "ops-secret-pw"));
    assert.match(metrics.body, /^merklekv_auth_failures_total 6$/m);
    const status = JSON.parse(
      (await get(node, "/status.json", basic("ops", "ops-secret-pw"))).body,
    );
    assert.equal(status.phase, "serving");
    // A wrong method is still 405 and an unknown path 404, credentials or not.
    const posted = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`, { method: "POST" });
    await posted.body?.cancel();
    assert.equal(posted.status, 405);
    assert.equal((await get(node, "/nothing", null)).status, 404);
  } finally {
    await node.cleanup();
    await file.remove();
  }
});

Deno.test("refused HTTP credentials count in auth_failures and are logged rate-limited, never with the password", async () => {
  const file = await UsersFile.create(USERS);
  const node = await NodeProcess.start({
    httpPort: true,
    toml: `[auth]\nusers_file = "${file.path}"`,
  });
  try {
    assert.equal(await authFailures(node), 0);
    for (let i = 0; i < 5; i++) {
      assert.equal((await get(node, "/metrics", basic("ops", `guess-${i}-pw`))).status, 401);
    }
    // No credentials at all is how a browser starts: asked for them, not a failure.
    assert.equal((await get(node, "/metrics", null)).status, 401);
    assert.equal(await authFailures(node), 5);
    const lines = node.stderr().split("\n").filter((line) => line.includes('"auth_failed"'));
    assert.ok(lines.length >= 1 && lines.length < 5, `rate-limited: ${lines.length} lines`);
    assert.match(lines[0] ?? "", /"user":"ops"/);
    assert.doesNotMatch(node.stderr(), /guess-\d-pw/);
  } finally {
    await node.cleanup();
    await file.remove();
  }
});

Deno.test("with auth.password, the user default's password opens /metrics, with or without its name", async () => {
  const node = await NodeProcess.start({
    httpPort: true,
    toml: `[auth]\npassword = "default-secret-pw"`,
  });
  try {
    assert.equal((await get(node, "/metrics", null)).status, 401);
    assert.equal((await get(node, "/metrics", basic("", "wrong"))).status, 401);
    assert.equal((await get(node, "/metrics", basic("", "default-secret-pw"))).status, 200);
    assert.equal((await get(node, "/status", basic("default", "default-secret-pw"))).status, 200);
    assert.equal((await get(node, "/readyz", null)).status, 200);
  } finally {
    await node.cleanup();
  }
});

Deno.test("without client authentication the data pages are open to all", async () => {
  const node = await NodeProcess.start({ httpPort: true });
  try {
    for (const path of GUARDED) assert.equal((await get(node, path, null)).status, 200, path);
    assert.equal((await get(node, "/metrics", basic("anyone", "anything"))).status, 200);
  } finally {
    await node.cleanup();
  }
});
