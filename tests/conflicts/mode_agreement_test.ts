import assert from "node:assert/strict";
import { MODE_MISMATCH_WARNING_INTERVAL_MS, ModeAgreement } from "../../src/conflicts/mod.ts";
import {
  decodeAnnouncement,
  decodeSignedAnnouncement,
  encodeAnnouncement,
  encodeSignedAnnouncement,
} from "../../src/replication/codec.ts";
import { PeerDirectory } from "../../src/replication/discovery.ts";
import {
  formatHelloReply,
  formatRequest,
  parseHelloReply,
  parseRequest,
} from "../../src/anti_entropy/codec.ts";
import { answerSyncRequest } from "../../src/anti_entropy/answer.ts";
import { SyncSession } from "../../src/anti_entropy/session.ts";
import { FakeClock, LIMITS, makeStore } from "../anti_entropy/harness.ts";
import { captureLog } from "../persistence/support.ts";

function agreement(mode: string, nowMs = { ms: 0 }) {
  const { log, events } = captureLog();
  return { agreement: new ModeAgreement(mode, log, () => nowMs.ms), events, nowMs };
}

Deno.test("siblings is a mode like the others: it agrees with siblings only", () => {
  const { agreement: siblings, events } = agreement("siblings");
  assert.equal(siblings.statedMode, "siblings");
  assert.equal(siblings.agrees("node-b", "siblings", "sync"), true);
  assert.equal(siblings.agrees("node-b", "record", "sync"), false);
  assert.equal(siblings.agrees("node-c", null, "replication"), false);
  assert.equal(siblings.mismatches, 2);
  assert.equal(agreement("record").agreement.agrees("node-b", "siblings", "sync"), false);
  assert.deepEqual(events.map((x) => [x.event, x.peer_mode, x.local_mode]), [
    ["conflicts_mode_mismatch", "record", "siblings"],
    ["conflicts_mode_mismatch", "lww", "siblings"],
  ]);
});

Deno.test("a peer in the same mode agrees; one that states none counts as lww", () => {
  const record = agreement("record").agreement;
  assert.equal(record.agrees("node-b", "record", "replication"), true);
  assert.equal(record.agrees("node-b", null, "replication"), false);
  const lww = agreement("lww").agreement;
  assert.equal(lww.agrees("node-b", null, "sync"), true);
  assert.equal(lww.agrees("node-b", undefined, "sync"), true);
  assert.equal(lww.mismatches, 0);
  assert.equal(record.mismatches, 1);
});

Deno.test("conflicts_mode_mismatch is a warning per peer at most every 10 s, and each is counted", () => {
  const { agreement: check, events, nowMs } = agreement("lww");
  for (let i = 0; i < 5; i++) check.agrees("node-b", "record", "replication");
  check.agrees("node-c", "record", "sync");
  nowMs.ms += MODE_MISMATCH_WARNING_INTERVAL_MS;
  check.agrees("node-b", "record", "replication");
  const warnings = events.filter((event) => event.level === "warn");
  assert.deepEqual(warnings.map((event) => [event.event, event.peer, event.via]), [
    ["conflicts_mode_mismatch", "node-b", "replication"],
    ["conflicts_mode_mismatch", "node-c", "sync"],
    ["conflicts_mode_mismatch", "node-b", "replication"],
  ]);
  assert.deepEqual([warnings[0]?.peer_mode, warnings[0]?.local_mode], ["record", "lww"]);
  assert.equal(check.mismatches, 7);
  assert.equal(events.filter((event) => event.level === "debug").length, 4);
});

Deno.test("announcements carry conflicts_mode; one without it (an older node) decodes without", () => {
  const announced = { nodeId: "n1", address: "h:1", conflictsMode: "record" };
  assert.deepEqual(decodeAnnouncement(encodeAnnouncement(announced)), {
    ok: true,
    announcement: announced,
  });
  const older = new TextEncoder().encode('{"format":1,"node_id":"n1","address":"h:1"}');
  assert.deepEqual(decodeAnnouncement(older), {
    ok: true,
    announcement: { nodeId: "n1", address: "h:1" },
  });
  for (const bad of ['"RECORD"', "1", '"a b"', '""']) {
    const text = `{"format":1,"node_id":"n1","address":"h:1","conflicts_mode":${bad}}`;
    const decoded = decodeAnnouncement(new TextEncoder().encode(text));
    assert.deepEqual(decoded, { ok: false, error: "invalid conflicts_mode" }, bad);
  }
  const signed = {
    nodeId: "n1",
    address: "h:1",
    order: { epochMs: 5, connection: 1 },
    conflictsMode: "lww",
  };
  const bytes = encodeSignedAnnouncement(signed, new Uint8Array(8));
  assert.deepEqual(decodeSignedAnnouncement(bytes), { ok: true, announcement: signed });
});

