import assert from "node:assert/strict";
import { silentLogger } from "../../src/log.ts";
import {
  connectTransport,
  type TransportEvents,
  type TransportOptions,
} from "../../src/replication/transport.ts";
import { Mosquitto } from "../_support/mosquitto.ts";

function options(url: string): TransportOptions {
  return {
    url,
    brokerLabel: url,
    clientId: `transport-test-${crypto.randomUUID()}`,
    username: null,
    password: null,
    ca: null,
    connectTimeoutMs: 2000,
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    subscriptions: ["transport-test/changes"],
    will: { topic: "transport-test/nodes/a", payload: new Uint8Array(0), retain: true },
    random: Math.random,
  };
}

Deno.test("connectTransport() returns at once, connecting, and connects once mqtt.js has loaded", async () => {
  const broker = await Mosquitto.start();
  try {
    let onReady = () => {};
    const ready = new Promise<void>((resolve) => onReady = resolve);
    const events: TransportEvents = { ready: () => onReady(), lost: () => {}, message: () => {} };
    const transport = connectTransport(options(broker.url), events, silentLogger);
    assert.equal(transport.state, "connecting");
    await ready;
    assert.equal(transport.state, "connected");
    await transport.close(null, 2000);
    assert.equal(transport.state, "closed");
  } finally {
    await broker.stop();
  }
});

Deno.test("close() of a transport whose mqtt.js is still loading ends it closed, never connected", async () => {
  // A plain TCP listener in place of the broker: it only counts who connects.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const accepting = (async () => {
    for await (const connection of listener) {
      accepted++;
      connection.close();
    }
  })();
  try {
    const events: TransportEvents = { ready: () => {}, lost: () => {}, message: () => {} };
    const url = `mqtt://127.0.0.1:${listener.addr.port}`;
    const transport = connectTransport(options(url), events, silentLogger);
    await transport.close(null, 1000);
    assert.equal(transport.state, "closed");
    // Long enough for a connection attempt that should not happen to arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(accepted, 0);
  } finally {
    listener.close();
    await accepting;
  }
});
