import assert from "node:assert/strict";
import { MAX_TRACKED_PEERS } from "../../src/anti_entropy/limits.ts";
import {
  describeOutcome,
  peerFieldName,
  type SessionReport,
  SyncStatus,
} from "../../src/anti_entropy/status.ts";

function report(address: string, error: string | null = null): SessionReport {
  return {
    address,
    startedAtMs: Date.UTC(2026, 0, 2, 3, 4, 5),
    durationMs: 12.4,
    error,
    summary: {
      peerNodeId: "node-b",
      peerRootHex: "00000000000000000000000000000abc",
      pulled: 3,
      pushed: 2,
      refused: 0,
      discarded: 0,
      rounds: 4,
      treeBytes: 3000,
      entryBytes: 400,
      valueBytes: 50,
      complete: true,
    },
  };
}

const STATE = { loopOn: true, intervalMs: 5000, runningWith: null, knownPeers: 2, syncsWaiting: 1 };

Deno.test("INFO shows the loop, totals and the last session per peer", () => {
  const status = new SyncStatus();
  status.record(report("127.0.0.1:7001"));
  status.record(report("127.0.0.1:7002", "no reply within 3000 ms"));
  const fields = new Map(status.infoFields(STATE));
  assert.equal(fields.get("anti_entropy"), "on");
  assert.equal(fields.get("anti_entropy_session"), "idle");
  assert.equal(fields.get("anti_entropy_syncs_waiting"), 1);
  assert.equal(fields.get("anti_entropy_sessions_ok"), 1);
  assert.equal(fields.get("anti_entropy_sessions_failed"), 1);
  assert.equal(fields.get("anti_entropy_keys_pulled"), 6);
  assert.equal(
    fields.get("sync_peer_127.0.0.1_7001"),
    "at=2026-01-02T03:04:05.000Z outcome=ok pulled=3 pushed=2 repaired=5 ms=12 peer=node-b",
  );
  assert.match(
    String(fields.get("sync_peer_127.0.0.1_7002")),
    /outcome=error .* error=no reply within 3000 ms$/,
  );
});

Deno.test("INFO remembers at most MAX_TRACKED_PEERS peers, forgetting the oldest", () => {
  const status = new SyncStatus();
  for (let i = 0; i < MAX_TRACKED_PEERS + 10; i++) status.record(report(`h:${1000 + i}`));
  const names = status.infoFields(STATE).map(([name]) => name).filter((name) =>
    name.startsWith("sync_peer_")
  );
  assert.equal(names.length, MAX_TRACKED_PEERS);
  assert.ok(!names.includes(peerFieldName("h:1000")));
  assert.ok(names.includes(peerFieldName(`h:${1009 + MAX_TRACKED_PEERS}`)));
});

Deno.test("peer field names hold no colon, so INFO lines split at the first one", () => {
  assert.equal(peerFieldName("[::1]:7878"), "sync_peer____1__7878");
  assert.equal(peerFieldName("node-b.local:80"), "sync_peer_node-b.local_80");
});

Deno.test("the OK line of SYNC <host> <port> lists what the session did", () => {
  assert.equal(
    describeOutcome(report("h:1")),
    "OK pulled=3 pushed=2 rounds=4 tree_bytes=3000 entry_bytes=400 value_bytes=50 ms=12" +
      " complete=1 refused=0 discarded=0 peer=node-b",
  );
});

Deno.test("the status page's peers keep the root last seen, even past a session that failed before HELLO", () => {
  const status = new SyncStatus();
  status.record(report("h:1"));
  const failed = report("h:1", "connection refused");
  failed.startedAtMs += 5000;
  failed.summary = { ...failed.summary, peerNodeId: null, peerRootHex: null };
  status.record(failed);
  const [peer] = status.peers();
  assert.ok(peer !== undefined);
  assert.equal(peer.rootHex, "00000000000000000000000000000abc");
  assert.equal(peer.nodeId, "node-b");
  assert.equal(peer.rootSeenAtMs, Date.parse("2026-01-02T03:04:05.000Z"));
  assert.equal(peer.lastOkAtMs, Date.parse("2026-01-02T03:04:05.000Z"));
  assert.equal(peer.lastSessionAtMs, peer.rootSeenAtMs + 5000);
  assert.equal(peer.lastOutcome, "error");
  assert.equal(peer.lastError, "connection refused");
});

Deno.test("a peer is diverged from its first repairing session until one finds nothing to repair", () => {
  const status = new SyncStatus();
  const at = (minute: number, base: SessionReport, changes: Partial<SessionReport["summary"]>) => ({
    ...base,
    startedAtMs: Date.UTC(2026, 0, 2, 3, minute),
    summary: { ...base.summary, ...changes },
  });
  const address = "127.0.0.1:7001";
  const inStep = { pulled: 0, pushed: 0 };
  const divergedSince = () => status.peers()[0]?.divergedSinceMs;
  status.record(at(0, report(address), inStep));
  assert.equal(divergedSince(), null);
  status.record(at(1, report(address), {}));
  status.record(at(2, report(address), { ...inStep, refused: 1 }));
  status.record(at(3, report(address, "no reply within 3000 ms"), inStep));
  status.record(at(4, report(address), { ...inStep, complete: false }));
  assert.equal(divergedSince(), Date.UTC(2026, 0, 2, 3, 1), "failed and partial sessions keep it");
  status.record(at(5, report(address), inStep));
  assert.equal(divergedSince(), null);
});
