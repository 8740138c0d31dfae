import assert from "node:assert/strict";
import {
  CLOSE_CONNECTION,
  execute,
  type ExecuteContext,
  type ExecuteResult,
  type Services,
} from "../../src/node/execute.ts";
import { parseCommand } from "../../src/protocol/parse.ts";
import { keysReply, PiecewiseReply, valuesReply } from "../../src/protocol/reply.ts";
import { Store } from "../../src/store/store.ts";

const START_MS = 1_700_000_000_000;
const LIMITS = { maxKeyBytes: 64, maxValueBytes: 64, maxKeysPerCommand: 100 };

interface Harness {
  store: Store;
  clock: { ms: number };
  context: ExecuteContext;
  calls: string[];
  /** Parses and executes one request line; returns the reply. */
  run(line: string): ExecuteResult;
  /** Runs the line and takes the changes it made. */
  changesOf(line: string): { reply: ExecuteResult; changed: string[] };
}

/** `siblings`: the store and the node in conflicts mode siblings (else lww). */
function harness(siblings = false): Harness {
  const clock = { ms: START_MS, nowMs: () => clock.ms };
  const store = new Store({
    nodeId: "node-a",
    clock,
    tombstoneGraceMs: 60_000,
    maxClockSkewMs: 60_000,
    trackCausality: siblings,
    keepSiblings: siblings,
  });
  const calls: string[] = [];
  const services: Services = {
    version: "9.8.7",
    conflictsMode: siblings ? "siblings" : "lww",
    info: () => "INFO\r\nnode_id:node-a\r\nEND\r\n",
    runSync: (host, port) => {
      calls.push(`runSync ${host} ${port}`);
      return Promise.resolve("OK synced\r\n");
    },
    answerSync: (verb, args) => {
      calls.push(`answerSync ${verb} ${args}`);
      return "ROOT 0\r\n";
    },
    shutdown: () => {
      calls.push("shutdown");
      return "OK\r\n";
    },
    snapshot: () => {
      calls.push("snapshot");
      return Promise.resolve("OK /data/backup.1.snapshot\r\n");
    },
    config: (command) => {
      calls.push(`config ${JSON.stringify(command)}`);
      return "OK\r\n";
    },
    conflicts: (count, allowed) => {
      calls.push(`conflicts ${count} ${allowed === null ? "all keys" : "filtered"}`);
      return "CONFLICTS 0\r\n";
    },
    clearConflicts: () => {
      calls.push("clearConflicts");
      return "OK\r\n";
    },
    auth: (user, password) => {
      calls.push(`auth ${user} ${password}`);
      return "OK\r\n";
    },
    aclWhoami: () => "USER default\r\n",
    aclList: () => "USERS 0\r\n",
    aclLoad: () => Promise.resolve("OK\r\n"),
  };
  const context: ExecuteContext = {
    store,
    services,
    maxValueBytes: LIMITS.maxValueBytes,
    scanPageKeys: 3,
    maxReplyBytes: 200,
    changes: [],
    scanFilter: null,
  };
  const run = (line: string): ExecuteResult => {
    const command = parseCommand(line, LIMITS);
    if (command.kind === "invalid") throw new Error(`test line does not parse: ${line}`);
    return execute(command, context);
  };
  const changesOf = (line: string): { reply: ExecuteResult; changed: string[] } => {
    context.changes = [];
    const reply = run(line);
    const changed = context.changes.map((e) => `${e.key}=${e.value ?? "<tombstone>"}`);
    context.changes = [];
    return { reply, changed };
  };
  return { store, clock, context, calls, run, changesOf };
}

Deno.test("execute() SET stores the value and GET reads it back", () => {
  const h = harness();
  assert.equal(h.run("GET k"), "NOT_FOUND\r\n");
  assert.deepEqual(h.changesOf("SET k hello world "), {
    reply: "OK\r\n",
    changed: ["k=hello world "],
  });
  assert.equal(h.run("GET k"), "VALUE hello world \r\n");
  h.run("SET k ");
  assert.equal(h.run("GET k"), "VALUE \r\n");
});

Deno.test("execute() DEL writes a tombstone for a live key and NOT_FOUND otherwise", () => {
  const h = harness();
  h.run("SET k v");
  assert.deepEqual(h.changesOf("DEL k"), { reply: "DELETED\r\n", changed: ["k=<tombstone>"] });
  assert.equal(h.run("GET k"), "NOT_FOUND\r\n");
  assert.deepEqual(h.changesOf("DELETE k"), { reply: "NOT_FOUND\r\n", changed: [] });
  assert.equal(h.store.tombstoneCount, 1);
});

