import assert from "node:assert/strict";
import {
  BASIC_CHALLENGE,
  needsCredentials,
  parseBasicAuthorization,
  refusalResponse,
} from "../../src/http/mod.ts";

const basic = (text: string) =>
  "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode(text)));

Deno.test("parseBasicAuthorization() reads the user and a password that may hold colons", () => {
  assert.deepEqual(parseBasicAuthorization(basic("ops:se:cret")), {
    user: "ops",
    password: "se:cret",
  });
  assert.deepEqual(parseBasicAuthorization(basic(":pw")), { user: "", password: "pw" });
  assert.deepEqual(parseBasicAuthorization("bAsIc  " + btoa("a:b")), { user: "a", password: "b" });
  assert.deepEqual(parseBasicAuthorization(basic("jörg:päss")), {
    user: "jörg",
    password: "päss",
  });
});

Deno.test("parseBasicAuthorization() gives null for no header, another scheme or broken base64", () => {
  for (
    const header of [
      null,
      "",
      "Bearer abc",
      "Basic",
      "Basic !!!",
      "Basic " + btoa("no-colon"),
      "Basic " + btoa("\xff\xfe:x"),
    ]
  ) {
    assert.equal(parseBasicAuthorization(header), null, String(header));
  }
});

Deno.test("needsCredentials() guards the data pages and leaves the probes open", () => {
  for (const path of ["/metrics", "/status", "/status.json"]) assert.ok(needsCredentials(path));
  for (const path of ["/livez", "/readyz", "/health", "/nothing"]) {
    assert.ok(!needsCredentials(path), path);
  }
});

Deno.test("refusalResponse() answers 401 with the Basic challenge, or 403 without one", async () => {
  const unauthorized = refusalResponse("unauthorized");
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.headers.get("www-authenticate"), BASIC_CHALLENGE);
  await unauthorized.body?.cancel();
  const forbidden = refusalResponse("forbidden");
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.headers.get("www-authenticate"), null);
  assert.match(await forbidden.text(), /INFO/);
});
