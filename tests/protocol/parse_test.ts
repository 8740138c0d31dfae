import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { LineFramer } from "../../src/protocol/framer.ts";
import {
  COMMAND_NAMES,
  commandHelp,
  commandRow,
  parseCommand,
  parseInt64,
} from "../../src/protocol/parse.ts";
import {
  getAndSetKeys,
  getKeyEnd,
  HINT_MAX_LINE_BYTES,
  parseFramed,
} from "../../src/protocol/hot_path.ts";
import { SeededRandom } from "../_support/seeded_random.ts";
import type { CommandCategory, ParseResult } from "../../src/protocol/command.ts";

const LIMITS = { maxKeyBytes: 1024, maxValueBytes: 4096, maxKeysPerCommand: 8 };

function parse(line: string): ParseResult {
  return parseCommand(line, LIMITS);
}

function error(message: string): ParseResult {
  return { kind: "invalid", message };
}

/** Every command and alias with one valid line and what it parses to. */
const VALID: [string, ParseResult][] = [
  ["SET k v", { kind: "set", key: "k", value: "v" }],
  ["GET k", { kind: "get", key: "k" }],
  ["RESOLVE k two words", { kind: "resolve", key: "k", value: "two words" }],
  ["DEL k", { kind: "del", key: "k" }],
  ["DELETE k", { kind: "del", key: "k" }],
  ["INC k", { kind: "incr", key: "k", amount: 1n }],
  ["INC k 5", { kind: "incr", key: "k", amount: 5n }],
  ["INCR k -3", { kind: "incr", key: "k", amount: -3n }],
  ["DEC k", { kind: "incr", key: "k", amount: -1n }],
  ["DEC k 7", { kind: "incr", key: "k", amount: -7n }],
  ["DECR k -2", { kind: "incr", key: "k", amount: 2n }],
  ["APPEND k tail", { kind: "append", key: "k", value: "tail", prepend: false }],
  ["PREPEND k head", { kind: "append", key: "k", value: "head", prepend: true }],
  ["MGET a b c", { kind: "mget", keys: ["a", "b", "c"] }],
  ["MSET a 1 b 2", { kind: "mset", keys: ["a", "b"], values: ["1", "2"] }],
  ["EXISTS a b", { kind: "exists", keys: ["a", "b"] }],
  ["SCAN", { kind: "scan", prefix: "", after: null }],
  ["SCAN user:", { kind: "scan", prefix: "user:", after: null }],
  ["SCAN AFTER user:7", { kind: "scan", prefix: "", after: "user:7" }],
  ["SCAN user: AFTER user:7", { kind: "scan", prefix: "user:", after: "user:7" }],
  ["SCAN user: after user:7", { kind: "scan", prefix: "user:", after: "user:7" }],
  ["DBSIZE", { kind: "dbsize" }],
  ["EXPIRE k 30", { kind: "expire", key: "k", seconds: 30 }],
  ["EXPIRE k 0", { kind: "expire", key: "k", seconds: 0 }],
  ["EXPIRE k -5", { kind: "expire", key: "k", seconds: -5 }],
  ["TTL k", { kind: "ttl", key: "k" }],
  ["PERSIST k", { kind: "persist", key: "k" }],
  ["TRUNCATE", { kind: "truncate" }],
  ["FLUSHDB", { kind: "truncate" }],
  ["PING", { kind: "ping", message: null }],
  ["PING hello there", { kind: "ping", message: "hello there" }],
  ["ECHO  two  spaces ", { kind: "echo", message: " two  spaces " }],
  ["INFO", { kind: "info" }],
  ["SNAPSHOT", { kind: "snapshot" }],
  ["STATS", { kind: "info" }],
  ["VERSION", { kind: "version" }],
  ["HASH", { kind: "hash" }],
  ["QUIT", { kind: "quit" }],
  ["SHUTDOWN", { kind: "shutdown" }],
  ["HELP", { kind: "help", topic: null }],
  ["HELP get", { kind: "help", topic: "get" }],
  ["HELP DELETE", { kind: "help", topic: "del" }],
  ["HELP sync", { kind: "help", topic: "sync_request" }],
  ["SYNC 127.0.0.1 7879", { kind: "sync_run", host: "127.0.0.1", port: 7879 }],
  ["SYNC root", { kind: "sync_request", verb: "ROOT", args: "" }],
  ["SYNC branches 1 2 3", { kind: "sync_request", verb: "BRANCHES", args: "1 2 3" }],
  ["AUTH secret", { kind: "auth", user: null, password: "secret" }],
  ["AUTH alice secret", { kind: "auth", user: "alice", password: "secret" }],
  ["ACL WHOAMI", { kind: "acl_whoami" }],
  ["ACL whoami", { kind: "acl_whoami" }],
  ["ACL LIST", { kind: "acl_list" }],
  ["ACL LOAD", { kind: "acl_load" }],
  ["CONFIG GET limits.max_value_bytes", { kind: "config_get", key: "limits.max_value_bytes" }],
  ["config set anti_entropy.peers a:1, b:2", {
    kind: "config_set",
    key: "anti_entropy.peers",
    value: "a:1, b:2",
  }],
  ["CONFIG RELOAD", { kind: "config_reload" }],
  ["CONFLICTS", { kind: "conflicts_list", count: 100 }],
  ["conflicts 7", { kind: "conflicts_list", count: 7 }],
  ["CONFLICTS CLEAR", { kind: "conflicts_clear" }],
  ["conflicts Clear", { kind: "conflicts_clear" }],
];

