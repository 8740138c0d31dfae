/**
 * A session's PUSH waits until this node's log holds every change made so far, so that no peer
 * learns a total of this node's that a kill -9 could take from its log (see
 * docs/consistency.md, Crashes). Over real TCP, against a node started with startNode.
 */

import assert from "node:assert/strict";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/types.ts";
import { type AntiEntropyContext, startAntiEntropy } from "../../src/anti_entropy/mod.ts";
import { silentLogger } from "../../src/log.ts";
import { startNode } from "../../src/node/start_node.ts";
import { systemClock } from "../../src/clock.ts";
import { Store } from "../../src/store/store.ts";
import { waitUntil } from "../_support/ports.ts";
import { mergeInto } from "./harness.ts";

function config(nodeId: string): Config {
  const base = structuredClone(DEFAULT_CONFIG) as Config;
  return {
    ...base,
    nodeId,
    bindPort: 0,
    antiEntropy: { ...base.antiEntropy, intervalMs: 0, allowAnySyncTarget: true },
  };
}

Deno.test("a session sends its PUSH only once this node's log holds its changes", async () => {
  const peer = await startNode(config("node-b"), silentLogger);
  const client = await MerkleKVClient.connect({ port: peer.port, timeoutMs: 10_000 });
  const nodeConfig = config("node-a");
  const store = new Store({
    nodeId: "node-a",
    clock: systemClock,
    tombstoneGraceMs: nodeConfig.antiEntropy.tombstoneGraceMs,
    maxClockSkewMs: nodeConfig.replication.maxClockSkewMs,
  });
  let asked = 0;
  let release = () => {};
  const context: AntiEntropyContext = {
    config: nodeConfig,
    store,
    remote: { applyRemote: (entries) => mergeInto(store, entries) },
    log: silentLogger,
    clientPort: 1,
    logged: () => {
      asked++;
      return new Promise((resolve) => release = resolve);
    },
  };
  const part = startAntiEntropy(context, { discoveredPeers: () => [] });
  try {
    store.write("mine", "1", 0);
    const session = part.runSession("127.0.0.1", peer.port);
    await waitUntil("the session waits for the log before its PUSH", () => asked === 1, 5_000);
    assert.deepEqual(await client.request("GET mine"), ["NOT_FOUND"], "nothing pushed yet");
    release();
    assert.match(await session, /^OK/);
    assert.deepEqual(await client.request("GET mine"), ["VALUE 1"]);
    assert.equal(asked, 1, "the steps without a PUSH do not wait");
  } finally {
    await part.close();
    await client.close();
    await peer.close();
  }
});
