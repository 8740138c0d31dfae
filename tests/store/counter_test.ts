/**
 * Counters (PN-counters per key): the merge against a model (commutative, associative,
 * idempotent, and the exact sum once every state is merged), and the binary form both ways,
 * with bytes written before counters existed.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type Contribution,
  type CounterState,
  counterValue,
  decodeCounter,
  encodeCounter,
  encodedCounterLength,
  incremented,
  MAX_COUNTER_NODES,
  startedCounter,
} from "../../src/store/counter.ts";
import { counterEntry, joinEntries } from "../../src/store/counter_entry.ts";
import { decodeEntry, entryToBytes } from "../../src/store/entry_codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const T = hlcFromMs(1_700_000_000_000);
const NODES = ["node-a", "node-b", "node-c"];
/** Epochs a generated state may start from, with the base each one's plain value gives. */
const EPOCHS = [
  { hlc: 0, node: "", base: 0n },
  { hlc: T + 100, node: "node-b", base: 40n },
  { hlc: T + 100, node: "node-c", base: -7n },
  { hlc: T + 5000, node: "node-a", base: 1000n },
];

/** join as the store applies it: the merged entry, or the current one when it stays. */
function join(current: Entry, remote: Entry): Entry {
  return joinEntries(current, remote) ?? current;
}

/** Entries in a form deepEqual compares by content (a counter's value follows its state). */
function canonical(entry: Entry): unknown {
  return entry.counter === undefined ? { ...entry } : {
    ...entry,
    counter: { ...entry.counter, contributions: [...entry.counter.contributions] },
  };
}

/**
 * A random state a node could hold: a plain value or tombstone of one of the epochs' versions,
 * or a counter of one epoch whose contributions are points on each node's own history (totals
 * and HLC that only grow).
 */
function randomEntry(random: SeededRandom): Entry {
  const epoch = random.pick(EPOCHS);
  if (epoch.hlc !== 0 && random.below(4) === 0) {
    const tombstone = random.below(2) === 0;
    const value = tombstone ? null : String(epoch.base);
    return { key: "k", value, hlc: epoch.hlc, node: epoch.node, expiresAtMs: 0 };
  }
  let state: CounterState = startedCounter(epoch.hlc, epoch.node, epoch.base);
  for (const node of NODES) {
    if (random.below(3) === 0) continue;
    // A node's step s: increments 3s, decrements s, at hlc epoch + 10 s + node index.
    const step = 1 + random.below(5);
    const contribution: Contribution = {
      node,
      increments: BigInt(3 * step),
      decrements: BigInt(step),
      hlc: Math.max(epoch.hlc, T + 1000) + 10 * step + NODES.indexOf(node),
    };
    state = { ...state, contributions: [...state.contributions, contribution] };
  }
  if (state.contributions.length === 0) {
    state = incremented(state, "node-a", 1n, Math.max(epoch.hlc, T + 1000) + 1) as CounterState;
  }
  const expiresAtMs = random.below(3) === 0 ? 1_800_000_000_000 + random.below(3) : 0;
  return counterEntry("k", state, expiresAtMs);
}

Deno.test("the merge of counter and plain entries is commutative, associative and idempotent (seeded)", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const random = new SeededRandom(seed);
    for (let round = 0; round < 400; round++) {
      const a = randomEntry(random);
      const b = randomEntry(random);
      const c = randomEntry(random);
      const context = `seed ${seed} round ${round}`;
      assert.deepEqual(canonical(join(a, a)), canonical(a), `idempotent, ${context}`);
      assert.deepEqual(canonical(join(a, b)), canonical(join(b, a)), `commutative, ${context}`);
      assert.deepEqual(
        canonical(join(join(a, b), c)),
        canonical(join(a, join(b, c))),
        `associative, ${context}`,
      );
    }
  }
});

Deno.test("replicas that exchange counter states in any order, with losses and duplicates, end at the model's exact sum", () => {
  for (const seed of [11, 12, 13]) {
    const random = new SeededRandom(seed);
    const replicas = NODES.map((node) => ({ node, entry: undefined as Entry | undefined }));
    const sent: Entry[] = [];
    let model = 0n;
    let hlc = T;
    for (let step = 0; step < 300; step++) {
      const replica = random.pick(replicas);
      if (random.below(3) === 0 && sent.length > 0) {
        // Delivery of any earlier state (reordered, duplicated; the rest may never arrive).
        const message = random.pick(sent);
        replica.entry = replica.entry === undefined ? message : join(replica.entry, message);
        continue;
      }
      const amount = BigInt(random.below(11) - 5);
      const state = replica.entry?.counter ?? startedCounter(0, "", 0n);
      const next = incremented(state, replica.node, amount, ++hlc) as CounterState;
      model += amount;
      const change = counterEntry("k", next, 0);
      replica.entry = replica.entry === undefined ? change : join(replica.entry, change);
      sent.push(change);
    }
    // Anti-entropy at the end: every replica merges every other's state.
    const final = replicas.map((replica) => replica.entry as Entry).reduce(join);
    for (const replica of replicas) {
      const healed = join(replica.entry as Entry, final);
      assert.equal(healed.value, String(model), `seed ${seed}: ${replica.node}`);
      assert.deepEqual(canonical(healed), canonical(final));
    }
  }
});

