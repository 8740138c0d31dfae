/**
 * What the ACL checks add to a request on the node's request path, without sockets: a chunk of
 * 32 lines (16 `SET key value` and 16 `GET key`, 100-byte values, the load client's keys) run
 * through NodeCore.handleLine() as the connection runs them, on a core without auth and on one
 * whose user holds the `auth` bench's globs (`~cache:* ~session:* ~v*_* ~vfy_*`, bench/sections/
 * auth.ts). The difference per request over the node's CPU per request at depth 32 (about 2-3 µs
 * on the 2-core machine, bench/HISTORY.md) is the checks' share. `deno task bench:micro`.
 */

import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/types.ts";
import {
  AccessControl,
  parseUsersFile,
  readAccess,
  settleUsers,
  sha256Hex,
} from "../../src/auth/mod.ts";
import { NodeCore } from "../../src/node/core.ts";
import { LineFramer } from "../../src/protocol/framer.ts";
import { ReplyChunk } from "../../src/server/reply_encoder.ts";
import { Store } from "../../src/store/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { USERS_FILE_TEXT } from "../sections/auth.ts";

const LINES = 32;
const KEYS = 1_000;
const CLIENT = { remoteAddress: "127.0.0.1", isLoopback: true };

function makeCore(withAuth: boolean): NodeCore {
  const config: Config = { ...structuredClone(DEFAULT_CONFIG), nodeId: "bench" };
  const store = new Store({
    nodeId: config.nodeId,
    clock: { nowMs: () => 1_700_000_000_000 },
    tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: config.replication.maxClockSkewMs,
  });
  const parsed = parseUsersFile(USERS_FILE_TEXT, "users.acl", sha256Hex);
  if ("error" in parsed) throw new Error(parsed.error);
  const state = { users: settleUsers(parsed, null), protectedMode: false, enforced: true };
  const auth = withAuth
    ? {
      access: new AccessControl(state, sha256Hex),
      read: (auth: Config["auth"]) => readAccess(auth, silentLogger),
      log: silentLogger,
    }
    : undefined;
  const core = new NodeCore(config, store, {
    changeLog: null,
    replicator: null,
    antiEntropy: null,
    connectionCount: () => 1,
    requestShutdown: () => {},
    ...(auth === undefined ? {} : { auth }),
  });
  if (withAuth) core.handleLine("AUTH bench bench-load-password", CLIENT);
  return core;
}

/** Chunks of LINES lines over KEYS keys, as the load client sends them. */
function chunks(): Uint8Array[] {
  const encoder = new TextEncoder();
  const result: Uint8Array[] = [];
  let line = 0;
  for (let chunk = 0; chunk < 64; chunk++) {
    let text = "";
    for (let i = 0; i < LINES; i++, line++) {
      const key = "v100_" + String((line * 7919) % KEYS).padStart(11, "0");
      text += i % 2 === 0 ? `SET ${key} ${(key + "=").padEnd(100, "x")}\r\n` : `GET ${key}\r\n`;
    }
    result.push(encoder.encode(text));
  }
  return result;
}

export function runner(withAuth: boolean): () => void {
  const core = makeCore(withAuth);
  const framer = new LineFramer(DEFAULT_CONFIG.limits.maxLineBytes);
  const out = new ReplyChunk();
  const inputs = chunks();
  let next = 0;
  return () => {
    framer.push(inputs[next++ % inputs.length]!);
    out.start();
    core.beforeLines(framer.bytes, framer.unreadStart, framer.bytes.length);
    while (framer.advance() === true) {
      const reply = core.handleLine(framer, CLIENT, out);
      if (typeof reply === "string" && reply.length !== 0) out.appendText(reply);
    }
    out.take(1);
    core.endOfChunk({ logged: () => {} });
  };
}

Deno.bench({
  name: "a chunk of 16 SET and 16 GET on a node without auth",
  group: "chunk of 32",
  baseline: true,
  fn: runner(false),
});

Deno.bench({
  name: "a chunk of 16 SET and 16 GET checked against four globs",
  group: "chunk of 32",
  fn: runner(true),
});

/**
 * `deno run -A bench/micro/checked_path_bench.ts`: both sides in alternating batches of
 * BATCH_CHUNKS chunks, the fastest batch per side (the figure least moved by other work on a
 * shared machine), in ns per request.
 */
const BATCHES = 3_000;
const BATCH_CHUNKS = 200;

if (import.meta.main) {
  const sides = [{ name: "without auth", run: runner(false) }, {
    name: "with auth",
    run: runner(true),
  }];
  const best = [Infinity, Infinity];
  for (let warmup = 0; warmup < 20_000; warmup++) for (const side of sides) side.run();
  for (let batch = 0; batch < BATCHES; batch++) {
    for (let i = 0; i < sides.length; i++) {
      const side = batch % 2 === 0 ? i : sides.length - 1 - i;
      const started = performance.now();
      for (let chunk = 0; chunk < BATCH_CHUNKS; chunk++) sides[side]!.run();
      const nsPerRequest = (performance.now() - started) * 1e6 / BATCH_CHUNKS / LINES;
      best[side] = Math.min(best[side]!, nsPerRequest);
    }
  }
  for (const [i, side] of sides.entries()) {
    console.log(`${side.name}: ${best[i]!.toFixed(0)} ns per request (fastest batch)`);
  }
  console.log(`with auth - without: ${(best[1]! - best[0]!).toFixed(0)} ns per request`);
}
