import assert from "node:assert/strict";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { SEGMENT_COUNT, SUB_BUCKETS } from "../../src/store/merkle.ts";
import { planSegment, SyncSession } from "../../src/anti_entropy/session.ts";
import { ALL_SUB_BUCKETS, formatEntriesReply, formatEntry } from "../../src/anti_entropy/codec.ts";
import {
  DAY_MS,
  FakeClock,
  keysInOneSegment,
  LIMITS,
  makeStore,
  mergeInto,
  NOW_MS,
  snapshot,
  syncByHand,
} from "./harness.ts";
import { AssertionError } from "../../src/assert.ts";
import { nth } from "../_support/nth.ts";

function pair(graceMs = DAY_MS) {
  const clock = new FakeClock();
  return { clock, a: makeStore("node-a", clock, graceMs), b: makeStore("node-b", clock, graceMs) };
}

Deno.test("a session between equal replicas is one HELLO round trip of under 100 bytes", () => {
  const { a, b } = pair();
  for (let i = 0; i < 100; i++) {
    const entry = a.write(`key:${i}`, `value ${i}`, 0);
    mergeInto(b, [entry]);
  }
  const { summary, error } = syncByHand(a, b);
  assert.equal(error, null);
  assert.equal(summary.rounds, 1);
  assert.ok(summary.treeBytes < 100, `tree bytes ${summary.treeBytes}`);
  assert.equal(summary.pulled + summary.pushed, 0);
});