Deno.test("execute() INC/DEC count from 0 for a missing key and by the amount given", () => {
  const h = harness();
  assert.deepEqual(h.changesOf("INC n"), { reply: "VALUE 1\r\n", changed: ["n=1"] });
  assert.equal(h.run("INCR n 10"), "VALUE 11\r\n");
  assert.equal(h.run("DEC n 20"), "VALUE -9\r\n");
  assert.equal(h.run("DECR n"), "VALUE -10\r\n");
  assert.equal(h.run("DEC m"), "VALUE -1\r\n");
  assert.equal(h.run("GET n"), "VALUE -10\r\n");
});

Deno.test("execute() INC refuses a non-integer value and changes nothing", () => {
  const h = harness();
  h.run("SET s abc");
  h.run("SET f 1.5");
  h.run("SET e ");
  for (const key of ["s", "f", "e"]) {
    const before = h.store.entry(key);
    assert.deepEqual(h.changesOf(`INC ${key}`), {
      reply: "ERROR value is not a 64-bit integer\r\n",
      changed: [],
    });
    assert.deepEqual(h.store.entry(key), before);
  }
});

Deno.test("execute() INC/DEC refuse 64-bit overflow and change nothing", () => {
  const h = harness();
  h.run("SET big 9223372036854775806");
  assert.equal(h.run("INC big"), "VALUE 9223372036854775807\r\n");
  assert.deepEqual(h.changesOf("INC big"), {
    reply: "ERROR increment would overflow a 64-bit integer\r\n",
    changed: [],
  });
  assert.equal(h.run("GET big"), "VALUE 9223372036854775807\r\n");
  h.run("SET small -9223372036854775808");
  assert.equal(
    h.run("DEC small"),
    "ERROR increment would overflow a 64-bit integer\r\n",
  );
  assert.equal(
    h.run("DEC zero -9223372036854775808"),
    "ERROR increment would overflow a 64-bit integer\r\n",
  );
  assert.equal(h.run("GET zero"), "NOT_FOUND\r\n");
});

Deno.test("execute() INC keeps the key's expiry", () => {
  const h = harness();
  h.run("SET n 5");
  h.run("EXPIRE n 10");
  h.run("INC n");
  assert.equal(h.run("TTL n"), "TTL 10\r\n");
});

Deno.test("execute() APPEND and PREPEND build the full value and create a missing key", () => {
  const h = harness();
  assert.deepEqual(h.changesOf("APPEND k mid"), { reply: "VALUE mid\r\n", changed: ["k=mid"] });
  assert.equal(h.run("APPEND k  end"), "VALUE mid end\r\n");
  assert.equal(h.run("PREPEND k start "), "VALUE start mid end\r\n");
  assert.equal(h.run("PREPEND new x"), "VALUE x\r\n");
});

Deno.test("execute() APPEND refuses a result over max_value_bytes and changes nothing", () => {
  const h = harness();
  h.run(`SET k ${"a".repeat(60)}`);
  assert.deepEqual(h.changesOf("APPEND k 12345"), {
    reply: "ERROR value too long: 65 bytes, max 64\r\n",
    changed: [],
  });
  assert.equal(h.run("APPEND k 1234"), `VALUE ${"a".repeat(60)}1234\r\n`);
});

Deno.test("execute() MGET answers every key in request order", () => {
  const h = harness();
  h.run("SET b 2");
  h.run("SET a  one");
  assert.equal(
    h.run("MGET b missing a b"),
    "VALUES 4\r\nb 2\r\nmissing NOT_FOUND\r\na  one\r\nb 2\r\n",
  );
});

Deno.test("execute() MGET refuses a reply over max_reply_bytes", () => {
  const h = harness();
  h.run(`SET a ${"v".repeat(60)}`);
  assert.match(h.run("MGET a a a") as string, /^VALUES 3\r\n/);
  assert.equal(
    h.run("MGET a a a a"),
    "ERROR reply too large: 256 bytes, max 200 (ask for fewer keys)\r\n",
  );
});