for (const [line, expected] of VALID) {
  Deno.test(`parseCommand() reads "${line}"`, () => {
    assert.deepEqual(parse(line), expected);
  });
}

Deno.test("parseCommand() has a valid example for every command and alias", () => {
  const covered = new Set(VALID.map(([line]) => line.split(" ")[0]));
  for (const name of COMMAND_NAMES) assert.ok(covered.has(name), `no example for ${name}`);
});

/** The permission categories of the security design, word by word (see docs/security.md). */
const CATEGORIES: Record<CommandCategory, string[]> = {
  read: ["GET", "MGET", "EXISTS", "SCAN", "DBSIZE", "TTL", "HASH", "CONFLICTS"],
  write: ["SET", "DEL", "DELETE", "INC", "DEC", "INCR", "DECR", "APPEND", "PREPEND", "MSET"]
    .concat(["EXPIRE", "PERSIST", "RESOLVE"]),
  admin: ["INFO", "STATS", "TRUNCATE", "FLUSHDB", "SHUTDOWN", "SYNC 127.0.0.1 7879"]
    .concat(["ACL LIST", "ACL LOAD", "SNAPSHOT", "CONFIG GET", "config set", "CONFIG RELOAD"])
    .concat(["CONFLICTS CLEAR"]),
  sync: ["SYNC root"],
  connection: ["PING", "ECHO", "VERSION", "QUIT", "HELP", "AUTH", "ACL WHOAMI"],
};

Deno.test("the command table gives every command its category, and writes are what change keys", () => {
  for (const [category, words] of Object.entries(CATEGORIES)) {
    for (const word of words) {
      const example = VALID.find(([line]) => line.startsWith(word));
      assert.ok(example !== undefined, `no example for ${word}`);
      const [line, command] = example;
      assert.ok(command.kind !== "invalid", line);
      const row = commandRow(command.kind);
      assert.equal(row.category, category, line);
      assert.equal(row.writes, category === "write" || command.kind === "truncate", line);
    }
  }
  const listed = Object.values(CATEGORIES).flat().map((word) => word.split(" ")[0]!.toUpperCase());
  assert.deepEqual([...new Set(listed)].sort(), [...COMMAND_NAMES].sort());
});

