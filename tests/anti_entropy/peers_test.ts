import assert from "node:assert/strict";
import {
  formatPeerAddress,
  isKnownPeer,
  nextDelayMs,
  parsePeerAddress,
  peerCandidates,
  shuffled,
} from "../../src/anti_entropy/peers.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

Deno.test("peer addresses parse as host and port, IPv6 in brackets, and format back", () => {
  assert.deepEqual(parsePeerAddress("127.0.0.1:7001"), { host: "127.0.0.1", port: 7001 });
  assert.deepEqual(parsePeerAddress("node-b.local:80"), { host: "node-b.local", port: 80 });
  assert.deepEqual(parsePeerAddress("[::1]:7878"), { host: "::1", port: 7878 });
  assert.equal(formatPeerAddress({ host: "::1", port: 7878 }), "[::1]:7878");
  assert.equal(formatPeerAddress({ host: "h", port: 1 }), "h:1");
  for (const bad of ["h", "h:0", "h:65536", ":80", "a b:80", "h:80x", "::1:80"]) {
    assert.equal(parsePeerAddress(bad), null, bad);
  }
});

Deno.test("peerCandidates() merges configured and discovered peers once each, minus excluded", () => {
  const candidates = peerCandidates(
    ["127.0.0.1:7001", "127.0.0.1:7002", "bad address"],
    ["127.0.0.1:7002", "127.0.0.1:7003", "127.0.0.1:7000"],
    new Set(["127.0.0.1:7000"]),
  );
  assert.deepEqual(candidates, ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"]);
});

Deno.test("the peer order is a permutation decided by the random source alone", () => {
  const peers = ["a:1", "b:1", "c:1", "d:1", "e:1"];
  const first = new SeededRandom(9);
  const second = new SeededRandom(9);
  const orders = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const order = shuffled(peers, () => first.next());
    assert.deepEqual(order, shuffled(peers, () => second.next()));
    assert.deepEqual([...order].sort(), peers);
    orders.add(order.join(","));
  }
  assert.ok(orders.size > 60, `only ${orders.size} distinct orders`);
});

Deno.test("the pause between rounds is the interval plus 0..jitter ms", () => {
  assert.equal(nextDelayMs(300, 50, () => 0), 300);
  assert.equal(nextDelayMs(300, 50, () => 0.999999), 350);
  assert.equal(nextDelayMs(300, 0, () => 0.7), 300);
  const random = new SeededRandom(1);
  for (let i = 0; i < 1000; i++) {
    const delay = nextDelayMs(1000, 100, () => random.next());
    assert.ok(delay >= 1000 && delay <= 1100 && Number.isInteger(delay));
  }
});

Deno.test("isKnownPeer() finds a SYNC target among configured or discovered peers", () => {
  const configured = ["10.0.0.2:7878", "Node-B.local:7879", "[::1]:7880"];
  const discovered = ["10.0.0.9:7000"];
  const known = (host: string, port: number) => isKnownPeer({ host, port }, configured, discovered);
  assert.equal(known("10.0.0.2", 7878), true);
  assert.equal(known("10.0.0.9", 7000), true, "discovered");
  assert.equal(known("node-b.LOCAL", 7879), true, "host names ignore letter case");
  assert.equal(known("::1", 7880), true);
  assert.equal(known("[::1]", 7880), true, "IPv6 with or without brackets");
  assert.equal(known("10.0.0.2", 7879), false, "another port");
  assert.equal(known("10.0.0.3", 7878), false, "another host");
  assert.equal(isKnownPeer({ host: "localhost", port: 1 }, ["127.0.0.1:1"], []), false);
  assert.equal(isKnownPeer({ host: "h", port: 1 }, ["bad address"], []), false);
});
