import assert from "node:assert/strict";
import { formatJsonLine, parseJsonLine, parseJsonLineWire } from "../../src/tools/mod.ts";

const text = new TextEncoder();

Deno.test("an export line keeps UTF-8 as text and other bytes as base64, and parses back", () => {
  const entry = {
    key: text.encode("user:é"),
    value: new Uint8Array([0, 255, 1, 128]),
    hlc: 123456,
    node: "node-a",
    expiresAtMs: 1_700_000_000_000,
  };
  const line = formatJsonLine(entry);
  assert.deepEqual(JSON.parse(line), {
    format: 1,
    key: "user:é",
    key_encoding: "utf8",
    value: "AP8BgA==",
    value_encoding: "base64",
    hlc: 123456,
    node: "node-a",
    expires_at_ms: 1_700_000_000_000,
  });
  assert.deepEqual(parseJsonLine(line), { ok: true, entry });
  // For a writer: the same bytes, one code unit each (what goes on the wire).
  assert.deepEqual(parseJsonLineWire(line), {
    ok: true,
    entry: { key: "user:\xc3\xa9", value: "\x00\xff\x01\x80", expiresAtMs: 1_700_000_000_000 },
  });
});

Deno.test("parseJsonLine() and parseJsonLineWire() say which field of a line is wrong", () => {
  const cases: [string, RegExp][] = [
    ["{", /^not JSON/],
    ["[]", /"format" must be 1/],
    ['{"format":1,"key":1}', /"key" must be a string/],
    ['{"format":1,"key":"k","key_encoding":"hex"}', /"key_encoding" must be/],
    [
      '{"format":1,"key":"k","key_encoding":"utf8","value":"v","value_encoding":"utf8",' +
      '"expires_at_ms":-1}',
      /"expires_at_ms" must be an integer/,
    ],
  ];
  for (const [line, message] of cases) {
    for (const parsed of [parseJsonLine(line), parseJsonLineWire(line)]) {
      assert.ok(!parsed.ok, line);
      assert.match(parsed.error, message, line);
    }
  }
});