Deno.test("parseCommand() accepts command words in any case", () => {
  for (const word of ["get", "Get", "gEt", "GET"]) {
    assert.deepEqual(parse(`${word} k`), { kind: "get", key: "k" });
  }
  assert.deepEqual(parse("flushdb"), { kind: "truncate" });
  assert.deepEqual(parse("DeLeTe k"), { kind: "del", key: "k" });
});

Deno.test("parseCommand() does not change the case of keys or values", () => {
  assert.deepEqual(parse("set Key Value"), { kind: "set", key: "Key", value: "Value" });
});

Deno.test("parseCommand() names an unknown command, quoted and cut short", () => {
  assert.deepEqual(parse("SETX k v"), error('unknown command "SETX"'));
  assert.deepEqual(parse(""), error("empty command"));
  assert.deepEqual(parse(" GET k"), error('unknown command ""'));
  const long = "Z".repeat(500);
  assert.deepEqual(parse(long), error(`unknown command "${"Z".repeat(64)}..."`));
});

Deno.test("parseCommand() reports a wrong number of arguments, naming the word sent", () => {
  const cases: [string, string][] = [
    ["SET", "SET"],
    ["SET k", "SET"],
    ["GET", "GET"],
    ["GET a b", "GET"],
    ["DEL", "DEL"],
    ["DELETE a b", "DELETE"],
    ["INC", "INC"],
    ["INC k 1 2", "INC"],
    ["DEC", "DEC"],
    ["APPEND k", "APPEND"],
    ["PREPEND", "PREPEND"],
    ["MGET", "MGET"],
    ["MSET", "MSET"],
    ["MSET a", "MSET"],
    ["MSET a 1 b", "MSET"],
    ["EXISTS", "EXISTS"],
    ["SCAN a b c d", "SCAN"],
    ["DBSIZE x", "DBSIZE"],
    ["EXPIRE k", "EXPIRE"],
    ["EXPIRE k 1 2", "EXPIRE"],
    ["TTL", "TTL"],
    ["PERSIST a b", "PERSIST"],
    ["TRUNCATE now", "TRUNCATE"],
    ["ECHO", "ECHO"],
    ["INFO all", "INFO"],
    ["VERSION 2", "VERSION"],
    ["HASH x", "HASH"],
    ["QUIT now", "QUIT"],
    ["SHUTDOWN now", "SHUTDOWN"],
    ["HELP GET SET", "HELP"],
    ["SYNC", "SYNC"],
  ];
  for (const [line, name] of cases) {
    assert.deepEqual(parse(line), error(`wrong number of arguments for ${name}`), line);
  }
});

Deno.test("HELP <command> names an unknown command as an unknown command line does", () => {
  assert.deepEqual(parse("HELP SETX"), error('unknown command "SETX"'));
  assert.deepEqual(
    parse(`HELP ${"Z".repeat(500)}`),
    error(`unknown command "${"Z".repeat(64)}..."`),
  );
});

Deno.test("the command table gives every word a syntax that starts with it, and a summary", () => {
  const lines = commandHelp(null);
  assert.equal(lines.length, COMMAND_NAMES.length);
  for (const [index, name] of COMMAND_NAMES.entries()) {
    const line = lines[index];
    assert.ok(line !== undefined, `no help line for ${name}`);
    assert.ok(line.startsWith(`${name} - `) || line.startsWith(`${name} `), line);
    const [syntax, summary] = line.split(" - ");
    assert.ok(syntax !== undefined && summary !== undefined, line);
    assert.ok(syntax.length > 0 && summary.length > 0, line);
    // Replies go out as latin1, one line each: plain ASCII, no line end.
    assert.match(line, /^[\x20-\x7e]+$/, line);
  }
});

Deno.test("commandHelp() of one command answers its words, aliases included", () => {
  assert.deepEqual(commandHelp("del"), [
    "DEL key - Deletes key; replies DELETED or NOT_FOUND",
    "DELETE key - Same as DEL",
  ]);
  assert.deepEqual(commandHelp("get"), [
    "GET key - Replies VALUE <value>, NOT_FOUND, or SIBLINGS n then n lines `node@hlc value`",
  ]);
  assert.deepEqual(commandHelp("incr").map((line) => line.split(" ")[0]), [
    "INC",
    "INCR",
    "DEC",
    "DECR",
  ]);
  assert.deepEqual(commandHelp("sync_run"), []);
});

