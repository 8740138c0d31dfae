import { type ClientOptions, MerkleKVClient } from "../../src/client/mod.ts";
import type { Config } from "../../src/config/mod.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import { silentLogger } from "../../src/log.ts";
import { type NodeHandle, startNode } from "../../src/node/start_node.ts";

/**
 * A node in this process on a free port and a client connected to it, for tests of the client
 * against the real server; both are closed after `test`, whatever it did.
 */
export async function withNode(
  test: (client: MerkleKVClient, node: NodeHandle) => Promise<void>,
  options: { limits?: Partial<Config["limits"]>; client?: Partial<ClientOptions> } = {},
): Promise<void> {
  const defaults = structuredClone(DEFAULT_CONFIG);
  const config = {
    ...defaults,
    nodeId: "client-test",
    bindPort: 0,
    limits: { ...defaults.limits, ...options.limits },
  };
  const node = await startNode(config, silentLogger);
  const client = await MerkleKVClient.connect({
    port: node.port,
    timeoutMs: 5_000,
    ...options.client,
  });
  try {
    await test(client, node);
  } finally {
    await client.close();
    await node.close();
  }
}
