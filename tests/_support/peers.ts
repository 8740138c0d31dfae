/**
 * Nodes that list each other as anti-entropy peers, for tests that start node processes without
 * a shared cluster helper's broker (see replication_cluster.ts for nodes on one broker).
 */

import type { MerkleKVClient } from "../../src/client/mod.ts";
import { type NodeOptions, NodeProcess } from "./node_process.ts";
import { freePort } from "./ports.ts";

function antiEntropyToml(ports: readonly number[], intervalMs: number): string {
  return [
    "[anti_entropy]",
    `interval_ms = ${intervalMs}`,
    "jitter_ms = 50",
    `peers = [${ports.map((port) => `"127.0.0.1:${port}"`).join(", ")}]`,
  ].join("\n");
}

/**
 * `count` nodes that list each other as anti-entropy peers (`options` adds to each), a client on
 * each; their logs are printed when `body` fails, and everything is closed after it.
 */
export async function withPeers(
  count: number,
  intervalMs: number,
  options: (index: number) => NodeOptions,
  body: (nodes: NodeProcess[], clients: MerkleKVClient[], ports: number[]) => Promise<void>,
): Promise<void> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const nodes: NodeProcess[] = [];
  const clients: MerkleKVClient[] = [];
  try {
    nodes.push(
      ...await Promise.all(ports.map((port, i) =>
        NodeProcess.start({
          nodeId: `node-${i}`,
          port,
          toml: antiEntropyToml(ports, intervalMs),
          ...options(i),
        })
      )),
    );
    for (const node of nodes) clients.push(await node.connect());
    await body(nodes, clients, ports);
  } catch (error) {
    for (const node of nodes) console.error(`--- ${node.nodeId}:\n${node.stderr()}`);
    throw error;
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    for (const node of nodes) await node.cleanup();
  }
}