Deno.test("parseCommand() reports a wrong SCAN form with its usage", () => {
  assert.deepEqual(parse("SCAN a b"), error("usage: SCAN [prefix] [AFTER key]"));
  assert.deepEqual(parse("SCAN a b c"), error("usage: SCAN [prefix] [AFTER key]"));
  assert.deepEqual(parse("SCAN a AFTER"), error("usage: SCAN [prefix] [AFTER key]"));
});

Deno.test("parseCommand() reads AFTER as SCAN's keyword, never as a prefix", () => {
  for (const line of ["SCAN AFTER", "SCAN after", "scan After"]) {
    assert.deepEqual(parse(line), error("usage: SCAN [prefix] [AFTER key]"), line);
  }
  // A prefix spelled AFTER takes the long form, with any key sorting before it.
  assert.deepEqual(parse("SCAN AFTER AFTER AFTE"), {
    kind: "scan",
    prefix: "AFTER",
    after: "AFTE",
  });
  assert.deepEqual(parse("SCAN AFTER AFTER"), { kind: "scan", prefix: "", after: "AFTER" });
});

Deno.test("parseCommand() never reads an empty key: a missing key is an arity error", () => {
  assert.deepEqual(parse("SET  v"), error("wrong number of arguments for SET"));
  assert.deepEqual(parse("APPEND  "), error("wrong number of arguments for APPEND"));
  assert.deepEqual(parse("GET  "), error("wrong number of arguments for GET"));
  assert.deepEqual(parse("MGET   "), error("wrong number of arguments for MGET"));
});

Deno.test("parseCommand() refuses a key over max_key_bytes and says how long it was", () => {
  const key = "k".repeat(2000);
  const expected = error("key too long: 2000 bytes, max 1024");
  for (const line of [`GET ${key}`, `SET ${key} v`, `DEL ${key}`, `INC ${key}`, `MGET a ${key}`]) {
    assert.deepEqual(parse(line), expected);
  }
  assert.deepEqual(parse(`MSET a 1 ${key} 2`), expected);
  assert.deepEqual(parse(`EXPIRE ${key} 5`), expected);
  assert.deepEqual(parse(`GET ${"k".repeat(1024)}`), { kind: "get", key: "k".repeat(1024) });
});

Deno.test("parseCommand() refuses keys with whitespace or control bytes", () => {
  const expected = error("key contains whitespace or control characters");
  for (const bad of ["a\tb", "a\x00", "\x01", "a\x1fb", "x\x7f", "a\rb", "tab\t"]) {
    assert.deepEqual(parse(`GET ${bad}`), expected, JSON.stringify(bad));
    assert.deepEqual(parse(`SET ${bad} v`), expected, JSON.stringify(bad));
    assert.deepEqual(parse(`EXISTS ok ${bad}`), expected, JSON.stringify(bad));
  }
});

Deno.test("parseCommand() accepts keys of any other byte, UTF-8 or not", () => {
  const key = "\x80\xff\xc3\xa9!~";
  assert.deepEqual(parse(`GET ${key}`), { kind: "get", key });
});

Deno.test("parseCommand() keeps every byte of a value after the single space, unchanged", () => {
  assert.deepEqual(parse("SET k  two  spaces  "), {
    kind: "set",
    key: "k",
    value: " two  spaces  ",
  });
  assert.deepEqual(parse("SET k \t\x00\x80\xff\r"), {
    kind: "set",
    key: "k",
    value: "\t\x00\x80\xff\r",
  });
  assert.deepEqual(parse("APPEND k  x"), { kind: "append", key: "k", value: " x", prepend: false });
});

Deno.test("parseCommand() reads `SET k ` as the empty value", () => {
  assert.deepEqual(parse("SET k "), { kind: "set", key: "k", value: "" });
});

