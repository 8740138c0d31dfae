/**
 * PeerDirectory: announcements and "gone" messages, and the order of signed ones, so that a
 * replayed old message changes nothing (see docs/replication-security.md, Announcements).
 */

import assert from "node:assert/strict";
import { PEER_DEPARTED_GRACE_MS, PeerDirectory } from "../../src/replication/discovery.ts";

const order = (epochMs: number, connection: number) => ({ epochMs, connection });

function peers(directory: PeerDirectory, nowMs = 0): string[] {
  return [...directory.addresses(true, 0, nowMs)].sort();
}

Deno.test("an unsigned announcement and an unsigned gone work as before signing", () => {
  const directory = new PeerDirectory();
  assert.equal(directory.announce("a", "h:1", null), "announced");
  assert.equal(directory.announce("a", "h:1", null), "unchanged");
  assert.equal(directory.depart("a", null, 10), "gone");
  assert.deepEqual(peers(directory, 10 + PEER_DEPARTED_GRACE_MS - 1), ["h:1"]);
  assert.deepEqual(peers(directory, 10 + PEER_DEPARTED_GRACE_MS), []);
});

Deno.test("a signed gone erases the announcement of its connection or before, not a later one", () => {
  const directory = new PeerDirectory();
  directory.announce("a", "h:1", order(100, 2));
  assert.equal(directory.depart("a", order(100, 1), 0), "stale", "an old will replayed");
  assert.deepEqual(peers(directory), ["h:1"]);
  assert.equal(directory.depart("a", order(100, 2), 0), "gone");
  assert.equal(directory.announce("a", "h:1", order(100, 3)), "announced", "it reconnects");
});

Deno.test("a signed announcement older than what was seen of the node is stale", () => {
  const directory = new PeerDirectory();
  directory.announce("a", "new:1", order(200, 1));
  assert.equal(directory.announce("a", "old:1", order(100, 7)), "stale", "an earlier run");
  assert.equal(directory.announce("a", "other:1", order(200, 1)), "stale", "same order, moved");
  assert.equal(directory.depart("a", order(200, 1), 0), "gone");
  assert.equal(directory.announce("a", "new:1", order(200, 1)), "stale", "replayed after gone");
  assert.deepEqual(peers(directory, PEER_DEPARTED_GRACE_MS * 10), []);
  assert.equal(directory.announce("a", "new:2", order(300, 1)), "announced", "a restart");
  assert.deepEqual(peers(directory), ["new:2"]);
});
