/**
 * INC/DEC as counters through execute(), on several stores that exchange their changes by hand
 * (as replication would) or through anti-entropy sessions passed by hand: exact sums, SET and
 * DEL racing increments, EXPIRE and PERSIST on a counter, and the Merkle roots agreeing.
 */

import assert from "node:assert/strict";
import { execute, type ExecuteContext, type Services } from "../../src/node/execute.ts";
import { parseCommand } from "../../src/protocol/parse.ts";
import type { Entry } from "../../src/store/entry.ts";
import type { Store } from "../../src/store/store.ts";
import { decodeEntry, entryToBytes } from "../../src/store/entry_codec.ts";
import { FakeClock, LIMITS, makeStore, syncByHand } from "../anti_entropy/harness.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const UNUSED: Services = new Proxy({} as Services, {
  get: (_, name) => {
    if (name === "then") return undefined;
    throw new Error(`counter tests use no service, asked for ${String(name)}`);
  },
});

class Node {
  readonly store: Store;
  readonly context: ExecuteContext;
  /** Changes made here and not yet delivered to the other nodes. */
  outbox: Entry[] = [];

  constructor(readonly id: string, readonly clock: FakeClock) {
    this.store = makeStore(id, clock);
    this.context = {
      store: this.store,
      services: UNUSED,
      maxValueBytes: LIMITS.maxValueBytes,
      scanPageKeys: 100,
      maxReplyBytes: 1 << 20,
      changes: [],
      scanFilter: null,
    };
  }

  run(line: string): string {
    const command = parseCommand(line, LIMITS);
    if (command.kind === "invalid") throw new Error(`test line does not parse: ${line}`);
    this.context.changes = [];
    const reply = execute(command, this.context);
    assert.equal(typeof reply, "string");
    // Through the binary form, as the log and replication carry it.
    for (const change of this.context.changes) {
      const bytes = entryToBytes(change);
      const decoded = decodeEntry(bytes, 0, bytes.length);
      assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
      this.outbox.push(decoded.entry);
    }
    return reply as string;
  }

  /** Delivers this node's pending changes to `others`, in the order given. */
  deliver(others: readonly Node[]): void {
    for (const other of others) for (const change of this.outbox) other.store.applyRemote(change);
    this.outbox = [];
  }
}

function cluster(count: number): Node[] {
  const clock = new FakeClock();
  return Array.from({ length: count }, (_, i) => new Node(`node-${"abc"[i]}`, clock));
}

function deliverAll(nodes: readonly Node[]): void {
  for (const node of nodes) node.deliver(nodes.filter((other) => other !== node));
}

function value(node: Node, key: string): string {
  return node.run(`GET ${key}`);
}

Deno.test("concurrent INC on three nodes ends at the exact sum on every node once changes are exchanged", () => {
  const nodes = cluster(3);
  for (let i = 0; i < 100; i++) {
    for (const node of nodes) assert.match(node.run("INC hits"), /^VALUE \d+\r\n$/);
  }
  // Each node alone counts only its own increments: the old LWW increment lost the others'.
  for (const node of nodes) assert.equal(value(node, "hits"), "VALUE 100\r\n");
  deliverAll(nodes);
  for (const node of nodes) assert.equal(value(node, "hits"), "VALUE 300\r\n");
  const roots = nodes.map((node) => node.store.rootHex());
  assert.ok(roots.every((root) => root === roots[0]), roots.join(" "));
  assert.equal(nodes[0]!.store.counterKeys, 1);
});

Deno.test("changes delivered in random order, duplicated or late still give every node the exact sum (seeded)", () => {
  for (const seed of [1, 2, 3]) {
    const random = new SeededRandom(seed);
    const nodes = cluster(3);
    const sent: Entry[] = [];
    let model = 0n;
    for (let step = 0; step < 600; step++) {
      const node = random.pick(nodes);
      if (random.below(4) === 0 && sent.length > 0) {
        node.store.applyRemote(random.pick(sent));
        continue;
      }
      const amount = random.below(7) - 3;
      const reply = node.run(amount >= 0 ? `INC c ${amount}` : `DEC c ${-amount}`);
      assert.match(reply, /^VALUE -?\d+\r\n$/);
      model += BigInt(amount);
      sent.push(...node.outbox);
      node.outbox = [];
    }
    for (const node of nodes) {
      for (const change of random.shuffle(sent)) node.store.applyRemote(change);
    }
    for (const node of nodes) assert.equal(value(node, "c"), `VALUE ${model}\r\n`, `seed ${seed}`);
  }
});

