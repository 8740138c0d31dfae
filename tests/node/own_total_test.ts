/**
 * A node's own counter total can come back to it from a peer (after a crash of the machine lost
 * the tail of its log): the merge takes it like any node's, and the next INC builds on it (see
 * docs/consistency.md, Crashes).
 */

import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/types.ts";
import { NodeCore } from "../../src/node/core.ts";
import { RemoteMerge } from "../../src/node/remote_merge.ts";
import { incremented, startedCounter } from "../../src/store/counter.ts";
import { counterEntry } from "../../src/store/counter_entry.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { Store } from "../../src/store/store.ts";

const NOW_MS = 1_700_000_000_000;
const LOOPBACK = { remoteAddress: "127.0.0.1", isLoopback: true };

Deno.test("a node that merges back from a peer a higher total of its own takes it, and its next INC builds on it", () => {
  const config: Config = { ...structuredClone(DEFAULT_CONFIG), nodeId: "node-a" };
  const store = new Store({
    nodeId: "node-a",
    clock: { nowMs: () => NOW_MS },
    tombstoneGraceMs: config.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: config.replication.maxClockSkewMs,
  });
  const core = new NodeCore(config, store, {
    changeLog: null,
    replicator: null,
    antiEntropy: null,
    connectionCount: () => 0,
    requestShutdown: () => {},
  });
  const remote = new RemoteMerge(store, null, config.limits);
  // What the node's log kept after the crash: 3 of its increments.
  assert.equal(core.handleLine("INC hits 3", LOOPBACK), "VALUE 3\r\n");
  // What a peer had seen before the crash: 10 of node-a's, 4 of node-b's.
  const fresh = startedCounter(0, "", 0n);
  const seenA = incremented(fresh, "node-a", 10n, hlcFromMs(NOW_MS - 2000));
  assert.ok(typeof seenA !== "string");
  const seen = incremented(seenA, "node-b", 4n, hlcFromMs(NOW_MS - 1000));
  assert.ok(typeof seen !== "string");
  assert.equal(remote.applyRemote([counterEntry("hits", seen, 0)]).applied, 1);
  assert.equal(core.handleLine("GET hits", LOOPBACK), "VALUE 14\r\n");
  assert.equal(core.handleLine("INC hits", LOOPBACK), "VALUE 15\r\n");
  const own = store.entry("hits")?.counter?.contributions.find((c) => c.node === "node-a");
  assert.equal(own?.increments, 11n, "node-a's total builds on the one the peer held");
});
