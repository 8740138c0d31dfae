import assert from "node:assert/strict";
import { ClientError, ServerError } from "../../src/client/mod.ts";
import {
  expectExactly,
  MAYBE_MISSING,
  readCount,
  readFound,
  readInfo,
  readInteger,
  readKeys,
  readSiblings,
  readTtl,
  readValue,
  readValues,
} from "../../src/client/replies.ts";

Deno.test("replies are read into values", () => {
  assert.equal(readValue(["VALUE  a b "]), " a b ");
  assert.equal(readValue(["NOT_FOUND"]), null);
  assert.equal(readFound(["DELETED"], "DELETED"), true);
  assert.equal(readFound(["NOT_FOUND"], "OK"), false);
  assert.equal(readCount(["DBSIZE 12"], "DBSIZE"), 12);
  assert.equal(readInteger(["VALUE -9223372036854775808"]), -(2n ** 63n));
  assert.equal(readTtl(["TTL 5"]), 5);
  assert.equal(readTtl(["TTL -1"]), Infinity);
  assert.equal(readTtl(["NOT_FOUND"]), null);
  assert.deepEqual(readKeys(["KEYS 2", "a", "b"]), ["a", "b"]);
  assert.deepEqual(readValues(["VALUES 3", "a 1", "b NOT_FOUND", "c "], ["a", "b", "c"]), [
    "1",
    MAYBE_MISSING,
    "",
  ]);
  assert.deepEqual(readInfo(["INFO", "a:1", "b:x:y", "END"]), new Map([["a", "1"], ["b", "x:y"]]));
});

Deno.test("an ERROR reply is a ServerError with the server's message, UTF-8 decoded", () => {
  for (
    const read of [
      (reply: string[]) => readValue(reply),
      (reply: string[]) => readKeys(reply),
      (reply: string[]) => readValues(reply, ["a"]),
      (reply: string[]) => expectExactly(reply, "OK"),
      (reply: string[]) => readInfo(reply),
    ]
  ) {
    assert.throws(() => read(["ERROR key \xc3\xa9 too long"]), (error: Error) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.message, "key é too long");
      return true;
    });
  }
});

Deno.test("a reply of the wrong shape is a ClientError naming it, not a ServerError", () => {
  const wrong: [() => unknown, string][] = [
    [() => readValue(["OK"]), "OK"],
    [() => readValue(["VALUE a", "extra"]), "VALUE a | extra"],
    [() => readFound(["OK"], "DELETED"), "OK"],
    [() => readCount(["DBSIZE -1"], "DBSIZE"), "DBSIZE -1"],
    [() => readInteger(["VALUE 1.5"]), "VALUE 1.5"],
    [() => readTtl(["TTL x"]), "TTL x"],
    [() => readKeys(["KEYS 2", "a"]), "KEYS 2"],
    [() => readValues(["VALUES 1", "b 1"], ["a"]), "b 1"],
    [() => readValues(["VALUES 1", "ab 1"], ["a"]), "ab 1"],
    [() => readValues(["VALUES 2", "a 1", "b 2"], ["a"]), "VALUES 2"],
    [() => readInfo(["INFO", "no colon", "END"]), "no colon"],
  ];
  for (const [read, shown] of wrong) {
    assert.throws(read, (error: Error) => {
      assert.ok(error instanceof ClientError && !(error instanceof ServerError), shown);
      assert.equal(error.message, `unexpected reply: ${JSON.stringify(shown)}`);
      return true;
    });
  }
});

Deno.test("readSiblings() reads SIBLINGS n into versions, a deletion as null, and no siblings as null", () => {
  assert.deepEqual(readSiblings(["SIBLINGS 3", "node-b@20 x y", "node.a@10", "n@5 "]), [
    { node: "node-b", hlc: 20, value: "x y" },
    { node: "node.a", hlc: 10, value: null },
    { node: "n", hlc: 5, value: "" },
  ]);
  assert.equal(readSiblings(["VALUE v"]), null);
  assert.equal(readSiblings(["NOT_FOUND"]), null);
  for (const reply of [["SIBLINGS 2", "a@1 x"], ["SIBLINGS 1", "a@x v"], ["SIBLINGS 1", "@1 v"]]) {
    assert.throws(() => readSiblings(reply), ClientError, reply.join(" | "));
  }
  assert.throws(() => readSiblings(["ERROR no"]), ServerError);
});