Deno.test("the peer directory keeps each peer's announced mode, also after it left", () => {
  const directory = new PeerDirectory();
  assert.equal(directory.conflictsModeOf("a"), undefined);
  directory.announce("a", "h:1", null, "record");
  assert.equal(directory.conflictsModeOf("a"), "record");
  // Restarted at the same address in another mode.
  directory.announce("a", "h:1", null, null);
  assert.equal(directory.conflictsModeOf("a"), null);
  directory.announce("a", "h:1", null, "record");
  directory.depart("a", null, 0);
  assert.equal(directory.conflictsModeOf("a"), "record");
});

Deno.test("HELLO states a mode other than lww as its last word, which parses back", () => {
  const hello = { verb: "HELLO", nodeId: "node-a", rootHex: "0123456789abcdef" } as const;
  assert.equal(formatRequest(hello), "SYNC HELLO 2 node-a 0123456789abcdef");
  const stated = formatRequest({ ...hello, conflictsMode: "record" });
  assert.equal(stated, "SYNC HELLO 2 node-a 0123456789abcdef conflicts=record");
  const args = stated.slice("SYNC HELLO ".length);
  assert.deepEqual(parseRequest("HELLO", args, LIMITS), {
    ok: true,
    value: { ...hello, conflictsMode: "record" },
  });
  assert.equal(parseRequest("HELLO", args + "x y", LIMITS).ok, false);
  assert.equal(parseRequest("HELLO", "2 node-a 0123456789abcdef mode=record", LIMITS).ok, false);
  const reply = { nodeId: "node-b", maxLineBytes: 4096, rootHex: "0123456789abcdef" };
  const line = formatHelloReply({ ...reply, branches: null, conflictsMode: "record" });
  assert.equal(line, "HELLO 2 node-b 4096 0123456789abcdef - conflicts=record\r\n");
  assert.deepEqual(parseHelloReply([line.trimEnd()]), {
    ok: true,
    value: { ...reply, branches: null, conflictsMode: "record" },
  });
});

Deno.test("a HELLO from a peer in another mode is answered with an ERROR naming both modes", () => {
  const store = makeStore("node-b", new FakeClock());
  const { agreement: check } = agreement("record");
  const context = { store, limits: LIMITS, maxLineBytes: 4096, merge: () => ({}) as never };
  const hello = formatRequest({ verb: "HELLO", nodeId: "node-a", rootHex: store.rootHex() });
  const args = hello.slice("SYNC HELLO ".length);
  const refused = answerSyncRequest("HELLO", args, { ...context, agreement: check });
  assert.equal(
    refused.reply,
    "ERROR conflicts mode mismatch: node-a runs lww, this node runs record\r\n",
  );
  assert.equal(check.mismatches, 1);
  const withoutCheck = answerSyncRequest("HELLO", args, context);
  assert.match(withoutCheck.reply, /^HELLO 2 node-b /);
});

Deno.test("a session ends at a HELLO reply that states another mode, with the reason", () => {
  const clock = new FakeClock();
  const store = makeStore("node-a", clock);
  const { agreement: check } = agreement("lww");
  const session = new SyncSession({
    store,
    limits: LIMITS,
    maxKeysPerSession: 100,
    tombstoneGraceMs: 1000,
    agreement: check,
  });
  const first = session.start();
  assert.deepEqual(first.requests, [`SYNC HELLO 2 node-a ${store.rootHex()}`]);
  const reply = formatHelloReply({
    nodeId: "node-b",
    maxLineBytes: 4096,
    rootHex: store.rootHex(),
    branches: null,
    conflictsMode: "record",
  });
  const step = session.receive([[reply.trimEnd()]]);
  assert.equal(step.error, "conflicts mode mismatch: node-b runs record, this node runs lww");
  assert.equal(check.mismatches, 1);
});
