/**
 * Run inside a network namespace (tests/_support/netns.ts): opens <count> connections to
 * <host> <port> one after another, sends PING on each and prints, as one JSON line, the first
 * line each got (PONG or an ERROR). Keeps them open until stdin closes.
 *
 *   deno run --allow-net connect_from.ts <host> <port> <count>
 */

import * as net from "node:net";
import type { Buffer } from "node:buffer";

const [host, port, count] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
const TIMEOUT_MS = 10_000;

function firstLine(): Promise<{ socket: net.Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = "";
    const timer = setTimeout(() => reject(new Error("no reply in time")), TIMEOUT_MS);
    socket.on("error", (error) => reject(error));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const end = received.indexOf("\r\n");
      if (end === -1) return;
      clearTimeout(timer);
      resolve({ socket, line: received.slice(0, end) });
    });
  });
}

const sockets: net.Socket[] = [];
const lines: string[] = [];
for (let i = 0; i < count; i++) {
  const { socket, line } = await firstLine();
  sockets.push(socket);
  lines.push(line);
}
console.log(JSON.stringify(lines));
for await (const _ of Deno.stdin.readable) {
  // Wait for the test to close stdin.
}
for (const socket of sockets) socket.destroy();
