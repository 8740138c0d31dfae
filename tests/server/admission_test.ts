import assert from "node:assert/strict";
import {
  Admissions,
  isPeerGreeting,
  MAX_CONNECTIONS,
  MAX_CONNECTIONS_PER_ADDRESS,
} from "../../src/server/admission.ts";

const LIMITS = { maxConnections: 2, reservedPeerConnections: 1, maxConnectionsPerAddress: 2 };

Deno.test("Admissions gives client slots first, then the peer reserve, then refuses", () => {
  const admissions = new Admissions(LIMITS);
  assert.deepEqual(admissions.admit("127.0.0.1", true), { slot: "client" });
  assert.deepEqual(admissions.admit("127.0.0.1", true), { slot: "client" });
  assert.deepEqual(admissions.admit("127.0.0.1", true), { slot: "peer" });
  assert.deepEqual(admissions.admit("127.0.0.1", true), { refusal: MAX_CONNECTIONS });
  assert.equal(admissions.count, 3);
  // A freed client slot is a client slot again; the reserve stays taken until its peer leaves.
  admissions.release("client", "127.0.0.1", true);
  assert.deepEqual(admissions.admit("127.0.0.1", true), { slot: "client" });
  admissions.release("peer", "127.0.0.1", true);
  assert.deepEqual(admissions.admit("127.0.0.1", true), { slot: "peer" });
});

Deno.test("Admissions bounds each non-loopback address and exempts loopback", () => {
  const admissions = new Admissions({ ...LIMITS, maxConnections: 100 });
  assert.deepEqual(admissions.admit("10.0.0.2", false), { slot: "client" });
  assert.deepEqual(admissions.admit("10.0.0.2", false), { slot: "client" });
  assert.deepEqual(admissions.admit("10.0.0.2", false), { refusal: MAX_CONNECTIONS_PER_ADDRESS });
  assert.deepEqual(admissions.admit("10.0.0.3", false), { slot: "client" });
  for (let i = 0; i < 10; i++) assert.deepEqual(admissions.admit("::1", true), { slot: "client" });
  admissions.release("client", "10.0.0.2", false);
  assert.deepEqual(admissions.admit("10.0.0.2", false), { slot: "client" });
});

Deno.test("Admissions counts a peer slot against its address too", () => {
  const admissions = new Admissions({ ...LIMITS, maxConnections: 1 });
  assert.deepEqual(admissions.admit("10.0.0.2", false), { slot: "client" });
  assert.deepEqual(admissions.admit("10.0.0.2", false), { slot: "peer" });
  assert.deepEqual(admissions.admit("10.0.0.2", false), { refusal: MAX_CONNECTIONS_PER_ADDRESS });
});

Deno.test("Admissions.release() of a slot never taken is a bug and throws", () => {
  const admissions = new Admissions(LIMITS);
  assert.throws(() => admissions.release("peer", "127.0.0.1", true), /bug/);
  const other = new Admissions(LIMITS);
  other.admit("127.0.0.1", true);
  assert.throws(() => other.release("client", "10.0.0.9", false), /bug/);
});

Deno.test("isPeerGreeting() accepts SYNC HELLO in any case and nothing else", () => {
  assert.equal(isPeerGreeting("SYNC HELLO "), true);
  assert.equal(isPeerGreeting("sync hello "), true);
  assert.equal(isPeerGreeting("SYNC HELLO"), false);
  assert.equal(isPeerGreeting("SYNC 127.0"), false);
  assert.equal(isPeerGreeting("PING"), false);
  assert.equal(isPeerGreeting(""), false);
});
