import * as net from "node:net";
import type { Buffer } from "node:buffer";

/**
 * A scripted TCP server on a free loopback port standing in for a misbehaving node: `onData`
 * sees every received chunk (as a binary string) and may answer anything, or nothing. Every
 * socket is destroyed and the server closed after `test`, whatever it did.
 */
export async function withFakeServer(
  onData: (socket: net.Socket, received: string) => void,
  test: (port: number) => Promise<void>,
): Promise<void> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => onData(socket, chunk.toString("latin1")));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await test((server.address() as net.AddressInfo).port);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