Deno.test("execute() answers an MGET or SCAN over 64 KiB piece by piece, with the values read when it ran", () => {
  const h = harness();
  h.context.maxReplyBytes = 1024 * 1024;
  h.context.scanPageKeys = 2_000;
  // Values longer than this harness's parse limits, written to the store directly.
  const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
  for (const key of keys) h.store.write(key, "v".repeat(4096), 0);
  const reply = h.run(`MGET ${keys.join(" ")}`);
  assert.ok(reply instanceof PiecewiseReply, "a large MGET is a PiecewiseReply");
  // A write after the MGET ran does not change its reply.
  h.run("SET k0 changed");
  let text = "";
  while (!reply.done) text += reply.next(4096);
  assert.equal(text, valuesReply(keys, keys.map(() => "v".repeat(4096))));

  const names: string[] = [];
  for (let i = 0; i < 1_500; i++) names.push(`key:${String(i).padStart(40, "0")}`);
  for (const name of names) h.run(`SET ${name} 1`);
  const page = h.run("SCAN key:");
  assert.ok(page instanceof PiecewiseReply, "a large SCAN page is a PiecewiseReply");
  let pageText = "";
  while (!page.done) pageText += page.next(4096);
  assert.equal(pageText, keysReply(names));
  assert.equal(typeof h.run("MGET k0 k1"), "string", "small replies stay strings");
});

Deno.test("execute() MSET writes every pair", () => {
  const h = harness();
  assert.deepEqual(h.changesOf("MSET a 1 b 2 a 3"), {
    reply: "OK\r\n",
    changed: ["a=1", "b=2", "a=3"],
  });
  assert.equal(h.run("MGET a b"), "VALUES 2\r\na 3\r\nb 2\r\n");
});

Deno.test("execute() EXISTS counts the keys that exist, repeats included", () => {
  const h = harness();
  h.run("SET a 1");
  h.run("SET b 2");
  h.run("DEL b");
  assert.equal(h.run("EXISTS a b c a"), "EXISTS 2\r\n");
});

Deno.test("execute() SCAN answers one bounded page in byte order and continues AFTER a key", () => {
  const h = harness();
  for (const key of ["u:3", "u:1", "x", "u:2", "u:4", "a"]) h.run(`SET ${key} v`);
  assert.equal(h.run("SCAN"), "KEYS 3\r\na\r\nu:1\r\nu:2\r\n");
  assert.equal(h.run("SCAN u:"), "KEYS 3\r\nu:1\r\nu:2\r\nu:3\r\n");
  assert.equal(h.run("SCAN u: AFTER u:3"), "KEYS 1\r\nu:4\r\n");
  assert.equal(h.run("SCAN AFTER u:4"), "KEYS 1\r\nx\r\n");
  assert.equal(h.run("SCAN none"), "KEYS 0\r\n");
});

Deno.test("execute() DBSIZE counts live keys only", () => {
  const h = harness();
  assert.equal(h.run("DBSIZE"), "DBSIZE 0\r\n");
  h.run("MSET a 1 b 2 c 3");
  h.run("DEL b");
  h.run("EXPIRE c 1");
  assert.equal(h.run("DBSIZE"), "DBSIZE 2\r\n");
  h.clock.ms += 1_000;
  assert.equal(h.run("DBSIZE"), "DBSIZE 1\r\n");
});

Deno.test("execute() EXPIRE sets an absolute expiry; the key reads absent once it passes", () => {
  const h = harness();
  assert.equal(h.run("EXPIRE k 5"), "NOT_FOUND\r\n");
  h.run("SET k v");
  assert.deepEqual(h.changesOf("EXPIRE k 5"), { reply: "OK\r\n", changed: ["k=v"] });
  assert.equal(h.store.entry("k")?.expiresAtMs, START_MS + 5_000);
  h.clock.ms = START_MS + 4_999;
  assert.equal(h.run("GET k"), "VALUE v\r\n");
  h.clock.ms = START_MS + 5_000;
  assert.equal(h.run("GET k"), "NOT_FOUND\r\n");
  assert.equal(h.run("TTL k"), "NOT_FOUND\r\n");
  assert.equal(h.run("EXISTS k"), "EXISTS 0\r\n");
  assert.equal(h.run("EXPIRE k 5"), "NOT_FOUND\r\n");
});

