import * as net from "node:net";
import type { Buffer } from "node:buffer";

/** A loopback listener that accepts connections, records them, and never answers. */
export interface RecordingListener {
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Everything received, all connections together, as a binary string. */
  readonly received: string;
}

/**
 * Starts `count` silent listeners on free loopback ports, runs `test`, then destroys every
 * socket and closes them: stand-ins for peers that hang, and witnesses that nothing connected.
 */
export async function withRecordingListeners(
  count: number,
  test: (listeners: RecordingListener[]) => Promise<void>,
): Promise<void> {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const listeners: { port: number; connections: number; received: string }[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const listener = { port: 0, connections: 0, received: "" };
      const server = net.createServer((socket) => {
        listener.connections++;
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => {});
        socket.on("data", (chunk: Buffer) => listener.received += chunk.toString("latin1"));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      listener.port = (server.address() as net.AddressInfo).port;
      listeners.push(listener);
    }
    await test(listeners);
  } finally {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
