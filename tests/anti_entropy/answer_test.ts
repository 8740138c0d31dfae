import assert from "node:assert/strict";
import { formatEntry, formatRequest } from "../../src/anti_entropy/codec.ts";
import { parseCommand } from "../../src/protocol/parse.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { SEGMENT_COUNT, SUB_BUCKETS } from "../../src/store/merkle.ts";
import {
  answerLine,
  DAY_MS,
  FakeClock,
  frameReply,
  keysInOneSegment,
  LIMITS,
  makeStore,
  NOW_MS,
} from "./harness.ts";

function peerStore() {
  const clock = new FakeClock();
  return { clock, store: makeStore("node-b", clock) };
}

Deno.test("sync requests parse as peer requests, never as the operator's SYNC <host> <port>", () => {
  const lines = [
    formatRequest({ verb: "HELLO", nodeId: "1", rootHex: "0000000000000000" }),
    formatRequest({ verb: "SEGMENTS", branches: [1] }),
    formatRequest({ verb: "DIGESTS", queries: [{ segment: 80, subHashes: null }] }),
    formatRequest({ verb: "GET", keys: ["12345"] }),
    formatRequest({
      verb: "PUSH",
      entries: [{ key: "1", value: "2", hlc: 3, node: "4", expiresAtMs: 0 }],
    }),
  ];
  for (const line of lines) assert.equal(parseCommand(line, LIMITS).kind, "sync_request", line);
});

Deno.test("HELLO answers the root, and the branches only when the roots differ", () => {
  const { store } = peerStore();
  store.write("k", "v", 0);
  const differing = frameReply(answerLine("sync hello 2 node-a 0000000000000000", store));
  assert.equal(differing.length, 1);
  const words = differing[0]!.split(" ");
  assert.deepEqual(words.slice(0, 5), ["HELLO", "2", "node-b", "1049664", store.rootHex()]);
  assert.equal(words[5]?.length, 2732);
  const equal = answerLine(`SYNC HELLO 2 node-a ${store.rootHex()}`, store);
  assert.equal(equal, `HELLO 2 node-b 1049664 ${store.rootHex()} -\r\n`);
});

Deno.test("a request in another protocol version gets one ERROR line naming both versions", () => {
  const { store } = peerStore();
  assert.equal(
    answerLine("SYNC HELLO 1 node-a 0000000000000000", store),
    "ERROR unsupported sync protocol version 1 (this node speaks 2)\r\n",
  );
  assert.match(answerLine("SYNC FROB 2 x", store), /^ERROR unknown sync request "FROB"/);
});

Deno.test("DIGESTS lists each segment's entries, tombstones included, with its purge horizon", () => {
  const { clock, store } = peerStore();
  store.write("live", "v", 0);
  store.write("gone", null, 0);
  const segment = store.segmentOfKey("gone");
  clock.ms += 2 * DAY_MS;
  store.purge(0, SEGMENT_COUNT);
  store.write("gone", null, 0);
  const horizon = store.purgeHorizon(segment);
  assert.ok(horizon > 0);
  const reply = frameReply(answerLine(`SYNC DIGESTS 2 ${segment}`, store));
  assert.equal(reply[0], "DIGESTS 2");
  assert.equal(reply[1], `S ${segment} ${horizon} 1`);
  const entryLine = reply[2];
  assert.ok(entryLine !== undefined, "DIGESTS lists an entry line");
  assert.match(entryLine, new RegExp(`^gone \\d+ node-b 0 T$`));
});