Deno.test("parseCommand() refuses a value over max_value_bytes", () => {
  assert.deepEqual(
    parse(`SET k ${"v".repeat(4097)}`),
    error("value too long: 4097 bytes, max 4096"),
  );
  assert.deepEqual(
    parse(`MSET a ${"v".repeat(4097)}`),
    error("value too long: 4097 bytes, max 4096"),
  );
  const value = "v".repeat(4096);
  assert.deepEqual(parse(`SET k ${value}`), { kind: "set", key: "k", value });
});

Deno.test("parseCommand() reads INC/DEC amounts at the 64-bit bounds and refuses beyond", () => {
  const max = "9223372036854775807";
  const min = "-9223372036854775808";
  assert.deepEqual(parse(`INC k ${max}`), { kind: "incr", key: "k", amount: 2n ** 63n - 1n });
  assert.deepEqual(parse(`INC k ${min}`), { kind: "incr", key: "k", amount: -(2n ** 63n) });
  assert.deepEqual(parse(`DEC k ${max}`), { kind: "incr", key: "k", amount: -(2n ** 63n - 1n) });
  for (
    const amount of ["9223372036854775808", "-9223372036854775809", "1e3", "1.5", "abc", "--1"]
  ) {
    assert.deepEqual(
      parse(`INC k ${amount}`),
      error(`amount is not a 64-bit integer: "${amount}"`),
      amount,
    );
  }
  assert.deepEqual(parse("INC k +4"), { kind: "incr", key: "k", amount: 4n });
});

Deno.test("parseInt64() accepts exactly the 64-bit integers", () => {
  assert.equal(parseInt64("0"), 0n);
  assert.equal(parseInt64("-0"), 0n);
  assert.equal(parseInt64("00012"), 12n);
  assert.equal(parseInt64("9223372036854775807"), 2n ** 63n - 1n);
  assert.equal(parseInt64("9223372036854775808"), null);
  assert.equal(parseInt64(""), null);
  assert.equal(parseInt64(" 1"), null);
  assert.equal(parseInt64("1 "), null);
  assert.equal(parseInt64("0x10"), null);
  assert.equal(parseInt64("1".repeat(21)), null);
});

Deno.test("parseCommand() pairs MSET keys and values and checks every key", () => {
  assert.deepEqual(parse("MSET a 1 b 2 c 3"), {
    kind: "mset",
    keys: ["a", "b", "c"],
    values: ["1", "2", "3"],
  });
  assert.deepEqual(
    parse("MSET a 1 b\x01 2"),
    error("key contains whitespace or control characters"),
  );
});

Deno.test("parseCommand() bounds the keys of MGET, EXISTS and MSET", () => {
  const nine = Array.from({ length: 9 }, (_, i) => `k${i}`);
  assert.deepEqual(parse(`MGET ${nine.join(" ")}`), error("too many keys: 9, max 8"));
  assert.deepEqual(parse(`EXISTS ${nine.join(" ")}`), error("too many keys: 9, max 8"));
  const pairs = nine.map((key) => `${key} v`).join(" ");
  assert.deepEqual(parse(`MSET ${pairs}`), error("too many keys: 9, max 8"));
  assert.equal(parse(`MGET ${nine.slice(1).join(" ")}`).kind, "mget");
});

Deno.test("parseCommand() reads EXPIRE seconds as an integer only", () => {
  for (const seconds of ["1.5", "ten", "1e3", "+", "0x10"]) {
    assert.deepEqual(
      parse(`EXPIRE k ${seconds}`),
      error(`seconds is not an integer: "${seconds}"`),
      seconds,
    );
  }
  assert.deepEqual(parse("EXPIRE k 9000000000000"), {
    kind: "expire",
    key: "k",
    seconds: 9_000_000_000_000,
  });
});

