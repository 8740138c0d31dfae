/**
 * The benchmarks' load client (bench/load/load.ts) over TLS, against a real redis-server with
 * TLS on (certificates made by openssl in the test): what the bench's TLS section measures.
 */

import assert from "node:assert/strict";
import { runLoad } from "../../bench/load/load.ts";
import { REDIS_SERVER_PATH, RedisServer, TLS_SERVERNAME } from "../../bench/harness/redis.ts";
import { makeCertificates } from "../_support/tls.ts";
import { BenchNode } from "../../bench/harness/node_server.ts";
import { nodeRefusal } from "../../bench/sections/tls.ts";

const SHORT = { conns: 2, depth: 4, keys: 100, warmupSeconds: 0, seconds: 0.5, verifyEvery: 50 };

/** Why the test cannot run here, or null. */
function missingTool(): string | null {
  for (const path of [REDIS_SERVER_PATH, "/usr/bin/openssl"]) {
    try {
      Deno.statSync(path);
    } catch {
      return `${path} is not installed`;
    }
  }
  return null;
}
const MISSING = missingTool();

Deno.test({
  name: "the load client speaks TLS to Redis and refuses a server its CA did not sign" +
    (MISSING === null ? "" : ` (skipped: ${MISSING})`),
  ignore: MISSING !== null,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-load-tls-" });
    const otherDirectory = await Deno.makeTempDir({ prefix: "merklekv-load-tls-other-" });
    let redis: RedisServer | null = null;
    try {
      const certificates = await makeCertificates(directory);
      const otherCa = (await makeCertificates(otherDirectory)).caFile;
      redis = await RedisServer.start({ tls: certificates, cpu: null });
      assert.deepEqual(await redis.command("PING"), { kind: "status", text: "PONG" });
      const request = { ...SHORT, port: redis.port, proto: "redis" as const, preload: true };
      const spawn = { cpu: null };
      const run = await runLoad({
        ...request,
        mix: "set:50,get:50",
        tlsCa: certificates.caFile,
        tlsServername: TLS_SERVERNAME,
        valueBytes: 16_384,
      }, spawn);
      assert.ok(run.ok, run.failures.join("; ") + (run.stderr ?? ""));
      assert.ok(run.ops > 0);
      assert.ok(run.checks.verifyOk > 0);
      assert.equal(run.checks.wrongValues, 0);
      const untrusted = await runLoad({
        ...request,
        tlsCa: otherCa,
        tlsServername: TLS_SERVERNAME,
      }, spawn);
      assert.equal(untrusted.ok, false);
      assert.match(untrusted.failures.join("; "), /run failed: .*(certificate|UnknownIssuer)/i);
      // Plain TCP to a TLS-only port gets no reply: the run cannot complete.
      const plain = await runLoad({ ...request, preloadTimeoutSeconds: 2 }, spawn);
      assert.equal(plain.ok, false);
    } finally {
      await redis?.stop();
      await Deno.remove(directory, { recursive: true });
      await Deno.remove(otherDirectory, { recursive: true });
    }
  },
});

Deno.test({
  name: "the bench's TLS node either answers over TLS or the tls section is told why it cannot" +
    (MISSING === null ? "" : ` (skipped: ${MISSING})`),
  ignore: MISSING !== null,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "merklekv-load-tls-node-" });
    try {
      const certificates = await makeCertificates(directory);
      const refusal = await nodeRefusal(certificates);
      if (refusal !== null) {
        // A node without TLS exits naming the section: the reason the skipped rows print.
        assert.match(refusal, /^merklekv: .*\[tls\]/);
        return;
      }
      const node = await BenchNode.start({ tls: certificates, cpu: null });
      try {
        assert.deepEqual(await node.command("PING"), { kind: "status", text: "PONG" });
        const run = await runLoad({
          ...SHORT,
          port: node.port,
          proto: "merklekv",
          tlsCa: certificates.caFile,
          tlsServername: TLS_SERVERNAME,
        }, { cpu: null });
        assert.ok(run.ok, run.failures.join("; ") + (run.stderr ?? ""));
      } finally {
        await node.stop();
      }
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