Deno.test("anti-entropy sessions alone bring counters that differ below their newest contribution to the sum", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("INC k 5");
  b.run("INC k 7");
  a.deliver([b]);
  b.deliver([a]);
  assert.equal(value(a, "k"), "VALUE 12\r\n");
  // Now each takes more increments, and only b's newest one reaches a: both then hold b's
  // contribution as the newest version, but a's newer own increment is missing on b.
  a.run("INC k 100");
  b.run("INC k 1");
  b.deliver([a]);
  a.outbox = [];
  assert.equal(a.store.entry("k")?.hlc, b.store.entry("k")?.hlc);
  assert.notEqual(a.store.rootHex(), b.store.rootHex());
  const result = syncByHand(b.store, a.store);
  assert.equal(result.error, null);
  assert.equal(value(a, "k"), "VALUE 113\r\n");
  assert.equal(value(b, "k"), "VALUE 113\r\n");
  assert.equal(a.store.rootHex(), b.store.rootHex());
});

Deno.test("a SET that races INC on another node replaces the counter everywhere; increments on the old counter are dropped", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("INC k 10");
  deliverAll([a, b]);
  // b sets the key; a, not having seen the SET yet, increments later (a newer HLC).
  assert.equal(b.run("SET k 500"), "OK\r\n");
  a.clock.ms += 5;
  assert.equal(a.run("INC k 1"), "VALUE 11\r\n");
  deliverAll([a, b]);
  for (const node of [a, b]) assert.equal(value(node, "k"), "VALUE 500\r\n");
  assert.equal(a.store.rootHex(), b.store.rootHex());
  // An increment that saw the SET counts from it, on every node.
  a.run("INC k 2");
  b.run("INC k 3");
  deliverAll([a, b]);
  for (const node of [a, b]) assert.equal(value(node, "k"), "VALUE 505\r\n");
});

Deno.test("the race of SET and INC resolves the same way through anti-entropy as through replication", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("INC k 10");
  deliverAll([a, b]);
  b.run("SET k 500");
  a.clock.ms += 5;
  a.run("INC k 1");
  a.outbox = [];
  b.outbox = [];
  // The counter's version is the newer; the SET must still win, so both sides send theirs.
  assert.equal(syncByHand(a.store, b.store).error, null);
  for (const node of [a, b]) assert.equal(value(node, "k"), "VALUE 500\r\n");
  assert.equal(a.store.rootHex(), b.store.rootHex());
});

Deno.test("DEL of a counter then INC starts a new counter from 0 on every node", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("INC k 10");
  b.run("INC k 10");
  deliverAll([a, b]);
  assert.equal(b.run("DEL k"), "DELETED\r\n");
  deliverAll([a, b]);
  assert.equal(value(a, "k"), "NOT_FOUND\r\n");
  assert.equal(a.store.counterKeys, 0);
  assert.equal(a.run("INC k"), "VALUE 1\r\n");
  assert.equal(b.run("INC k"), "VALUE 1\r\n");
  deliverAll([a, b]);
  for (const node of [a, b]) assert.equal(value(node, "k"), "VALUE 2\r\n");
});

Deno.test("INC on a plain integer counts from it, and nodes that start from the same value merge", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("SET k 40");
  deliverAll([a, b]);
  assert.equal(a.run("INC k"), "VALUE 41\r\n");
  assert.equal(b.run("INC k 2"), "VALUE 42\r\n");
  deliverAll([a, b]);
  for (const node of [a, b]) assert.equal(value(node, "k"), "VALUE 43\r\n");
  assert.equal(a.run("SET s text"), "OK\r\n");
  assert.equal(a.run("INC s"), "ERROR value is not a 64-bit integer\r\n");
});

Deno.test("EXPIRE and PERSIST on a counter keep every node's increments", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("INC k 3");
  b.run("INC k 4");
  deliverAll([a, b]);
  assert.equal(a.run("EXPIRE k 100"), "OK\r\n");
  deliverAll([a, b]);
  for (const node of [a, b]) {
    assert.equal(value(node, "k"), "VALUE 7\r\n");
    assert.equal(node.run("TTL k"), "TTL 100\r\n");
  }
  // An increment keeps the expiry, and the counter goes on.
  assert.equal(b.run("INC k"), "VALUE 8\r\n");
  assert.equal(b.run("TTL k"), "TTL 100\r\n");
  deliverAll([a, b]);
  assert.equal(a.run("PERSIST k"), "OK\r\n");
  deliverAll([a, b]);
  for (const node of [a, b]) {
    assert.equal(value(node, "k"), "VALUE 8\r\n");
    assert.equal(node.run("TTL k"), "TTL -1\r\n");
  }
  assert.equal(a.store.entry("k")?.counter?.contributions.length, 2);
});

Deno.test("a counter that expires is gone, and INC after starts a new one", () => {
  const [a, b] = cluster(2) as [Node, Node];
  a.run("INC k 3");
  a.run("EXPIRE k 1");
  deliverAll([a, b]);
  a.clock.ms += 2000;
  for (const node of [a, b]) assert.equal(value(node, "k"), "NOT_FOUND\r\n");
  assert.equal(b.run("INC k"), "VALUE 1\r\n");
  deliverAll([a, b]);
  assert.equal(value(a, "k"), "VALUE 1\r\n");
  assert.equal(a.run("TTL k"), "TTL -1\r\n");
});