Deno.test("execute() EXPIRE 0 and negative seconds delete the key as a tombstone", () => {
  const h = harness();
  h.run("MSET a 1 b 2");
  assert.deepEqual(h.changesOf("EXPIRE a 0"), { reply: "OK\r\n", changed: ["a=<tombstone>"] });
  assert.deepEqual(h.changesOf("EXPIRE b -3"), { reply: "OK\r\n", changed: ["b=<tombstone>"] });
  assert.equal(h.run("MGET a b"), "VALUES 2\r\na NOT_FOUND\r\nb NOT_FOUND\r\n");
  assert.equal(h.store.tombstoneCount, 2);
});

Deno.test("execute() TTL answers seconds left rounded up, -1 without expiry, NOT_FOUND", () => {
  const h = harness();
  assert.equal(h.run("TTL k"), "NOT_FOUND\r\n");
  h.run("SET k v");
  assert.equal(h.run("TTL k"), "TTL -1\r\n");
  h.run("EXPIRE k 10");
  assert.equal(h.run("TTL k"), "TTL 10\r\n");
  h.clock.ms += 9_001;
  assert.equal(h.run("TTL k"), "TTL 1\r\n");
  h.clock.ms += 999;
  assert.equal(h.run("TTL k"), "NOT_FOUND\r\n");
});

Deno.test("execute() PERSIST removes an expiry, and changes nothing without one", () => {
  const h = harness();
  assert.equal(h.run("PERSIST k"), "NOT_FOUND\r\n");
  h.run("SET k v");
  assert.deepEqual(h.changesOf("PERSIST k"), { reply: "OK\r\n", changed: [] });
  h.run("EXPIRE k 1");
  assert.deepEqual(h.changesOf("PERSIST k"), { reply: "OK\r\n", changed: ["k=v"] });
  h.clock.ms += 10_000;
  assert.equal(h.run("GET k"), "VALUE v\r\n");
  assert.equal(h.run("TTL k"), "TTL -1\r\n");
});

Deno.test("SET replaces an expiring key with one that does not expire", () => {
  const h = harness();
  h.run("SET k v");
  h.run("EXPIRE k 1");
  h.run("SET k w");
  h.clock.ms += 5_000;
  assert.equal(h.run("GET k"), "VALUE w\r\n");
});

Deno.test("execute() TRUNCATE deletes every live key as a versioned tombstone", () => {
  const h = harness();
  h.run("MSET a 1 b 2 c 3");
  h.run("DEL c");
  h.run("SET d 4");
  h.run("EXPIRE d 1");
  h.clock.ms += 2_000;
  const { reply, changed } = h.changesOf("TRUNCATE");
  assert.equal(reply, "OK\r\n");
  assert.deepEqual(changed.sort(), ["a=<tombstone>", "b=<tombstone>"]);
  assert.equal(h.run("DBSIZE"), "DBSIZE 0\r\n");
  assert.equal(h.run("FLUSHDB"), "OK\r\n");
  assert.equal(h.store.tombstoneCount, 3);
});

Deno.test("execute() PING and ECHO answer with the message unchanged", () => {
  const h = harness();
  assert.equal(h.run("PING"), "PONG\r\n");
  assert.equal(h.run("PING hello  there"), "PONG hello  there\r\n");
  assert.equal(h.run("ECHO \x00\xff x "), "ECHO \x00\xff x \r\n");
});

Deno.test("execute() INFO and VERSION come from the node's services", () => {
  const h = harness();
  assert.equal(h.run("INFO"), "INFO\r\nnode_id:node-a\r\nEND\r\n");
  assert.equal(h.run("STATS"), "INFO\r\nnode_id:node-a\r\nEND\r\n");
  assert.equal(h.run("VERSION"), "VERSION 9.8.7\r\n");
});

Deno.test("execute() HASH answers the Merkle root, which follows every write", () => {
  const h = harness();
  assert.equal(h.run("HASH"), "HASH 0000000000000000\r\n");
  h.run("SET k v");
  const afterSet = h.run("HASH");
  assert.equal(afterSet, `HASH ${h.store.rootHex()}\r\n`);
  h.run("DEL k");
  assert.notEqual(h.run("HASH"), afterSet);
});

Deno.test("execute() QUIT asks to close the connection", () => {
  assert.equal(harness().run("QUIT"), CLOSE_CONNECTION);
});

