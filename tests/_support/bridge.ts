/**
 * Two Mosquitto brokers bridged to each other (the second connects to the first and forwards
 * `<prefix>/#` both ways), as a scaled-out deployment would run them.
 */

import { Buffer } from "node:buffer";
import mqtt from "mqtt";
import { Mosquitto } from "./mosquitto.ts";
import { delay } from "./ports.ts";

export async function startBridgedBrokers(
  topicPrefix = "merklekv",
): Promise<[Mosquitto, Mosquitto]> {
  const first = await Mosquitto.start();
  let second: Mosquitto;
  try {
    second = await Mosquitto.start({
      extraConfig: [
        "connection merklekv-bridge",
        `address 127.0.0.1:${first.port}`,
        `topic ${topicPrefix}/# both 1`,
        "cleansession true",
        "restart_timeout 1 5",
      ].join("\n"),
    });
  } catch (error) {
    await first.cleanup();
    throw error;
  }
  try {
    await waitForBridge(first, second, topicPrefix, 10_000);
    await waitForBridge(second, first, topicPrefix, 10_000);
  } catch (error) {
    await Promise.all([first.cleanup(), second.cleanup()]);
    throw error;
  }
  return [first, second];
}

/** Publishes a probe on `from` until it arrives on `to`. */
async function waitForBridge(
  from: Mosquitto,
  to: Mosquitto,
  topicPrefix: string,
  timeoutMs: number,
): Promise<void> {
  const topic = `${topicPrefix}/bridge-probe`;
  const receiver = await mqtt.connectAsync(to.url, { reconnectPeriod: 0 });
  const sender = await mqtt.connectAsync(from.url, { reconnectPeriod: 0 });
  try {
    let arrived = false;
    receiver.on("message", () => arrived = true);
    await receiver.subscribeAsync(topic, { qos: 1 });
    const deadline = Date.now() + timeoutMs;
    while (!arrived) {
      if (Date.now() > deadline) {
        throw new Error(`no bridge from port ${from.port} to ${to.port} after ${timeoutMs} ms`);
      }
      await sender.publishAsync(topic, Buffer.from("probe"), { qos: 1 });
      await delay(50);
    }
  } finally {
    await sender.endAsync();
    await receiver.endAsync();
  }
}
