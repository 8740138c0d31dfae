/**
 * The checked request path (NodeCore with users): GET and SET lines as the connection hands
 * them (framed, in the received bytes) are checked and run from the bytes; the same lines as
 * strings take the parse-then-check route. Both must give the same reply, refusals included,
 * and count the same commands.
 */

import assert from "node:assert/strict";
import { SeededRandom } from "../_support/seeded_random.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/types.ts";
import {
  AccessControl,
  parseUsersFile,
  readAccess,
  settleUsers,
  sha256Hex,
} from "../../src/auth/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { NodeCore } from "../../src/node/core.ts";
import { LineFramer } from "../../src/protocol/framer.ts";
import { ReplyChunk } from "../../src/server/reply_encoder.ts";
import { Store } from "../../src/store/mod.ts";

const CLIENT = { remoteAddress: "127.0.0.1", isLoopback: true };

const USERS = [
  "user all on >p ~user:* ~v*_* ~k?y ~[ab]x* ~lit +@all",
  "user reader on >p ~* +@read",
  "user writer on >p ~*x* +set",
  "user getter on >p ~v*_* -@all +get",
  "user none on >p ~* -@all",
].join("\n");

function makeCore(): NodeCore {
  const config: Config = { ...structuredClone(DEFAULT_CONFIG), nodeId: "node-a" };
  config.limits.maxKeyBytes = 12;
  config.limits.maxValueBytes = 16;
  const store = new Store({
    nodeId: config.nodeId,
    clock: { nowMs: () => 1_700_000_000_000 },
    tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: config.replication.maxClockSkewMs,
  });
  const users = parseUsersFile(USERS, "users.acl", sha256Hex);
  if ("error" in users) throw new Error(users.error);
  const state = { users: settleUsers(users, null), protectedMode: false, enforced: true };
  return new NodeCore(config, store, {
    changeLog: null,
    replicator: null,
    antiEntropy: null,
    connectionCount: () => 1,
    requestShutdown: () => {},
    auth: {
      access: new AccessControl(state, sha256Hex),
      read: (auth) => readAccess(auth, silentLogger),
      log: silentLogger,
    },
  });
}

/** The reply to `line` handed over framed, as a connection hands it (bytes written to `out`). */
function framedReply(core: NodeCore, line: string): string | null {
  const framer = new LineFramer(1 << 20);
  framer.push(Uint8Array.from(line + "\r\n", (unit) => unit.charCodeAt(0)));
  assert.equal(framer.advance(), true);
  const out = new ReplyChunk();
  out.start();
  const reply = core.handleLine(framer, CLIENT, out);
  if (reply === null) return null;
  assert.equal(typeof reply, "string", `a plain reply to ${JSON.stringify(line)}`);
  if ((reply as string).length !== 0) out.appendText(reply as string);
  return String.fromCharCode(...out.take(0));
}

const KEY_PIECES = ["user:", "v1", "_", "k", "e", "y", "a", "b", "x", "lit", "\x01", "\xe9", "*"];
const VERBS = ["GET", "SET", "get", "Set", "sET", "GET", "SET", "GETS", "MGET"];

/** A GET or SET line, often well formed, sometimes odd (spacing, bytes, lengths, arity). */
function randomLine(random: SeededRandom): string {
  let key = "";
  for (let pieces = random.below(5); pieces > 0; pieces--) key += random.pick(KEY_PIECES);
  const verb = random.pick(VERBS);
  const space = random.below(10) === 0 ? random.pick(["  ", "\t", " \x01"]) : " ";
  let line = verb + space + key;
  if (verb.toLowerCase() !== "get" || random.below(8) === 0) {
    line += " " + "v".repeat(random.below(20));
  }
  return line;
}

Deno.test("checked GET and SET from the received bytes answer as the parsed route, refusals included", () => {
  const random = new SeededRandom(32);
  for (const user of ["all", "reader", "writer", "getter", "none"]) {
    const framed = makeCore();
    const parsed = makeCore();
    assert.equal(framed.handleLine(`AUTH ${user} p`, CLIENT), "OK\r\n");
    assert.equal(parsed.handleLine(`AUTH ${user} p`, CLIENT), "OK\r\n");
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const line = randomLine(random);
      const expected = parsed.handleLine(line, CLIENT);
      assert.equal(framedReply(framed, line), expected, `${user}: ${JSON.stringify(line)}`);
      seen.add((expected as string).split(" ").slice(0, 2).join(" "));
    }
    assert.deepEqual(framed.counters.commands, parsed.counters.commands, `${user}: counts`);
    assert.deepEqual(framed.counters.errors, parsed.counters.errors, `${user}: error counts`);
    assert.equal(framed.counters.invalid, parsed.counters.invalid, `${user}: invalid lines`);
    // The lines reached both sides of each check: runs and refusals.
    if (user === "all") {
      for (const start of ["OK\r\n", "VALUE v", "NOT_FOUND\r\n", "ERROR NOPERM"]) {
        assert.ok([...seen].some((reply) => reply.startsWith(start)), `${user}: a ${start}`);
      }
    }
  }
});