Deno.test("execute() HELP answers the command table: every word, or one command's", () => {
  const h = harness();
  const all = String(h.run("HELP")).split("\r\n").slice(0, -1);
  assert.equal(all[0], `HELP ${all.length - 1}`);
  assert.ok(
    all.includes("SET key value - Stores value (every byte after the key's space); replies OK"),
  );
  assert.ok(
    all.includes(
      "HELP [command] - Replies HELP n, then n lines `syntax - summary`: every command's, or one's",
    ),
  );
  assert.equal(
    h.run("help delete"),
    "HELP 2\r\nDEL key - Deletes key; replies DELETED or NOT_FOUND\r\nDELETE key - Same as DEL\r\n",
  );
  assert.deepEqual(h.changesOf("HELP").changed, []);
});

Deno.test("execute() SHUTDOWN and SYNC are handed to the node's services", async () => {
  const h = harness();
  assert.equal(h.run("SHUTDOWN"), "OK\r\n");
  assert.equal(await h.run("SYNC 127.0.0.1 7879"), "OK synced\r\n");
  assert.equal(h.run("SYNC ROOT"), "ROOT 0\r\n");
  assert.deepEqual(h.calls, ["shutdown", "runSync 127.0.0.1 7879", "answerSync ROOT "]);
});

Deno.test("execute() read-only commands make no changes", () => {
  const h = harness();
  h.run("MSET a 1 b 2");
  for (const line of ["GET a", "MGET a b", "EXISTS a", "SCAN", "DBSIZE", "TTL a", "HASH"]) {
    assert.deepEqual(h.changesOf(line).changed, [], line);
  }
});

Deno.test("execute() RESOLVE is refused outside conflicts mode siblings, naming the mode, and writes nothing", () => {
  const h = harness();
  assert.deepEqual(h.changesOf("RESOLVE k v"), {
    reply:
      "ERROR RESOLVE needs conflicts.mode siblings; this node runs lww (set it on every node)\r\n",
    changed: [],
  });
  assert.equal(h.run("GET k"), "NOT_FOUND\r\n");
});

Deno.test("execute() GET lists the siblings of a key, winner first, and RESOLVE replaces them with one value", () => {
  const h = harness(true);
  h.run("SET k mine");
  h.run("SET other plain");
  const hlc = h.store.entry("k")!.hlc;
  // A peer's write that had not seen this one, newer by HLC: it wins, "mine" is a sibling.
  h.store.applyRemote({ key: "k", value: "theirs", hlc: hlc + 5, node: "node-b", expiresAtMs: 0 });
  assert.equal(
    h.run("GET k"),
    `SIBLINGS 2\r\nnode-b@${hlc + 5} theirs\r\nnode-a@${hlc} mine\r\n`,
  );
  assert.equal(h.run("GET other"), "VALUE plain\r\n");
  assert.equal(h.run("MGET k"), "VALUES 1\r\nk theirs\r\n");
  // A deletion among siblings is `<node>@<hlc>` with no value.
  h.store.applyRemote({ key: "k", value: null, hlc: hlc + 9, node: "node-c", expiresAtMs: 0 });
  assert.equal(
    h.run("GET k"),
    `SIBLINGS 3\r\nnode-c@${hlc + 9}\r\nnode-b@${hlc + 5} theirs\r\nnode-a@${hlc} mine\r\n`,
  );
  assert.deepEqual(h.changesOf("RESOLVE k both"), { reply: "OK\r\n", changed: ["k=both"] });
  assert.equal(h.run("GET k"), "VALUE both\r\n");
  assert.equal(h.store.causality.siblingKeys, 0);
});

Deno.test("execute() GET lists a sibling whose expiry has passed (SET then EXPIRE) as deleted, `<node>@<hlc>`", () => {
  const h = harness(true);
  h.run("SET k mine");
  assert.equal(h.run("EXPIRE k 10"), "OK\r\n");
  const hlc = h.store.entry("k")!.hlc;
  h.store.applyRemote({ key: "k", value: "theirs", hlc: hlc + 5, node: "node-b", expiresAtMs: 0 });
  assert.equal(h.run("GET k"), `SIBLINGS 2\r\nnode-b@${hlc + 5} theirs\r\nnode-a@${hlc} mine\r\n`);
  h.clock.ms += 10_000;
  assert.equal(h.run("GET k"), `SIBLINGS 2\r\nnode-b@${hlc + 5} theirs\r\nnode-a@${hlc}\r\n`);
  assert.equal(h.store.causality.siblingKeys, 1);
  assert.deepEqual(h.changesOf("RESOLVE k theirs"), { reply: "OK\r\n", changed: ["k=theirs"] });
  assert.equal(h.run("GET k"), "VALUE theirs\r\n");
});