Deno.test("DIGESTS with the asker's sub-bucket hashes lists only the sub-buckets that differ", () => {
  const { store } = peerStore();
  const asker = makeStore("node-a", new FakeClock());
  const keys = keysInOneSegment(store, 24);
  for (const key of keys) asker.applyRemote(store.write(key, "same", 0));
  const [first] = keys;
  assert.ok(first !== undefined, "keysInOneSegment gave keys");
  const segment = store.segmentOfKey(first);
  const ask = () =>
    frameReply(answerLine(
      formatRequest({
        verb: "DIGESTS",
        queries: [{ segment, subHashes: asker.segmentContents(segment).hashes }],
      }),
      store,
    ));
  const horizon = store.purgeHorizon(segment);
  assert.deepEqual(ask(), ["DIGESTS 1", `S ${segment} ${horizon} 0 0000`], "all equal");

  const changed = keys[5];
  assert.ok(changed !== undefined, "a sixth key to change");
  store.write(changed, "newer here", 0);
  const subBucket = store.placeOfKey(changed) % SUB_BUCKETS;
  const sameSubBucket = keys.filter((key) => store.placeOfKey(key) % SUB_BUCKETS === subBucket);
  const reply = ask();
  const listed = (1 << subBucket).toString(16).padStart(4, "0");
  assert.equal(reply[0], `DIGESTS ${1 + sameSubBucket.length}`);
  assert.equal(reply[1], `S ${segment} ${horizon} ${sameSubBucket.length} ${listed}`);
  assert.deepEqual(reply.slice(2).map((line) => line.split(" ")[0]).sort(), sameSubBucket.sort());
  assert.ok(sameSubBucket.length < keys.length);

  const whole = frameReply(answerLine(`SYNC DIGESTS 2 ${segment}`, store));
  assert.equal(whole[1], `S ${segment} ${horizon} ${keys.length}`, "without hashes: every key");
});

Deno.test("GET answers held entries (tombstones too) and leaves out keys it does not hold", () => {
  const { store } = peerStore();
  const live = store.write("a", "value a", 0);
  const dead = store.write("b", null, 0);
  const reply = frameReply(answerLine("SYNC GET 2 a missing b", store));
  assert.deepEqual(reply, ["ENTRIES 2", formatEntry(live), formatEntry(dead)]);
});

Deno.test("GET stops adding entries once the reply passes 1 MiB, but always sends one", () => {
  const { store } = peerStore();
  for (const key of ["x", "y", "z"]) store.write(key, "v".repeat(600_000), 0);
  const reply = frameReply(answerLine("SYNC GET 2 x y z", store));
  assert.equal(reply[0], "ENTRIES 2");
});

Deno.test("PUSH merges by LWW: newer entries win, older ones are counted stale", () => {
  const { store } = peerStore();
  const t = hlcFromMs(NOW_MS);
  store.applyRemote({ key: "k", value: "peer's", hlc: t + 10, node: "node-b", expiresAtMs: 0 });
  const older = { key: "k", value: "older", hlc: t, node: "node-a", expiresAtMs: 0 };
  const fresh = { key: "new", value: "a b", hlc: t, node: "node-a", expiresAtMs: 0 };
  const future = {
    key: "f",
    value: "x",
    hlc: hlcFromMs(NOW_MS + DAY_MS),
    node: "a",
    expiresAtMs: 0,
  };
  const line = formatRequest({ verb: "PUSH", entries: [older, fresh, future] });
  assert.equal(answerLine(line, store), "PUSHED 1 1 1 0\r\n");
  assert.equal(store.read("k")?.value, "peer's");
  assert.equal(store.read("new")?.value, "a b");
  assert.equal(store.entry("f"), undefined);
});

Deno.test("PUSH refuses an old entry of a key whose newer delete was purged here", () => {
  const { clock, store } = peerStore();
  const t = hlcFromMs(NOW_MS);
  store.write("k", null, 0);
  clock.ms += 2 * DAY_MS;
  store.purge(0, SEGMENT_COUNT);
  const zombie = { key: "k", value: "back?", hlc: t - 1, node: "node-a", expiresAtMs: 0 };
  const newer = {
    key: "k2",
    value: "ok",
    hlc: hlcFromMs(clock.ms),
    node: "node-a",
    expiresAtMs: 0,
  };
  assert.equal(
    answerLine(formatRequest({ verb: "PUSH", entries: [zombie, newer] }), store),
    "PUSHED 1 0 0 1\r\n",
  );
  assert.equal(store.entry("k"), undefined);
});

Deno.test("a malformed PUSH is answered with ERROR and merges none of its entries", () => {
  const { store } = peerStore();
  const good = formatEntry({ key: "ok", value: "v", hlc: 5, node: "a", expiresAtMs: 0 });
  const reply = answerLine(`SYNC PUSH 2 2 ${good} bad 1 no/de 0 1 v`, store);
  assert.match(reply, /^ERROR SYNC PUSH: entry 2: invalid node id/);
  assert.equal(store.size, 0);
});
