/**
 * A replicated cluster for tests and benchmarks: a real Mosquitto broker (or several) and
 * MerkleKV node processes attached to it, with a connected client per node.
 */

import type { MerkleKVClient } from "../../src/client/mod.ts";
import { Mosquitto } from "./mosquitto.ts";
import { NodeProcess } from "./node_process.ts";
import { freePort, waitUntil } from "./ports.ts";

export interface ClusterOptions {
  /** Nodes to start; node i attaches to brokers[i % brokers.length]. */
  size: number;
  /** Brokers to use (started by the caller); default one new broker owned by the cluster. */
  brokers?: Mosquitto[];
  /** Broker addresses for the nodes, instead of each broker's plain url (e.g. mqtts://). */
  brokerUrls?: string[];
  /** anti_entropy.interval_ms; 0 (default) leaves convergence to replication alone. */
  antiEntropyIntervalMs?: number;
  /** List every other node in anti_entropy.peers (default true when anti-entropy runs). */
  configurePeers?: boolean;
  /** Extra TOML for every node (after the generated sections). */
  toml?: string;
  /** Node ids; default "node-a", "node-b", ... */
  nodeIds?: string[];
  /** How long to wait for every node to report a connected broker. */
  connectTimeoutMs?: number;
  /** Environment of each node's process (e.g. its own broker user), by node id. */
  nodeEnv?: (nodeId: string) => Record<string, string>;
  /** Data directories by node index (undefined: memory only, the default). */
  dataDirs?: (string | undefined)[];
}

export class Cluster {
  readonly brokers: Mosquitto[];
  readonly nodes: NodeProcess[];
  readonly clients: MerkleKVClient[];
  readonly #ownsBrokers: boolean;

  private constructor(
    brokers: Mosquitto[],
    ownsBrokers: boolean,
    nodes: NodeProcess[],
    clients: MerkleKVClient[],
  ) {
    this.brokers = brokers;
    this.#ownsBrokers = ownsBrokers;
    this.nodes = nodes;
    this.clients = clients;
  }

  get broker(): Mosquitto {
    const broker = this.brokers[0];
    if (broker === undefined) throw new RangeError("the cluster has no broker");
    return broker;
  }