Deno.test("parseCommand() says EXPIRE seconds too large or too small are out of range, with the range", () => {
  const range = "(must be -9000000000000..9000000000000)";
  for (const seconds of ["9000000000001", "-9000000000001", "99999999999999999999"]) {
    assert.deepEqual(
      parse(`EXPIRE k ${seconds}`),
      error(`seconds out of range: ${seconds} ${range}`),
      seconds,
    );
  }
  const long = "9".repeat(100);
  assert.deepEqual(
    parse(`EXPIRE k ${long}`),
    error(`seconds out of range: ${"9".repeat(32)}... ${range}`),
  );
  assert.deepEqual(parse("EXPIRE k -9000000000000"), {
    kind: "expire",
    key: "k",
    seconds: -9_000_000_000_000,
  });
});

Deno.test("parseCommand() tells SYNC <host> <port> from a peer request", () => {
  assert.deepEqual(parse("SYNC localhost 1"), { kind: "sync_run", host: "localhost", port: 1 });
  assert.deepEqual(parse("SYNC localhost 0"), error("port out of range: 0"));
  assert.deepEqual(parse("SYNC localhost 70000"), error("port out of range: 70000"));
  assert.deepEqual(parse("sync keys 1 2"), { kind: "sync_request", verb: "KEYS", args: "1 2" });
});

Deno.test("parseCommand() splits key words on runs of spaces", () => {
  assert.deepEqual(parse("GET   k  "), { kind: "get", key: "k" });
  assert.deepEqual(parse("MGET  a   b "), { kind: "mget", keys: ["a", "b"] });
  assert.deepEqual(parse("DBSIZE   "), { kind: "dbsize" });
});

Deno.test("parseCommand() error messages are bytes, so they go on the wire unchanged", () => {
  const random = new SeededRandom(3);
  for (let i = 0; i < 2_000; i++) {
    const word = random.pick([...COMMAND_NAMES, "", "X"]);
    const line = word + random.bytes(random.below(120)).replace(/[\r\n]/g, " ");
    const result = parse(line);
    if (result.kind !== "invalid") continue;
    for (let j = 0; j < result.message.length; j++) {
      assert.ok(result.message.charCodeAt(j) < 256, `message for ${JSON.stringify(line)}`);
    }
  }
  const long = parse("Q".repeat(100));
  assert.ok(long.kind === "invalid" && long.message.endsWith('..."'));
});

Deno.test("parseCommand() with the framer as line source gives the same commands as slicing", () => {
  const lines = [
    "SET k v",
    "SET  spaced:key   value with  spaces ",
    "set k ",
    "APPEND k \x00\xff tail",
    "MSET a 1 bb 22 ccc 333",
    "MSET  a  1   b 2",
    "GET k",
    "INC n 5",
  ];
  for (const line of lines) {
    const framer = new LineFramer(1 << 20);
    framer.push(Buffer.from(`PING\r\n${line}\r\n`, "latin1"));
    assert.equal(framer.next(), "PING");
    assert.equal(framer.next(), line);
    assert.deepEqual(parseCommand(line, LIMITS, framer), parseCommand(line, LIMITS), line);
  }
});

/** `line` as the framer holds it, after another line in the same chunk. */
function framed(line: string): LineFramer {
  const framer = new LineFramer(1 << 20);
  framer.push(Buffer.from(`PING\r\n${line}\r\n`, "latin1"));
  assert.equal(framer.advance(), true);
  assert.equal(framer.advance(), true);
  return framer;
}

/**
 * parseFramed() of `line` as the framer holds it; checks on the way that a key getKeyEnd()
 * finds is the key of the GET that the line parses to.
 */
function parseAsFramed(line: string, limits = LIMITS) {
  const framer = framed(line);
  const keyEnd = getKeyEnd(framer, limits);
  if (keyEnd !== -1) {
    const key = framer.copy(4, keyEnd - framer.start);
    assert.deepEqual(parseCommand(line, limits), { kind: "get", key }, JSON.stringify(line));
  }
  return parseFramed(framer, limits);
}

