/**
 * The benchmarks' load client (bench/load/load.ts) over TLS, against a real redis-server with
 * TLS on (certificates made by openssl in the test): what the bench's TLS section measures.
 */

import assert from "node:assert/strict";
import { runLoad } from "../../bench/load/load.ts";
import { REDIS_SERVER_PATH, RedisServer, TLS_SERVERNAME } from "../../bench/harness/redis.ts";
import { makeCertificates } from "../_support/tls.ts";

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