  /** The node at `index`; throws when the cluster has no such node. */
  node(index: number): NodeProcess {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`no node ${index} among ${this.nodes.length}`);
    return node;
  }

  /** The client connected to node `index`; throws when the cluster has no such client. */
  client(index: number): MerkleKVClient {
    const client = this.clients[index];
    if (client === undefined) {
      throw new RangeError(`no client ${index} among ${this.clients.length}`);
    }
    return client;
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const ownsBrokers = options.brokers === undefined;
    const brokers = options.brokers ?? [await Mosquitto.start()];
    const nodes: NodeProcess[] = [];
    const clients: MerkleKVClient[] = [];
    const cluster = new Cluster(brokers, ownsBrokers, nodes, clients);
    try {
      const ports: number[] = [];
      for (let index = 0; index < options.size; index++) ports.push(await freePort());
      const started = ports.map((port, index) => {
        const nodeId = options.nodeIds?.[index] ?? `node-${String.fromCharCode(97 + index)}`;
        return NodeProcess.start({
          port,
          nodeId,
          topLevel: `mqtt_broker_address = "${brokerUrl(options, brokers, index)}"`,
          toml: nodeToml(options, ports, port),
          env: options.nodeEnv?.(nodeId) ?? {},
          dataDir: options.dataDirs?.[index],
        });
      });
      const settled = await Promise.allSettled(started);
      for (const result of settled) if (result.status === "fulfilled") nodes.push(result.value);
      const failed = settled.find((result) => result.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      for (const node of nodes) clients.push(await node.connect());
      await cluster.waitConnected(options.connectTimeoutMs ?? 15_000);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** Waits until every node reports replication_broker:connected. */
  async waitConnected(timeoutMs = 15_000): Promise<void> {
    for (const [index, client] of this.clients.entries()) {
      await waitUntil(
        `${this.node(index).nodeId} connected to the broker`,
        async () => (await client.info()).get("replication_broker") === "connected",
        timeoutMs,
      );
    }
  }

  /**
   * Stops the broker and waits until every node has seen it go: a write made before that may be
   * published into the dying connection and lost rather than queued.
   */
  async partition(): Promise<void> {
    await this.broker.stop();
    await waitUntil("the broker gone for every node", async () => {
      const infos = await Promise.all(this.clients.map((client) => client.info()));
      return infos.every((info) => info.get("replication_broker") !== "connected");
    }, 10_000);
  }

  /**
   * Restarts the broker, waits for every node, then runs one SYNC between every pair of nodes:
   * a batch published before a peer subscribed again is missed by it (clean sessions), and
   * anti-entropy is what repairs that.
   */
  async heal(): Promise<void> {
    await this.broker.restart();
    await this.waitConnected();
    for (let from = 0; from < this.nodes.length; from++) {
      for (let to = from + 1; to < this.nodes.length; to++) {
        const [reply] = await this.client(from).request(`SYNC 127.0.0.1 ${this.node(to).port}`);
        if (!reply?.startsWith("OK")) {
          throw new Error(
            `SYNC from ${this.node(from).nodeId} to ${this.node(to).nodeId}: ${reply}`,
          );
        }
      }
    }
  }

  /**
   * Stops node `index` (`"kill"`: kill -9; a signal: a clean stop), starts it again from its data
   * directory, and connects a new client in place of its old one; returns the new client.
   */
  async restart(index: number, how: "kill" | Deno.Signal): Promise<MerkleKVClient> {
    const node = this.node(index);
    await this.client(index).close();
    if (how === "kill") await node.kill();
    else await node.stop(how);
    await node.restart();
    const client = await node.connect();
    this.clients[index] = client;
    return client;
  }

  /** The HASH of every node. */
  hashes(): Promise<string[]> {
    return Promise.all(this.clients.map((client) => client.hash()));
  }

  /** Waits until every node has the same HASH; returns it. */
  async waitConverged(timeoutMs: number): Promise<string> {
    let last: string[] = [];
    try {
      await waitUntil("equal HASH on every node", async () => {
        last = await this.hashes();
        return last.every((hash) => hash === last[0]);
      }, timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}; hashes: ${last.join(" ")}`);
    }
    const converged = last[0];
    if (converged === undefined) throw new Error("no node to converge");
    return converged;
  }

  /** The last log lines of every node, for failure messages. */
  recentLogs(linesPerNode: number): string {
    return this.nodes.map((node) => {
      const lines = node.stderr().trimEnd().split("\n").slice(-linesPerNode);
      return `--- ${node.nodeId}\n${lines.join("\n")}`;
    }).join("\n");
  }

  async info(index: number): Promise<Map<string, string>> {
    return await this.client(index).info();
  }

  async close(): Promise<void> {
    // Nodes first: a client whose socket the node closed has nothing left to time out
    // (client.close() on a live socket leaves a 1 s fallback timer running).
    await Promise.all(this.nodes.map((node) => node.cleanup()));
    await closeClients(this.clients);
    if (this.#ownsBrokers) await Promise.all(this.brokers.map((broker) => broker.cleanup()));
  }
}

/**
 * Starts a cluster, runs `body`, and closes the cluster whatever happens. A failure carries
 * the last log lines of every node, so that a failed run explains itself.
 */
export async function withCluster(
  options: ClusterOptions,
  body: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const cluster = await Cluster.start(options);
  try {
    await body(cluster);
  } catch (error) {
    const logs = cluster.recentLogs(30);
    if (error instanceof Error) error.message += `\n${logs}`;
    throw error;
  } finally {
    await cluster.close();
  }
}

/** Closes clients whose node has stopped, waiting briefly for their sockets to see it. */
export async function closeClients(clients: MerkleKVClient[]): Promise<void> {
  for (const client of clients) {
    await waitUntil(
      "the client socket to close",
      async () => {
        try {
          await client.request("PING");
          return false;
        } catch {
          return true;
        }
      },
      5_000,
      10,
    );
    await client.close();
  }
}

function brokerUrl(options: ClusterOptions, brokers: Mosquitto[], node: number): string {
  const urls = options.brokerUrls ?? brokers.map((broker) => broker.url);
  const url = urls[node % urls.length];
  if (url === undefined) throw new RangeError("no broker url for the nodes");
  return url;
}

function nodeToml(options: ClusterOptions, ports: number[], own: number): string {
  const intervalMs = options.antiEntropyIntervalMs ?? 0;
  const configurePeers = options.configurePeers ?? intervalMs > 0;
  const peers = configurePeers
    ? ports.filter((port) => port !== own).map((port) => `"127.0.0.1:${port}"`)
    : [];
  return [
    "[anti_entropy]",
    `interval_ms = ${intervalMs}`,
    `jitter_ms = ${intervalMs > 0 ? Math.max(1, Math.floor(intervalMs / 10)) : 0}`,
    `peers = [${peers.join(", ")}]`,
    options.toml ?? "",
  ].join("\n");
}