Deno.test("parseFramed() gives what parseCommand() gives, GET and SET edge cases first", () => {
  const tight = { maxKeyBytes: 3, maxValueBytes: 4, maxKeysPerCommand: 8 };
  const lines = [
    "GET k",
    "get k",
    "Get k",
    "gEt k",
    "GET k ",
    "GET  k",
    "GET a b",
    "GET \x01k",
    "GET k\x7f",
    "GET k\tj",
    "GET \xff\x80",
    "GET abcd",
    "GET abc",
    "GET",
    "GET ",
    "GETX k",
    "GET\tk",
    "SET k v",
    "set k v",
    "sEt k v",
    "SET k ",
    "SET k",
    "SET k  v ",
    "SET  k v",
    "SET k\x00 v",
    "SET abc 1234",
    "SET abc 12345",
    "SET abcd 1",
    "SET k \x00\xff\r mid",
    "SETX k v",
    "GES k",
    "EET k",
    "DEL k",
    "",
    "PING",
  ];
  for (const limits of [LIMITS, tight]) {
    for (const line of lines) {
      assert.deepEqual(
        parseAsFramed(line, limits),
        parseCommand(line, limits),
        JSON.stringify(line),
      );
    }
  }
});

Deno.test("parseFramed() gives what parseCommand() gives for random lines (seeded)", () => {
  const tight = { maxKeyBytes: 4, maxValueBytes: 6, maxKeysPerCommand: 8 };
  const words = ["GET", "get", "Get", "SET", "set", "sET", "GETS", "SE", "DEL", "MGET", "INC"];
  const pieces = [" ", "  ", "k", "key", "\x00", "\x7f", "\xff", "\t", "\r", "v", "12345"];
  for (let seed = 1; seed <= 2000; seed++) {
    const random = new SeededRandom(seed);
    let line = random.pick(words);
    for (let i = random.below(6); i > 0; i--) line += random.pick(pieces);
    for (const limits of [LIMITS, tight]) {
      assert.deepEqual(
        parseAsFramed(line, limits),
        parseCommand(line, limits),
        `seed ${seed}: ${JSON.stringify(line)}`,
      );
    }
  }
});

Deno.test("getKeyEnd() finds the key of a plain GET only", () => {
  const tight = { maxKeyBytes: 3, maxValueBytes: 4, maxKeysPerCommand: 8 };
  const keyOf = (line: string) => {
    const framer = framed(line);
    const keyEnd = getKeyEnd(framer, tight);
    return keyEnd === -1 ? null : framer.copy(4, keyEnd - framer.start);
  };
  assert.equal(keyOf("GET k"), "k");
  assert.equal(keyOf("gEt abc"), "abc");
  assert.equal(keyOf("GET \xff\x80"), "\xff\x80");
  // Left to parseCommand: other spacing, a key over the limit, a bad byte, other commands.
  for (const line of ["GET k ", "GET  k", "GET abcd", "GET k\x7f", "GET", "GET ", "SET k v"]) {
    assert.equal(keyOf(line), null, JSON.stringify(line));
  }
});

Deno.test("parseFramed() copies the key and value out of the received bytes", () => {
  const framer = new LineFramer(1 << 20);
  const chunk = Buffer.from("SET key value\r\n", "latin1");
  framer.push(chunk);
  assert.equal(framer.advance(), true);
  const command = parseFramed(framer, LIMITS);
  chunk.fill(0x41);
  assert.deepEqual(command, { kind: "set", key: "key", value: "value" });
});

/** The keys getAndSetKeys() finds in `text`, as strings. */
function keysFound(text: string, maxKeyBytes = 250, capacity = 64, start = 0): string[] {
  const bytes = Buffer.from(text, "latin1");
  const ranges = new Int32Array(2 * capacity);
  const count = getAndSetKeys(bytes, start, bytes.length, maxKeyBytes, ranges);
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    keys.push(bytes.toString("latin1", ranges[2 * i], ranges[2 * i + 1]));
  }
  return keys;
}