Deno.test("a session pulls keys only the peer holds and pushes keys only we hold", () => {
  const { a, b } = pair();
  a.write("mine", "from a", 0);
  b.write("theirs", "from b", 0);
  const { summary, error } = syncByHand(a, b);
  assert.equal(error, null);
  assert.equal(summary.pulled, 1);
  assert.equal(summary.pushed, 1);
  assert.equal(summary.rounds, 4);
  assert.equal(a.read("theirs")?.value, "from b");
  assert.equal(b.read("mine")?.value, "from a");
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("a session leaves both sides with the newer version of a key written on both", () => {
  const { clock, a, b } = pair();
  a.write("k", "older", 0);
  clock.ms += 10;
  b.write("k", "newer", 0);
  clock.ms += 10;
  b.write("j", "older", 0);
  clock.ms += 10;
  a.write("j", "newer", 0);
  syncByHand(a, b);
  for (const store of [a, b]) {
    assert.equal(store.read("k")?.value, "newer");
    assert.equal(store.read("j")?.value, "newer");
  }
});

Deno.test("a delete on one side wins over the older value on the other, both ways", () => {
  const { clock, a, b } = pair();
  const entry = a.write("gone", "alive", 0);
  mergeInto(b, [entry]);
  clock.ms += 5;
  b.write("gone", null, 0);
  syncByHand(a, b);
  assert.equal(a.read("gone"), undefined);
  assert.equal(a.entry("gone")?.value, null);
  // And the other direction: the deleting side starts the session.
  const other = makeStore("node-c", clock);
  mergeInto(other, [entry]);
  syncByHand(b, other);
  assert.equal(other.read("gone"), undefined);
  assert.equal(b.rootHex(), other.rootHex());
});

Deno.test("values with spaces, empty values and bytes 0x80-0xff arrive byte for byte", () => {
  const { a, b } = pair();
  const values = ["", " ", "a  b ", "\u00ff\u0080\u00e9", "tab\there", "x".repeat(5000)];
  values.forEach((value, i) => a.write(`v${i}`, value, 0));
  a.write("expiring", "soon", NOW_MS + 60_000);
  syncByHand(b, a);
  values.forEach((value, i) => assert.equal(b.read(`v${i}`)?.value, value));
  assert.equal(b.entry("expiring")?.expiresAtMs, NOW_MS + 60_000);
  assert.deepEqual(snapshot(b), snapshot(a));
});

Deno.test("a push re-reads the local entry: a write made during the session is what goes", () => {
  const { clock, a, b } = pair();
  const old = b.write("k", "v1", 0);
  mergeInto(a, [old]);
  clock.ms += 5;
  a.write("k", "v2", 0);
  const result = syncByHand(a, b, {
    betweenRounds: (round) => {
      // After DIGESTS (round 3) the push of "k" is planned; a newer local write lands now.
      if (round === 3) {
        clock.ms += 5;
        a.write("k", "v3", 0);
      }
    },
  });
  assert.equal(result.error, null);
  assert.equal(b.read("k")?.value, "v3");
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("a write on the peer during the session is never overwritten by our older push", () => {
  const { clock, a, b } = pair();
  a.write("k", "ours", 0);
  let pushedReplies = "";
  const result = syncByHand(a, b, {
    betweenRounds: (round) => {
      if (round === 3) {
        clock.ms += 5;
        b.write("k", "theirs, newer", 0);
      }
    },
    tamper: (line, reply) => {
      if (line.startsWith("SYNC PUSH")) pushedReplies += reply;
      return reply;
    },
  });
  assert.equal(result.error, null);
  assert.equal(b.read("k")?.value, "theirs, newer");
  assert.equal(pushedReplies, "PUSHED 0 1 0 0\r\n");
  syncByHand(a, b);
  assert.equal(a.read("k")?.value, "theirs, newer");
});

Deno.test("a session never pushes an entry that is not newer than the peer's", () => {
  const { clock, a, b } = pair();
  for (let i = 0; i < 200; i++) {
    const side = i % 2 === 0 ? a : b;
    side.write(`k${i % 50}`, `v${i}`, 0);
    clock.ms += 1;
  }
  const replies: string[] = [];
  syncByHand(a, b, {
    tamper: (line, reply) => {
      if (line.startsWith("SYNC PUSH")) replies.push(reply);
      return reply;
    },
  });
  assert.ok(replies.length > 0);
  for (const reply of replies) assert.match(reply, /^PUSHED \d+ 0 0 0\r\n$/);
});

Deno.test("the key budget bounds one session; later sessions repair the rest", () => {
  const { a, b } = pair();
  for (let i = 0; i < 30; i++) a.write(`a${i}`, "x", 0);
  for (let i = 0; i < 30; i++) b.write(`b${i}`, "y", 0);
  const first = syncByHand(a, b, { maxKeysPerSession: 7 });
  assert.equal(first.summary.complete, false);
  assert.ok(first.summary.pulled + first.summary.pushed <= 7);
  let sessions = 1;
  while (a.rootHex() !== b.rootHex()) {
    const result = syncByHand(a, b, { maxKeysPerSession: 7 });
    assert.ok(result.summary.pulled + result.summary.pushed <= 7);
    sessions++;
    assert.ok(sessions <= 12, "did not converge");
  }
  assert.equal(sessions, Math.ceil(60 / 7));
  assert.deepEqual(snapshot(a), snapshot(b));
});

Deno.test("at most 4 round trips repair 10 differences among 20,000 keys, tree bytes under 64 KiB", () => {
  const { a, b } = pair();
  for (let i = 0; i < 20_000; i++) mergeInto(b, [a.write(`key:${i}`, `value:${i}`, 0)]);
  for (let i = 0; i < 5; i++) a.write(`new:${i}`, "only on a", 0);
  for (let i = 0; i < 5; i++) b.write(`key:${i * 1000}`, "changed on b", 0);
  const { summary, error } = syncByHand(a, b);
  assert.equal(error, null);
  assert.equal(summary.rounds, 4);
  assert.equal(summary.pulled, 5);
  assert.equal(summary.pushed, 5);
  assert.ok(summary.treeBytes < 64 * 1024, `tree bytes ${summary.treeBytes}`);
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("an entry too long for the peer's line limit is left out, and the peer can pull it", () => {
  const { a, b } = pair();
  a.write("big", "x".repeat(2000), 0);
  a.write("small", "y", 0);
  const result = syncByHand(a, b, { peerMaxLineBytes: 1000 });
  assert.equal(result.error, null);
  assert.equal(result.summary.complete, false);
  assert.equal(b.read("small")?.value, "y");
  assert.equal(b.read("big"), undefined);
  syncByHand(b, a);
  assert.equal(b.read("big")?.value, "x".repeat(2000));
});

Deno.test("a session with a peer that has this node's id stops with an error", () => {
  const clock = new FakeClock();
  const a = makeStore("same", clock);
  const twin = makeStore("same", clock);
  twin.write("k", "v", 0);
  const { error, summary } = syncByHand(a, twin);
  assert.match(error ?? "", /the peer is this node \(node id same\)/);
  assert.equal(summary.peerNodeId, "same");
  assert.equal(a.size, 0);
});

/** Replies that must stop a session and change nothing here. */
const MALFORMED_REPLIES: [string, string, (reply: string) => string][] = [
  ["HELLO", "an ERROR", () => "ERROR busy\r\n"],
  ["HELLO", "another protocol version", (r) => r.replace("HELLO 2 ", "HELLO 1 ")],
  ["HELLO", "a bad node id", (r) => r.replace("node-b", "node b!")],
  ["HELLO", "branches that do not XOR to the root", (r) => r.replace(/ (\S{10})/, " AAAAAAAAAA")],
  ["HELLO", "truncated branches", (r) => r.slice(0, 200) + "\r\n"],
  [
    "SEGMENTS",
    "other branches",
    (r) => r.replace(/\r\n\d+ /, "\r\n0 ").replace(/\r\n0 /, "\r\n1 "),
  ],
  [
    "SEGMENTS",
    "a hash list that is not base64",
    (r) => r.replace(/ [A-Za-z0-9+/]{8}/, " !!!!!!!!"),
  ],
  ["DIGESTS", "no segments", () => "DIGESTS 0\r\n"],
  ["DIGESTS", "a key in the wrong segment", (r) => r.replace(/\r\nk\d+ /, "\r\nzz-not-here ")],
  ["DIGESTS", "a bad digest kind", (r) => r.replace(/ V\r\n/, " Q\r\n")],
  [
    "DIGESTS",
    "sub-buckets for a segment asked for whole",
    (r) => r.replace(/^(DIGESTS \d+\r\nS \d+ \d+ \d+)/, "$1 0001"),
  ],
  ["GET", "an entry not asked for", () => "ENTRIES 1\r\nintruder 1 node-b 0 1 x\r\n"],
  ["GET", "an invalid node id", (r) => r.replace(" node-b ", " node/b ")],
  ["GET", "a value longer than its length", (r) => r.replace(/\r\n$/, "junk\r\n")],
  ["GET", "a version that is not a number", (r) => r.replace(/ \d+ node-b/, " 12x node-b")],
  ["PUSH", "counts that do not add up", () => "PUSHED 5 0 0 0\r\n"],
  ["PUSH", "not PUSHED", () => "OK\r\n"],
];

for (const [verb, what, tamper] of MALFORMED_REPLIES) {
  Deno.test(`a session fails on a ${verb} reply with ${what}, adopting nothing from it`, () => {
    const { a, b } = pair();
    for (let i = 0; i < 20; i++) b.write(`k${i}`, `peer value ${i}`, 0);
    a.write("mine", "x", 0);
    const before = snapshot(a);
    const { error } = syncByHand(a, b, {
      tamper: (line, reply) => (line.startsWith(`SYNC ${verb} `) ? tamper(reply) : reply),
    });
    assert.match(error ?? "", new RegExp(`SYNC ${verb}`));
    if (verb !== "PUSH") assert.deepEqual(snapshot(a), before);
  });
}

/** Replicas sharing 40 keys of one segment, then apart: a few changed on each side. */
function crowdedPair() {
  const { clock, a, b } = pair();
  const keys = keysInOneSegment(a, 44);
  for (const key of keys.slice(0, 40)) mergeInto(b, [a.write(key, "same", 0)]);
  clock.ms += 10;
  a.write(nth(keys, 3), "newer on a", 0);
  a.write(nth(keys, 40), "only on a", 0);
  b.write(nth(keys, 7), "newer on b", 0);
  b.write(nth(keys, 9), null, 0);
  b.write(nth(keys, 41), "only on b", 0);
  return { a, b, keys, segment: a.segmentOfKey(nth(keys, 0)) };
}

Deno.test("a crowded segment is compared by sub-bucket: only the keys of differing ones travel", () => {
  const { a, b, keys, segment } = crowdedPair();
  const changed = [3, 40, 7, 9, 41].map((i) => nth(keys, i));
  const differing = new Set(changed.map((key) => a.placeOfKey(key) % SUB_BUCKETS));
  const inDiffering = keys.filter((key) => differing.has(a.placeOfKey(key) % SUB_BUCKETS));
  const digestLines: string[] = [];
  const { summary, error } = syncByHand(a, b, {
    tamper: (line, reply) => {
      if (line.startsWith("SYNC DIGESTS")) {
        assert.match(line, new RegExp(`^SYNC DIGESTS 2 ${segment}:[A-Za-z0-9+/]{171}=$`));
        digestLines.push(...reply.split("\r\n").slice(2, -1));
      }
      return reply;
    },
  });
  assert.equal(error, null);
  assert.equal(a.rootHex(), b.rootHex());
  assert.equal(summary.pulled, 3);
  assert.equal(summary.pushed, 2);
  assert.equal(a.read(nth(keys, 9)), undefined);
  assert.equal(b.read(nth(keys, 40))?.value, "only on a");
  // The peer lists its keys of the differing sub-buckets, none of the others.
  const peerKeys = inDiffering.filter((key) => b.entry(key) !== undefined && key !== keys[40]);
  assert.deepEqual(digestLines.map((line) => line.split(" ")[0]).sort(), peerKeys.sort());
  assert.ok(digestLines.length < 40, `${digestLines.length} digests for 40 shared keys`);
});

Deno.test("a session fails on a DIGESTS reply listing a key of a sub-bucket it does not list", () => {
  const { a, b } = crowdedPair();
  const before = snapshot(a);
  const { error } = syncByHand(a, b, {
    tamper: (line, reply) =>
      line.startsWith("SYNC DIGESTS ")
        ? reply.replace(/^(DIGESTS \d+\r\nS( \d+){3}) \w+/, "$1 0000")
        : reply,
  });
  assert.match(error ?? "", /SYNC DIGESTS: key "k\d+" is in a sub-bucket not listed/);
  assert.deepEqual(snapshot(a), before);
});

Deno.test("a crowded segment the peer holds nothing of is asked for without hashes", () => {
  const { a, b } = pair();
  const keys = keysInOneSegment(a, 20);
  for (const key of keys) a.write(key, "only on a", 0);
  const requests: string[] = [];
  const { summary, error } = syncByHand(a, b, {
    tamper: (line, reply) => {
      requests.push(line);
      return reply;
    },
  });
  assert.equal(error, null);
  assert.ok(
    requests.includes(`SYNC DIGESTS 2 ${a.segmentOfKey(nth(keys, 0))}`),
    requests.join("\n"),
  );
  assert.equal(summary.pushed, 20);
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("a segment's sub-bucket hashes are left out when they would not fit the peer's line", () => {
  const { a, b, segment } = crowdedPair();
  const requests: string[] = [];
  const { error } = syncByHand(a, b, {
    peerMaxLineBytes: 150,
    tamper: (line, reply) => {
      requests.push(line);
      return reply;
    },
  });
  assert.equal(error, null);
  assert.ok(requests.includes(`SYNC DIGESTS 2 ${segment}`), requests.join("\n"));
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("a tombstone past its grace period is not sent to a side that lacks the key", () => {
  const { clock, a, b } = pair(1000);
  a.write("old", null, 0);
  clock.ms += 5000;
  const { summary } = syncByHand(a, b, { graceMs: 1000 });
  assert.equal(summary.pushed, 0);
  assert.equal(b.entry("old"), undefined);
});

Deno.test("a node away longer than the grace period cannot resurrect a deleted key", () => {
  const graceMs = 60_000;
  const { clock, a, b } = pair(graceMs);
  const alive = a.write("zombie", "alive", 0);
  a.write("kept", "still here", 0);
  mergeInto(b, [alive, a.entry("kept")!]);
  // node-b goes away; node-a deletes the key, and purges the tombstone after the grace.
  clock.ms += 1000;
  a.write("zombie", null, 0);
  clock.ms += graceMs + 1000;
  assert.equal(a.purge(0, SEGMENT_COUNT), 1);
  assert.equal(a.entry("zombie"), undefined);
  // node-a starting the session: does not pull the old copy back.
  const pullSide = syncByHand(a, b, { graceMs });
  assert.equal(pullSide.error, null);
  assert.equal(pullSide.summary.refused, 1);
  assert.equal(a.entry("zombie"), undefined);
  // node-b starting it: does not push it, and drops its own copy.
  const pushSide = syncByHand(b, a, { graceMs });
  assert.equal(pushSide.summary.pushed, 0);
  assert.equal(pushSide.summary.discarded, 1);
  assert.equal(b.entry("zombie"), undefined);
  assert.equal(b.read("kept")?.value, "still here");
  assert.equal(a.rootHex(), b.rootHex());
});

Deno.test("an empty node joining after the grace period still receives old keys", () => {
  const graceMs = 60_000;
  const { clock, a } = pair(graceMs);
  a.write("old", "from long ago", 0);
  a.write("deleted", null, 0);
  clock.ms += graceMs * 10;
  a.purge(0, SEGMENT_COUNT);
  const fresh = makeStore("node-new", clock, graceMs);
  syncByHand(fresh, a, { graceMs });
  assert.equal(fresh.read("old")?.value, "from long ago");
  const other = makeStore("node-new2", clock, graceMs);
  syncByHand(a, other, { graceMs });
  assert.equal(other.read("old")?.value, "from long ago");
  assert.equal(a.rootHex(), other.rootHex());
});

Deno.test("planSegment() compares versions both ways and leaves equal keys alone", () => {
  const t = hlcFromMs(NOW_MS);
  const local = [
    { key: "same", value: "v", hlc: t, node: "a", expiresAtMs: 0 },
    { key: "newer-here", value: "v", hlc: t + 5, node: "a", expiresAtMs: 0 },
    { key: "older-here", value: "v", hlc: t, node: "a", expiresAtMs: 0 },
    { key: "only-here", value: "v", hlc: t, node: "a", expiresAtMs: 0 },
  ];
  const digest = (key: string, hlc: number, node = "a") => ({
    key,
    hlc,
    node,
    tombstone: false,
    expiresAtMs: 0,
    counter: null,
    causality: null,
  });
  const plan = planSegment(
    local,
    {
      segment: 0,
      horizonHlc: 0,
      listed: ALL_SUB_BUCKETS,
      digests: [
        digest("same", t),
        digest("newer-here", t),
        digest("older-here", t, "b"),
        digest("only-there", t),
      ],
    },
    0,
    NOW_MS,
    DAY_MS,
  );
  assert.deepEqual(plan.pull.sort(), ["older-here", "only-there"]);
  assert.deepEqual(plan.push.map((p) => p.key).sort(), ["newer-here", "only-here"]);
  assert.equal(plan.discard.length, 0);
});

Deno.test("receive() with a wrong number of replies is a bug and throws", () => {
  const { a } = pair();
  const session = new SyncSession({
    store: a,
    limits: LIMITS,
    maxKeysPerSession: 10,
    tombstoneGraceMs: DAY_MS,
  });
  session.start();
  assert.throws(() => session.receive([]), AssertionError);
  assert.throws(() => session.receive([]), /one reply per request, not 0 for 1/);
});

Deno.test("pulled entries are merged by LWW: a pulled loser changes nothing", () => {
  const { clock, a, b } = pair();
  b.write("k", "peer", 0);
  clock.ms += 10;
  const newer = a.write("k", "ours, newer", 0);
  // The peer lies in its digests (claims a newer version) but sends its real, older entry.
  const result = syncByHand(a, b, {
    tamper: (line, reply) => {
      if (line.startsWith("SYNC DIGESTS")) {
        return reply.replace(/\d+ node-b/, `${newer.hlc + 9} node-b`);
      }
      if (line.startsWith("SYNC GET")) {
        return formatEntriesReply([formatEntry(b.entry("k")!)]);
      }
      return reply;
    },
  });
  assert.equal(result.error, null);
  assert.equal(result.summary.pulled, 0);
  assert.equal(a.read("k")?.value, "ours, newer");
});