Deno.test("a later SET or DEL replaces a counter whole, and increments on its older epoch lose to it", () => {
  const counter = counterEntry(
    "k",
    incremented(startedCounter(0, "", 0n), "node-a", 5n, T + 50) as CounterState,
    0,
  );
  const set: Entry = { key: "k", value: "100", hlc: T + 10, node: "node-b", expiresAtMs: 0 };
  // The SET's version is older than the increment's, but it started a later epoch (the counter
  // never saw it): the SET wins whichever arrives first.
  assert.deepEqual(join(counter, set), set);
  assert.deepEqual(join(set, counter), set);
  // An increment that saw the SET starts from it: epoch = the SET's version, base 100.
  const after = counterEntry(
    "k",
    incremented(startedCounter(set.hlc, set.node, 100n), "node-a", 1n, T + 60) as CounterState,
    0,
  );
  assert.equal(join(set, after).value, "101");
  assert.equal(join(after, set).value, "101");
  const del: Entry = { key: "k", value: null, hlc: T + 70, node: "node-c", expiresAtMs: 0 };
  assert.deepEqual(join(after, del), del);
});

Deno.test("incremented() refuses a sum outside 64 bits and a node past MAX_COUNTER_NODES", () => {
  const max = startedCounter(0, "", 2n ** 63n - 1n);
  assert.match(incremented(max, "a", 1n, T) as string, /overflow a 64-bit integer/);
  let state = startedCounter(0, "", 0n);
  for (let i = 0; i < MAX_COUNTER_NODES; i++) {
    state = incremented(state, `n${String(i).padStart(4, "0")}`, 1n, T + i) as CounterState;
  }
  assert.equal(counterValue(state), BigInt(MAX_COUNTER_NODES));
  assert.match(incremented(state, "zz", 1n, T) as string, /1024 nodes/);
  assert.equal(typeof incremented(state, "n0001", 1n, T + 2000), "object");
});

const STATE: CounterState = {
  epochHlc: T + 1,
  epochNode: "node-b",
  base: -5n,
  contributions: [
    { node: "node-a", increments: 7n, decrements: 2n, hlc: T + 9 },
    { node: "node-c", increments: 2n ** 64n - 1n, decrements: 2n ** 64n - 3n, hlc: T + 8 },
  ],
};

Deno.test("a counter entry encodes and decodes back to the same entry, state and all", () => {
  const entry = counterEntry("hits", STATE, 1_800_000_000_000);
  assert.equal(entry.value, String(-5n + 5n + 2n));
  assert.equal(entry.hlc, T + 9);
  assert.equal(entry.node, "node-a");
  const bytes = entryToBytes(entry);
  const decoded = decodeEntry(bytes, 0, bytes.length);
  assert.ok(decoded.ok);
  assert.deepEqual(canonical(decoded.entry), canonical(entry));
  assert.equal(decoded.end, bytes.length);
  const fresh = counterEntry(
    "n",
    incremented(startedCounter(0, "", 0n), "x", 3n, T) as CounterState,
    0,
  );
  const freshBytes = entryToBytes(fresh);
  const freshDecoded = decodeEntry(freshBytes, 0, freshBytes.length);
  assert.ok(freshDecoded.ok);
  assert.deepEqual(canonical(freshDecoded.entry), canonical(fresh));
});

Deno.test("entry bytes written before counters existed decode as before (plain value, tombstone)", () => {
  // flags 2 (expiry), hlc 1024, node "a", key "k", expiry 5, value "v": the format of v1.
  const plain = Buffer.from(
    "02" + "0000000000009040" + "01" + "61" + "0100" + "6b" + "0000000000001440" + "01000000" +
      "76",
    "hex",
  );
  const decoded = decodeEntry(plain, 0, plain.length);
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.entry, { key: "k", value: "v", hlc: 1024, node: "a", expiresAtMs: 5 });
  const tombstone = Buffer.from("01" + "0000000000009040" + "01" + "61" + "0100" + "6b", "hex");
  const dead = decodeEntry(tombstone, 0, tombstone.length);
  assert.ok(dead.ok);
  assert.deepEqual(dead.entry, { key: "k", value: null, hlc: 1024, node: "a", expiresAtMs: 0 });
  // And a plain entry is still written as those bytes.
  assert.equal(entryToBytes(decoded.entry).toString("hex"), plain.toString("hex"));
});

Deno.test("decodeCounter() and decodeEntry() refuse malformed counter states", () => {
  const good = Buffer.alloc(encodedCounterLength(STATE));
  encodeCounter(STATE, good, 0);
  assert.ok(decodeCounter(good, 0, good.length).ok);
  for (let end = 0; end < good.length; end++) {
    assert.ok(!decodeCounter(good, 0, end).ok, `truncated at ${end}`);
  }
  const cases: [string, CounterState][] = [
    ["no contribution", { ...STATE, contributions: [] }],
    ["unsorted", { ...STATE, contributions: [...STATE.contributions].reverse() }],
    ["repeated node", {
      ...STATE,
      contributions: [STATE.contributions[0]!, STATE.contributions[0]!],
    }],
    ["bad node id", {
      ...STATE,
      contributions: [{ ...STATE.contributions[0]!, node: "a b" }],
    }],
    ["epoch 0 with a node", { ...STATE, epochHlc: 0 }],
  ];
  for (const [why, state] of cases) {
    const bytes = Buffer.alloc(encodedCounterLength(state));
    encodeCounter(state, bytes, 0);
    assert.ok(!decodeCounter(bytes, 0, bytes.length).ok, why);
  }
  // An entry whose value is not the state's sum, or whose version is not its newest
  // contribution, is refused, and still says where it ends.
  const entry = counterEntry("hits", STATE, 0);
  for (const wrong of [{ ...entry, value: "3" }, { ...entry, hlc: entry.hlc + 1 }]) {
    const bytes = entryToBytes(wrong);
    const decoded = decodeEntry(bytes, 0, bytes.length);
    assert.ok(!decoded.ok);
    assert.match(decoded.error, /counter/);
    assert.equal(decoded.end, bytes.length);
  }
});
