import assert from "node:assert/strict";
import { formatReply, isErrorReply, jsonValue } from "../../src/cli/format.ts";
import { toBinary } from "../../src/client/mod.ts";

Deno.test("formatReply() text prints every line of a reply, control bytes escaped", () => {
  assert.equal(formatReply(["OK"], "text"), "OK\n");
  assert.equal(
    formatReply(["VALUES 2", "a 1", "b NOT_FOUND"], "text"),
    "VALUES 2\na 1\nb NOT_FOUND\n",
  );
  assert.equal(formatReply(["VALUE a\x1b[2J\tb\r\x7f"], "text"), "VALUE a\\x1b[2J\tb\\x0d\\x7f\n");
  // UTF-8 bytes pass through unchanged, for the terminal to show.
  assert.equal(formatReply([toBinary("VALUE é")], "text"), toBinary("VALUE é") + "\n");
  assert.equal(formatReply(["KEYS 1", "k"], "text", "\r\n"), "KEYS 1\r\nk\r\n");
});

Deno.test("formatReply() raw gives back the bytes received, CRLF after each line", () => {
  assert.equal(formatReply(["VALUE a\x00\r\xff"], "raw"), "VALUE a\x00\r\xff\r\n");
  assert.equal(formatReply(["INFO", "keys:1", "END"], "raw"), "INFO\r\nkeys:1\r\nEND\r\n");
});

Deno.test("formatReply() json: a string per line reply, an array per block, an object per ERROR", () => {
  assert.equal(formatReply(["OK"], "json"), '"OK"\n');
  assert.equal(formatReply(["KEYS 0"], "json"), '["KEYS 0"]\n');
  assert.equal(formatReply(["INFO", "keys:1", "END"], "json"), '["INFO","keys:1","END"]\n');
  assert.equal(formatReply(["HELP 1", "PING - x"], "json"), '["HELP 1","PING - x"]\n');
  assert.equal(
    formatReply(['ERROR unknown command "X"'], "json"),
    '{"error":"unknown command \\"X\\""}\n',
  );
  assert.equal(formatReply([toBinary("VALUE é")], "json"), toBinary('"VALUE é"') + "\n");
});

Deno.test("jsonValue() turns bytes that are not UTF-8 into U+FFFD", () => {
  assert.equal(jsonValue(["VALUE \xff"]), "VALUE \ufffd");
});

Deno.test("isErrorReply() is true for ERROR lines only", () => {
  assert.ok(isErrorReply(["ERROR x"]));
  assert.ok(isErrorReply(["ERROR"]));
  assert.ok(!isErrorReply(["ERRORS 1"]));
  assert.ok(!isErrorReply(["VALUE ERROR x"]));
  assert.ok(!isErrorReply(["VALUES 1", "ERROR x"]));
});
