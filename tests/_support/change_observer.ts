/**
 * Listens to a broker like a node would (without being one) and keeps, for every key, the
 * entry that must win the merge among all changes published: the model replicas must match.
 * Also publishes raw bytes on any topic, for tests of foreign and malformed messages.
 */

import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import { compareEntries, type Entry } from "../../src/store/entry.ts";
import { decodeBatch } from "../../src/replication/codec.ts";
import type { MerkleKVClient } from "../../src/client/mod.ts";

export class ChangeObserver {
  readonly winners = new Map<string, Entry>();
  /** Changes received (all batches decoded). */
  changes = 0;
  /** Messages on the changes topics that did not decode. */
  undecodable = 0;
  readonly #client: mqtt.MqttClient;

  private constructor(client: mqtt.MqttClient) {
    this.#client = client;
    client.on("message", (_topic, payload) => this.#receive(payload));
  }

  static async start(url: string, topicPrefix = "merklekv"): Promise<ChangeObserver> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 0,
    });
    const observer = new ChangeObserver(client);
    await client.subscribeAsync(`${topicPrefix}/changes/+`, { qos: 1 });
    return observer;
  }

  #receive(payload: Buffer): void {
    const decoded = decodeBatch(payload);
    if (!decoded.ok) {
      this.undecodable++;
      return;
    }
    for (const entry of decoded.batch.entries) {
      this.changes++;
      const current = this.winners.get(entry.key);
      if (current === undefined || compareEntries(entry, current) > 0) {
        this.winners.set(entry.key, entry);
      }
    }
  }

  /** Publishes raw bytes (QoS 1), as any MQTT client could. */
  async publish(topic: string, payload: Uint8Array | string, retain = false): Promise<void> {
    const bytes = typeof payload === "string"
      ? Buffer.from(payload, "latin1")
      : Buffer.from(payload);
    await this.#client.publishAsync(topic, bytes, { qos: 1, retain });
  }

  /** Keys whose value on the node differs from the winner (value, or null for a tombstone). */
  async mismatches(client: MerkleKVClient): Promise<string[]> {
    const keys = [...this.winners.keys()];
    const replies = await client.pipeline(keys.map((key) => `GET ${key}`));
    const wrong: string[] = [];
    for (const [index, key] of keys.entries()) {
      const line = replies[index]?.[0];
      if (line === undefined) throw new Error(`no reply line to GET ${key}`);
      const actual = line === "NOT_FOUND" ? null : line.slice("VALUE ".length);
      const expected = this.winners.get(key)!.value;
      if (actual !== expected) wrong.push(`${key}: ${actual} != ${expected}`);
    }
    return wrong;
  }

  async close(): Promise<void> {
    await this.#client.endAsync();
  }
}
