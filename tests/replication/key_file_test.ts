/**
 * replication.signing_key_file: one key per line, errors naming the file and line and never the
 * key, a warning when others may read the file.
 */

import assert from "node:assert/strict";
import { parseSigningKeys, readSigningKeyFile } from "../../src/replication/key_file.ts";
import { hex, keyIdOf } from "../../src/replication/signing.ts";
import { Logger } from "../../src/log.ts";

const KEY_A = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const KEY_B = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

Deno.test("parseSigningKeys() reads one key per line, in order, skipping blanks and comments", () => {
  const text = `# signing key first\n${KEY_A}\n\n  # the old key, still accepted\n\t${KEY_B}  \r\n`;
  const keys = parseSigningKeys(text, "k.keys");
  assert.deepEqual(keys.map((key) => new TextDecoder().decode(key.secret)), [KEY_A, KEY_B]);
  assert.equal(hex(keys[0]?.id ?? new Uint8Array()), hex(keyIdOf(new TextEncoder().encode(KEY_A))));
});

Deno.test("parseSigningKeys() names the file and line of a bad key, never the key", () => {
  const cases: [string, RegExp][] = [
    [
      `${KEY_A}\nshort-secret-value`,
      /"k\.keys" line 2: a key needs at least 32 characters, got 18/,
    ],
    [`${KEY_A}\n#\n${KEY_A}`, /"k\.keys" line 3: the same key as line 1/],
    [`${"x".repeat(1025)}`, /line 1: a key has at most 1024 characters, got 1025/],
    ["# only a comment\n\n", /"k\.keys": the file holds no key/],
    [Array.from({ length: 17 }, (_, i) => `${KEY_A}${i}`).join("\n"), /line 17: more than 16/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseSigningKeys(text, "k.keys"), (error: Error) => {
      assert.match(error.message, expected);
      assert.ok(!error.message.includes(KEY_A), "the key is not in the message");
      assert.ok(!error.message.includes("short-secret-value"), "nor a short one");
      return true;
    });
  }
});

Deno.test("readSigningKeyFile() warns when the file is readable by group or others", async () => {
  const path = await Deno.makeTempFile({ suffix: ".keys" });
  try {
    await Deno.writeTextFile(path, `${KEY_A}\n`);
    const lines: string[] = [];
    const log = new Logger("info", (line) => lines.push(line));
    await Deno.chmod(path, 0o600);
    assert.equal(readSigningKeyFile(path, log).length, 1);
    assert.deepEqual(lines, []);
    await Deno.chmod(path, 0o644);
    readSigningKeyFile(path, log);
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? "", /"event":"signing_key_file_readable_by_others"/);
    assert.match(lines[0] ?? "", /"mode":"644"/);
    assert.ok(!lines.join("").includes(KEY_A));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("readSigningKeyFile() names the file it cannot read", () => {
  const log = new Logger("error", () => {});
  assert.throws(
    () => readSigningKeyFile("/nonexistent/merklekv.keys", log),
    /Cannot read replication.signing_key_file "\/nonexistent\/merklekv.keys": /,
  );
});
