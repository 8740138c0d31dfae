import assert from "node:assert/strict";
import {
  COUNTED_REPLY_HEADERS,
  DELETED,
  errorReply,
  helpReply,
  infoReply,
  keysReply,
  NOT_FOUND,
  numberReply,
  OK,
  PiecewiseReply,
  PONG,
  replyLineCount,
  valueReply,
  valuesReply,
} from "../../src/protocol/reply.ts";
import { nth } from "../_support/nth.ts";

Deno.test("fixed replies are one word ending in CRLF", () => {
  assert.equal(OK, "OK\r\n");
  assert.equal(NOT_FOUND, "NOT_FOUND\r\n");
  assert.equal(DELETED, "DELETED\r\n");
  assert.equal(PONG, "PONG\r\n");
});

Deno.test("errorReply() is one ERROR line even when the message quotes a line end", () => {
  assert.equal(errorReply('unknown command "SETX"'), 'ERROR unknown command "SETX"\r\n');
  assert.equal(errorReply("bad\r\nthing\n"), "ERROR bad  thing \r\n");
});

Deno.test("valueReply() keeps the value's bytes and spaces unchanged", () => {
  assert.equal(valueReply(""), "VALUE \r\n");
  assert.equal(valueReply(" a  b "), "VALUE  a  b \r\n");
  assert.equal(valueReply("\x00\x80\xff"), "VALUE \x00\x80\xff\r\n");
});

Deno.test("numberReply() writes the word and the number", () => {
  assert.equal(numberReply("DBSIZE", 3), "DBSIZE 3\r\n");
  assert.equal(numberReply("TTL", -1), "TTL -1\r\n");
  assert.equal(numberReply("EXISTS", 2n ** 63n - 1n), "EXISTS 9223372036854775807\r\n");
});

Deno.test("valuesReply() counts the keys and answers each in request order", () => {
  assert.equal(
    valuesReply(["b", "a", "c"], ["2", undefined, ""]),
    "VALUES 3\r\nb 2\r\na NOT_FOUND\r\nc \r\n",
  );
  assert.equal(valuesReply([], []), "VALUES 0\r\n");
});

Deno.test("keysReply() counts the keys, one per line", () => {
  assert.equal(keysReply(["a", "b"]), "KEYS 2\r\na\r\nb\r\n");
  assert.equal(keysReply([]), "KEYS 0\r\n");
});

Deno.test("helpReply() counts the lines, one per line", () => {
  assert.equal(
    helpReply(["GET key - Replies VALUE <value>", "DBSIZE - Replies DBSIZE <n>"]),
    "HELP 2\r\nGET key - Replies VALUE <value>\r\nDBSIZE - Replies DBSIZE <n>\r\n",
  );
  assert.equal(helpReply([]), "HELP 0\r\n");
});

Deno.test("infoReply() writes name:value lines between INFO and END, each on one line", () => {
  assert.equal(
    infoReply([["version", "1.2.3"], ["keys", 5], ["note", "two\r\nlines"]]),
    "INFO\r\nversion:1.2.3\r\nkeys:5\r\nnote:two  lines\r\nEND\r\n",
  );
});

Deno.test("replyLineCount() tells how many lines follow each header", () => {
  assert.equal(replyLineCount("VALUES 3"), 3);
  assert.equal(replyLineCount("KEYS 0"), 0);
  assert.equal(replyLineCount("INFO"), -1);
  for (const header of ["OK", "VALUE 3", "VALUES", "VALUES x", "VALUES -2", "ERROR KEYS 3"]) {
    assert.equal(replyLineCount(header), 0, header);
  }
  for (const header of COUNTED_REPLY_HEADERS) assert.equal(replyLineCount(`${header} 7`), 7);
});

Deno.test("each multi-line reply's header counts exactly the lines that follow it", () => {
  const replies = [
    valuesReply(["a", "b"], ["1", undefined]),
    keysReply(["x", "y", "z"]),
    helpReply(["PING [message] - Replies PONG"]),
  ];
  for (const reply of replies) {
    const lines = reply.split("\r\n").slice(0, -1);
    assert.equal(replyLineCount(nth(lines, 0)), lines.length - 1, reply);
  }
  const info = infoReply([["a", 1]]).split("\r\n").slice(0, -1);
  assert.equal(replyLineCount(nth(info, 0)), -1);
  assert.equal(info.at(-1), "END");
});

/** Every piece of `reply`, each asked for with `targetBytes`. */
function piecesOf(reply: PiecewiseReply, targetBytes: number): string[] {
  const pieces: string[] = [];
  while (!reply.done) pieces.push(reply.next(targetBytes));
  return pieces;
}

Deno.test("PiecewiseReply's pieces join to what valuesReply() and keysReply() answer", () => {
  const keys = ["a", "bb", "nope", "c"];
  const values = ["1", "x".repeat(50), undefined, ""];
  for (const targetBytes of [1, 5, 20, 60, 1000]) {
    assert.equal(
      piecesOf(new PiecewiseReply(keys, values), targetBytes).join(""),
      valuesReply(keys, values),
    );
    assert.equal(piecesOf(new PiecewiseReply(keys, null), targetBytes).join(""), keysReply(keys));
  }
  assert.deepEqual(piecesOf(new PiecewiseReply([], []), 10), ["VALUES 0\r\n"]);
});

Deno.test("PiecewiseReply stops each piece once it reaches the target, one line over at most", () => {
  const keys = ["a", "b", "c", "d"];
  const values = ["x".repeat(10), "y".repeat(30), "z", "w".repeat(10)];
  // The header alone reaches 5 bytes; then a line at a time, however long.
  assert.deepEqual(piecesOf(new PiecewiseReply(keys, values), 5), [
    "VALUES 4\r\n",
    `a ${"x".repeat(10)}\r\n`,
    `b ${"y".repeat(30)}\r\n`,
    "c z\r\n",
    `d ${"w".repeat(10)}\r\n`,
  ]);
  assert.deepEqual(piecesOf(new PiecewiseReply(keys, values), 40), [
    `VALUES 4\r\na ${"x".repeat(10)}\r\nb ${"y".repeat(30)}\r\n`,
    `c z\r\nd ${"w".repeat(10)}\r\n`,
  ]);
});
