/**
 * Why the client port serves TLS through node:tls and not Deno.listenTls (see docs/security.md,
 * Why node:tls): in this Deno, a Deno.TlsConn closed before its handshake finished keeps its
 * socket open for as long as the client says nothing, so limits.tls_handshake_timeout_ms could
 * not be kept. Should a Deno upgrade close the socket, this test fails: Deno.listenTls (about
 * 0.9 times node:tls's CPU per request, bench/HISTORY.md) is then worth measuring again.
 */

import assert from "node:assert/strict";
import { RawSocket } from "../_support/raw_socket.ts";
import { makeCertificates, opensslUnavailableReason } from "../_support/tls.ts";

const opensslUnavailable = opensslUnavailableReason();
/** Long enough for a close to reach a client on loopback many times over. */
const WAIT_MS = 1_000;

Deno.test({
  name: "a Deno.TlsConn closed in its handshake leaves a silent client's socket open" +
    (opensslUnavailable === null ? "" : ` (skipped: ${opensslUnavailable})`),
  ignore: opensslUnavailable !== null,
  fn: async () => {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-deno-tls-" });
    const certificates = await makeCertificates(directory);
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(certificates.certFile),
      key: await Deno.readTextFile(certificates.keyFile),
    });
    try {
      const silent = await RawSocket.connect(listener.addr.port);
      const conn = await listener.accept();
      const handshake = conn.handshake().then(() => "done", (error) => error.name);
      conn.close();
      // The JavaScript side lets go at once...
      assert.equal(await handshake, "Interrupted");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const closedInTime = await Promise.race([
        silent.closed.then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), WAIT_MS)),
      ]);
      clearTimeout(timer);
      // ...but the socket stays open until the client speaks or closes.
      assert.equal(closedInTime, false);
      assert.equal(silent.received, "");
      silent.socket.destroy();
      await silent.closed;
    } finally {
      listener.close();
      await Deno.remove(directory, { recursive: true });
    }
  },
});
