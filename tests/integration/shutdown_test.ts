/**
 * Shutdown of a real node process always finishes: SIGTERM, SIGINT and SHUTDOWN exit 0 within
 * limits.shutdown_grace_ms whatever its connections do (refused, half-closed, idle, not
 * reading, mid-request), every time.
 */

import assert from "node:assert/strict";
import type { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { waitUntil } from "../_support/ports.ts";

const GRACE_MS = 500;
/** Beyond the grace period: closing the log and the process exiting on a busy machine. */
const EXIT_ALLOWANCE_MS = 4_000;
const MAX_CONNECTIONS = 5;
const VALUE = "b".repeat(60_000);

type Stop = "SIGTERM" | "SIGINT" | "SHUTDOWN";

async function waitForConnections(client: MerkleKVClient, count: number): Promise<void> {
  await waitUntil(
    `the node to count ${count} connections`,
    async () => (await client.info()).get("connections") === String(count),
    10_000,
  );
}

/** The exit status, or an error if the process still runs after timeoutMs. */
async function exitWithin(node: NodeProcess, timeoutMs: number): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still running ${timeoutMs} ms after the stop:\n${node.stderr()}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([node.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every kind of awkward connection at once, then the stop; returns the exit status. */
async function stopWithAwkwardConnections(stop: Stop): Promise<void> {
  const node = await NodeProcess.start({
    toml: `[limits]\nmax_connections = ${MAX_CONNECTIONS}\nreserved_peer_connections = 0\n` +
      `shutdown_grace_ms = ${GRACE_MS}\nmax_pending_reply_bytes = 65536`,
  });
  const client = await node.connect();
  const sockets: RawSocket[] = [];
  const open = async (options: { allowHalfOpen?: boolean } = {}) => {
    const socket = await RawSocket.connect(node.port, options);
    sockets.push(socket);
    return socket;
  };
  try {
    await client.request(`SET big ${VALUE}`);
    await waitForConnections(client, 1);
    // Not reading: 200 GETs (12 MB of replies) sent, none read.
    const slow = await open();
    slow.keepText = false;
    slow.socket.pause();
    await slow.write("GET big\r\n".repeat(200));
    // Half-closed: sent its requests and its end of the connection; reads nothing either.
    const halfClosed = await open({ allowHalfOpen: true });
    halfClosed.socket.pause();
    await halfClosed.write("GET big\r\n".repeat(200));
    halfClosed.socket.end();
    // Mid-request: half a line. Idle: nothing at all.
    await (await open()).write("GET bi");
    await open();
    await waitForConnections(client, MAX_CONNECTIONS);
    // Refused: one that reads its ERROR and closes, one that sent a line and never closes.
    const refused = await open();
    await refused.write("PING\r\n");
    await refused.waitClosed();
    assert.equal(refused.received, "ERROR max connections\r\n");
    const stuck = await open({ allowHalfOpen: true });
    stuck.socket.pause();
    await stuck.write("PING\r\n");

    if (stop === "SHUTDOWN") assert.deepEqual(await client.request("SHUTDOWN"), ["OK"]);
    else node.stop(stop);
    const status = await exitWithin(node, GRACE_MS + EXIT_ALLOWANCE_MS);
    assert.equal(status.code, 0, node.stderr());
    assert.match(node.stderr(), new RegExp(`"event":"node_stopped".*"reason":"${stop}"`));
  } finally {
    await Promise.all(sockets.map((socket) => socket.destroy()));
    await client.close();
    await node.cleanup();
  }
}

Deno.test("SIGTERM, SIGINT and SHUTDOWN exit 0 within the grace period with refused, half-closed, idle, unread and unfinished connections, every time", async () => {
  const stops: Stop[] = ["SIGTERM", "SIGTERM", "SIGINT", "SHUTDOWN", "SIGTERM"];
  for (const stop of stops) await stopWithAwkwardConnections(stop);
});
