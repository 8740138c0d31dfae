/**
 * A node closed in this process while a client holds a TLS handshake open: close() does not
 * wait for the handshake timeout, and the client's socket is closed (leak sanitizers on).
 */

import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import { Logger } from "../../src/log.ts";
import { startNode } from "../../src/node/start_node.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { makeTestPki, opensslUnavailableReason } from "../_support/tls.ts";

const opensslUnavailable = opensslUnavailableReason();

Deno.test({
  name: "node.close() cuts a TLS handshake in progress instead of waiting for it" +
    (opensslUnavailable === null ? "" : ` (skipped: ${opensslUnavailable})`),
  ignore: opensslUnavailable !== null,
  fn: async () => {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-tls-close-" });
    try {
      const pki = await makeTestPki(directory);
      const defaults = structuredClone(DEFAULT_CONFIG);
      const config = {
        ...defaults,
        nodeId: "tls-close",
        bindPort: 0,
        tls: { ...defaults.tls, certFile: pki.server.certFile, keyFile: pki.server.keyFile },
      };
      const lines: string[] = [];
      const node = await startNode(config, new Logger("info", (line) => lines.push(line)));
      const silent = await RawSocket.connect(node.port);
      const started = performance.now();
      await node.close();
      const closeMs = performance.now() - started;
      await silent.closed;
      assert.ok(closeMs < 900, `close() took ${closeMs} ms`);
      assert.ok(!lines.some((line) => line.includes("listener_close_slow")), lines.join(""));
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