Deno.test("getAndSetKeys() lists the keys of the complete GET and SET lines", () => {
  const chunk = "GET a\r\nset bb 1 2\nDEL c\r\nGet  d\r\nMGET e f\r\nSET long v\r\ngEt g\r\nGET h";
  assert.deepEqual(keysFound(chunk), ["a", "bb", "long", "g"]);
  assert.deepEqual(keysFound(chunk, 3), ["a", "bb", "g"], "keys over the limit are left out");
  assert.deepEqual(keysFound(chunk, 250, 2), ["a", "bb"], "as many as fit");
  assert.deepEqual(keysFound(chunk, 250, 64, chunk.indexOf("DEL")), ["long", "g"]);
  assert.deepEqual(keysFound("GET h"), [], "a line without its end is not complete");
  assert.deepEqual(keysFound(""), []);
});

Deno.test("getAndSetKeys() reads short lines across many windows and stops at a long line", () => {
  const short = Array.from({ length: 60 }, (_, i) => `SET key${i} ${"v".repeat(40)}\r\n`);
  assert.ok(short.join("").length > 2 * HINT_MAX_LINE_BYTES);
  const shortKeys = short.map((_, i) => `key${i}`);
  assert.deepEqual(keysFound(short.join("")), shortKeys, "every window's lines");
  const long = `SET big ${"x".repeat(HINT_MAX_LINE_BYTES)}\r\n`;
  assert.deepEqual(keysFound(short.join("") + long + "GET after\r\n"), shortKeys);
  assert.deepEqual(keysFound(long + "GET after\r\n"), [], "a long first line ends the hint");
  const fits = `SET fits ${"x".repeat(HINT_MAX_LINE_BYTES - 12)}\r\n`;
  assert.ok(fits.length < HINT_MAX_LINE_BYTES);
  assert.deepEqual(keysFound("GET a\r\n" + fits + "GET b\r\n"), ["a", "fits", "b"]);
});

Deno.test("getAndSetKeys() finds the key that parseCommand() reads from each GET or SET line", () => {
  const words = ["GET", "get", "SET", "sEt", "GETS", "DEL", "MGET"];
  const pieces = [" ", "  ", "k", "key", "\x00", "\x7f", "\xff", "\t", "v", "12345"];
  for (let seed = 1; seed <= 1000; seed++) {
    const random = new SeededRandom(seed);
    const lines: string[] = [];
    for (let n = 1 + random.below(5); n > 0; n--) {
      let line = random.pick(words);
      for (let i = random.below(6); i > 0; i--) line += random.pick(pieces);
      lines.push(line);
    }
    const expected = lines.flatMap((line) => {
      const command = parseCommand(line, LIMITS);
      // deno-lint-ignore no-control-regex -- a key's first byte: no control byte, no space
      const fast = /^(get|set) [^\x00-\x20\x7f]/i.test(line);
      return fast && (command.kind === "get" || command.kind === "set") ? [command.key] : [];
    });
    const found = keysFound(lines.join("\r\n") + "\r\n");
    // Lines that are no valid command may still give a key: it is only a hint.
    for (const key of expected) assert.ok(found.includes(key), `seed ${seed}: ${key}`);
  }
});

Deno.test("parseCommand() refuses CONFIG without a known subcommand or its arguments", () => {
  assert.deepEqual(parse("CONFIG"), error('unknown CONFIG subcommand "" (GET, SET or RELOAD)'));
  assert.deepEqual(
    parse("CONFIG FOO"),
    error('unknown CONFIG subcommand "FOO" (GET, SET or RELOAD)'),
  );
  assert.deepEqual(parse("CONFIG GET"), error("wrong number of arguments for CONFIG GET"));
  assert.deepEqual(parse("CONFIG GET a b"), error("wrong number of arguments for CONFIG GET"));
  assert.deepEqual(parse("CONFIG SET a"), error("wrong number of arguments for CONFIG SET"));
  assert.deepEqual(
    parse("CONFIG RELOAD now"),
    error("wrong number of arguments for CONFIG RELOAD"),
  );
});
