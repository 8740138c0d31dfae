import assert from "node:assert/strict";
import { type CheckResult, healthAnswer, readyzAnswer } from "../../src/http/mod.ts";

const OK: CheckResult = { name: "recovery", status: "ok" };
const FAILED: CheckResult = { name: "log", status: "failed", reason: "disk full" };
const WARNING: CheckResult = { name: "replication", status: "warning", reason: "broker down" };

Deno.test("readyzAnswer() is 200 ok when no check failed, warnings included", () => {
  assert.deepEqual(readyzAnswer([OK], false), { status: 200, body: "ok\n" });
  assert.deepEqual(readyzAnswer([OK, WARNING], false), { status: 200, body: "ok\n" });
});

Deno.test("readyzAnswer() is 503 naming the failed check", () => {
  assert.deepEqual(readyzAnswer([OK, FAILED, WARNING], false), {
    status: 503,
    body: "[-]log failed: disk full\nreadyz check failed\n",
  });
});

Deno.test("readyzAnswer() with verbose gives one line per check", () => {
  assert.deepEqual(readyzAnswer([OK, FAILED, WARNING], true), {
    status: 503,
    body: "[+]recovery ok\n[-]log failed: disk full\n[!]replication warning: broker down\n" +
      "readyz check failed\n",
  });
  assert.equal(readyzAnswer([OK, WARNING], true).status, 200);
});

Deno.test("healthAnswer() says ok, degraded or down, 503 only for down", () => {
  const ok = healthAnswer([OK]);
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { status: "ok", checks: { recovery: { status: "ok" } } });
  const degraded = healthAnswer([OK, WARNING]);
  assert.equal(degraded.status, 200);
  assert.deepEqual(JSON.parse(degraded.body).checks.replication, {
    status: "warning",
    reason: "broker down",
  });
  assert.equal(JSON.parse(degraded.body).status, "degraded");
  const down = healthAnswer([OK, FAILED, WARNING]);
  assert.equal(down.status, 503);
  assert.equal(JSON.parse(down.body).status, "down");
});
