/**
 * TLS on the client port and the HTTP listener (see docs/security.md, TLS), with certificates
 * made by openssl: real node processes, real TLS clients, plain-text clients, mutual TLS, and
 * certificates swapped by a reload while connections stay open.
 */

import assert from "node:assert/strict";
import * as tls from "node:tls";
import { type ClientTls, MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { waitUntil } from "../_support/ports.ts";
import {
  type KeyPair,
  makeTestPki,
  opensslUnavailableReason,
  tlsSection,
} from "../_support/tls.ts";
import { reply } from "../_support/auth.ts";
import { runLoad } from "../../bench/load/load.ts";

const opensslUnavailable = opensslUnavailableReason();
const skip = opensslUnavailable === null ? "" : ` (skipped: ${opensslUnavailable})`;

function tlsTest(name: string, fn: (pki: Pki) => Promise<void>): void {
  Deno.test({
    name: name + skip,
    ignore: opensslUnavailable !== null,
    fn: async () => {
      const directory = await Deno.makeTempDir({ prefix: "merklekv-tls-" });
      try {
        const files = await makeTestPki(directory);
        await fn({ ...files, directory, read: (path) => Deno.readTextFileSync(path) });
      } finally {
        await Deno.remove(directory, { recursive: true });
      }
    },
  });
}

type Pki = Awaited<ReturnType<typeof makeTestPki>> & {
  directory: string;
  read(path: string): string;
};

function connectTls(node: NodeProcess, options: ClientTls): Promise<MerkleKVClient> {
  return MerkleKVClient.connect({ port: node.port, timeoutMs: 5_000, tls: options });
}

/** The client certificate option for `pair`. */
function clientCert(pki: Pki, pair: KeyPair): ClientTls {
  return { cert: pki.read(pair.certFile), key: pki.read(pair.keyFile) };
}

/** The common name of the certificate the node serves to a new connection. */
function servedName(node: NodeProcess, ca: string, port = node.port): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca }, () => {
      const name = String(socket.getPeerCertificate().subject?.CN ?? "");
      socket.end();
      socket.once("close", () => resolve(name));
    });
    socket.once("error", reject);
  });
}

tlsTest("a TLS client sets and gets, and INFO says the port speaks TLS", async (pki) => {
  const node = await NodeProcess.start({ toml: tlsSection(pki.server) });
  try {
    const client = await connectTls(node, { ca: pki.read(pki.caFile) });
    assert.equal(await reply(client, "SET greeting hello"), "OK");
    assert.equal(await reply(client, "GET greeting"), "VALUE hello");
    assert.match(await reply(client, "INFO"), /\ntls:on\n/);
    await client.close();
  } finally {
    await node.cleanup();
  }
});

tlsTest("a plain-text client of a TLS port gets no reply and is closed", async (pki) => {
  const node = await NodeProcess.start({
    toml: tlsSection(pki.server) + "\n[limits]\ntls_handshake_timeout_ms = 300",
  });
  try {
    const plain = await RawSocket.connect(node.port);
    plain.socket.write("PING\r\nSET k v\r\n");
    await plain.closed;
    // At most a TLS alert record (content type 21): never a protocol line.
    assert.ok(plain.received === "" || plain.received.charCodeAt(0) === 21, plain.received);
    assert.doesNotMatch(plain.received, /PONG|OK|ERROR/);
    // One that opens TCP and never says anything holds nothing beyond the handshake timeout.
    const silent = await RawSocket.connect(node.port);
    const started = performance.now();
    await silent.closed;
    assert.ok(performance.now() - started < 5_000);
    assert.equal(silent.received, "");
    await waitUntil("the failures are logged", () => {
      return node.stderr().includes('"event":"tls_handshake_failed"');
    }, 5_000);
    const client = await connectTls(node, { ca: pki.read(pki.caFile) });
    assert.match(await reply(client, "INFO"), /\ntls_handshake_failures:[1-9][0-9]*\n/);
    assert.equal(await reply(client, "GET k"), "NOT_FOUND");
    await client.close();
  } finally {
    await node.cleanup();
  }
});

tlsTest("a client refuses a node whose certificate its CA did not sign", async (pki) => {
  const trusted = await NodeProcess.start({ toml: tlsSection(pki.server) });
  const untrusted = await NodeProcess.start({ toml: tlsSection(pki.untrustedServer) });
  try {
    // Trusting only the system's CAs, or another CA: the handshake fails, nothing is sent.
    await assert.rejects(() => connectTls(trusted, {}), /certificate|UnknownIssuer|self.signed/i);
    await assert.rejects(
      () => connectTls(trusted, { ca: pki.read(pki.untrustedCaFile) }),
      /certificate|UnknownIssuer|self.signed/i,
    );
    await assert.rejects(
      () => connectTls(untrusted, { ca: pki.read(pki.caFile) }),
      /certificate|UnknownIssuer|self.signed/i,
    );
    // A name the certificate does not hold is refused too.
    await assert.rejects(
      () => connectTls(trusted, { ca: pki.read(pki.caFile), serverName: "elsewhere.example" }),
      /name|altname|NotValidForName|does not match/i,
    );
  } finally {
    await trusted.cleanup();
    await untrusted.cleanup();
  }
});

tlsTest("mutual TLS serves clients with a certificate of tls.ca_file only", async (pki) => {
  const node = await NodeProcess.start({
    toml: tlsSection(pki.server, `ca_file = "${pki.caFile}"`, "require_client_cert = true"),
  });
  const ca = pki.read(pki.caFile);
  try {
    const client = await connectTls(node, { ca, ...clientCert(pki, pki.client) });
    assert.equal(await reply(client, "SET mutual yes"), "OK");
    await client.close();
    await assert.rejects(async () => {
      const anonymous = await connectTls(node, { ca });
      // TLS 1.3: the server's refusal may arrive after the client's side of the handshake.
      try {
        await anonymous.request("PING");
      } finally {
        await anonymous.close();
      }
    });
    await assert.rejects(async () => {
      const stranger = await connectTls(node, { ca, ...clientCert(pki, pki.untrustedClient) });
      try {
        await stranger.request("PING");
      } finally {
        await stranger.close();
      }
    });
    // Counted (the log says it at most once a second).
    const admin = await connectTls(node, { ca, ...clientCert(pki, pki.client) });
    assert.match(await reply(admin, "INFO"), /\ntls_handshake_failures:[2-9][0-9]*\n/);
    await admin.close();
    assert.match(node.stderr(), /"event":"tls_handshake_failed"/);
  } finally {
    await node.cleanup();
  }
});

tlsTest("a reload serves new certificates to new connections and keeps open ones", async (pki) => {
  const node = await NodeProcess.start({ toml: tlsSection(pki.server) });
  const ca = pki.read(pki.caFile);
  try {
    const open = await connectTls(node, { ca });
    assert.equal(await servedName(node, ca), "server");
    // SIGHUP re-reads the file: same paths, new contents.
    await Deno.copyFile(pki.renewed.certFile, pki.server.certFile);
    await Deno.copyFile(pki.renewed.keyFile, pki.server.keyFile);
    node.signal("SIGHUP");
    await waitUntil("the reload is logged", () => {
      return node.stderr().includes('"event":"config_reloaded"');
    }, 5_000);
    assert.equal(await servedName(node, ca), "renewed");
    assert.equal(await reply(open, "SET still open"), "OK");
    // A file that is not a certificate changes nothing, and the reply says why.
    const garbage = `${pki.directory}/garbage.crt`;
    await Deno.writeTextFile(garbage, "not a certificate\n");
    assert.equal(
      await reply(open, `CONFIG SET tls.cert_file ${garbage}`),
      `ERROR Invalid tls.cert_file "${garbage}": must be a PEM certificate ` +
        '("-----BEGIN CERTIFICATE-----")',
    );
    // A key that is not the certificate's is refused too (its contents never shown).
    assert.match(
      await reply(open, `CONFIG SET tls.key_file ${pki.client.keyFile}`),
      /^ERROR Invalid tls.key_file "[^"]+": is not the private key of the certificate/,
    );
    assert.equal(await reply(open, "CONFIG GET tls.cert_file"), `VALUE ${pki.server.certFile}`);
    assert.equal(await servedName(node, ca), "renewed");
    // CONFIG SET of a valid pair of files takes effect for the next connection.
    assert.equal(
      await reply(open, `CONFIG SET tls.cert_file ${pki.client.certFile}`),
      "ERROR " +
        `Invalid tls.key_file "${pki.server.keyFile}": is not the private key of the certificate ` +
        `in tls.cert_file "${pki.client.certFile}"`,
    );
    assert.equal(await reply(open, "GET still"), "VALUE open");
    const key = await Deno.readTextFile(pki.server.keyFile);
    assert.ok(!node.stderr().includes(key.split("\n")[1] ?? "-"), "key contents never logged");
    await open.close();
  } finally {
    await node.cleanup();
  }
});

tlsTest(
  "the HTTP listener serves HTTPS with the same certificate, renewed by a reload",
  async (pki) => {
    const node = await NodeProcess.start({ toml: tlsSection(pki.server), httpPort: true });
    const ca = pki.read(pki.caFile);
    const client = Deno.createHttpClient({ caCerts: [ca] });
    try {
      const response = await fetch(`https://127.0.0.1:${node.httpPort}/livez`, { client });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "ok\n");
      await assert.rejects(() => node.http("/livez"));
      assert.equal(await servedName(node, ca, node.httpPort!), "server");
      await Deno.copyFile(pki.renewed.certFile, pki.server.certFile);
      await Deno.copyFile(pki.renewed.keyFile, pki.server.keyFile);
      node.signal("SIGHUP");
      await waitUntil("the HTTP listener takes the new certificate", () => {
        return node.stderr().includes('"event":"http_certificate_replaced"');
      }, 5_000);
      assert.equal(await servedName(node, ca, node.httpPort!), "renewed");
      const again = await fetch(`https://127.0.0.1:${node.httpPort}/livez`, { client });
      assert.equal(again.status, 200);
      await again.body?.cancel();
    } finally {
      client.close();
      await node.cleanup();
    }
  },
);

tlsTest("a node does not start with unreadable or mismatched TLS files", async (pki) => {
  const cases: [string, RegExp][] = [
    [
      tlsSection({ certFile: `${pki.directory}/missing.crt`, keyFile: pki.server.keyFile }),
      /Cannot read tls\.cert_file "[^"]*missing\.crt"/,
    ],
    [
      tlsSection({ certFile: pki.server.keyFile, keyFile: pki.server.keyFile }),
      /Invalid tls\.cert_file "[^"]+": must be a PEM certificate/,
    ],
    [
      tlsSection({ certFile: pki.server.certFile, keyFile: pki.client.keyFile }),
      /Invalid tls\.key_file "[^"]+": is not the private key of the certificate/,
    ],
    [`[tls]\nkey_file = "${pki.server.keyFile}"`, /tls\.cert_file: must be set when tls\.key_file/],
    [
      tlsSection(pki.server, "require_client_cert = true"),
      /tls\.require_client_cert: needs tls\.ca_file/,
    ],
  ];
  for (const [toml, expected] of cases) {
    const node = await NodeProcess.start({ toml, waitReady: false });
    try {
      const status = await node.exited;
      assert.notEqual(status.code, 0);
      // The exit may be seen before the last of stderr is read.
      await waitUntil(`the reason ${expected} is printed`, () => {
        return expected.test(node.stderr().replaceAll('\\"', '"'));
      }, 5_000);
      const key = pki.read(pki.server.keyFile).split("\n")[1] ?? "-";
      assert.ok(!node.stderr().includes(key), "key contents never printed");
    } finally {
      await node.cleanup();
    }
  }
});

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** `merklekv cli <args>` to completion: its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "cli", ...args],
    env: { MERKLEKV_PASSWORD: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

tlsTest(
  "merklekv cli connects with --cacert, --cert and --key to a mutual TLS node",
  async (pki) => {
    const node = await NodeProcess.start({
      toml: tlsSection(pki.server, `ca_file = "${pki.caFile}"`, "require_client_cert = true"),
    });
    try {
      const port = String(node.port);
      const mutual = ["-p", port, "--cacert", pki.caFile];
      const ok = await cli([
        ...mutual,
        "--cert",
        pki.client.certFile,
        "--key",
        pki.client.keyFile,
        "PING",
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, "PONG\n");
      const untrusting = await cli(["-p", port, "--tls", "PING"]);
      assert.equal(untrusting.code, 1);
      assert.match(untrusting.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: .+`));
      const missing = await cli([...mutual, "--cert", "/nonexistent.crt", "--key", "/k", "PING"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot read --cert \/nonexistent\.crt/);
    } finally {
      await node.cleanup();
    }
  },
);

tlsTest("the benchmarks' load client runs over TLS with the node's CA", async (pki) => {
  const node = await NodeProcess.start({ toml: tlsSection(pki.server) });
  try {
    const request = {
      conns: 2,
      depth: 4,
      keys: 100,
      warmupSeconds: 0,
      seconds: 0.5,
      verifyEvery: 50,
      port: node.port,
      proto: "merklekv" as const,
    };
    const run = await runLoad({ ...request, preload: true, tlsCa: pki.caFile }, {
      cpu: null,
    });
    assert.ok(run.ok, run.failures.join("; ") + (run.stderr ?? ""));
    assert.ok(run.ops > 0);
    assert.equal(run.checks.errors, 0);
    const untrusting = await runLoad({ ...request, tlsCa: pki.untrustedCaFile }, {
      cpu: null,
    });
    assert.equal(untrusting.ok, false);
  } finally {
    await node.cleanup();
  }
});

tlsTest(
  "over TLS, a client beyond limits.max_connections gets ERROR max connections",
  async (pki) => {
    const node = await NodeProcess.start({
      toml: tlsSection(pki.server) +
        "\n[limits]\nmax_connections = 1\nreserved_peer_connections = 0\n" +
        "tls_handshake_timeout_ms = 1000",
    });
    const ca = pki.read(pki.caFile);
    try {
      // One handshake at a time (the slots): the readiness probe may hold it until its timeout.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const first = await connectTls(node, { ca });
      assert.equal(await reply(first, "PING"), "PONG");
      // The refusal is sent over TLS, after the handshake: the slot is taken once it is done.
      const second = await connectTls(node, { ca });
      await waitUntil("the refusal arrives", () => second.unexpected.length > 0, 5_000);
      assert.deepEqual(second.unexpected, ["ERROR max connections"]);
      await second.close();
      await first.close();
    } finally {
      await node.cleanup();
    }
  },
);

tlsTest("handshakes in progress are capped at the connection slots", async (pki) => {
  const handshakeTimeoutMs = 2_000;
  const node = await NodeProcess.start({
    toml: tlsSection(pki.server) +
      "\n[limits]\nmax_connections = 1\nreserved_peer_connections = 1\n" +
      `tls_handshake_timeout_ms = ${handshakeTimeoutMs}`,
  });
  try {
    // The readiness probe's connection may hold a handshake until it times out.
    await new Promise((resolve) => setTimeout(resolve, handshakeTimeoutMs + 1_500));
    // Two silent clients hold the two handshakes; a third is cut at once, not after 2 s.
    const holding = [await RawSocket.connect(node.port), await RawSocket.connect(node.port)];
    await new Promise((resolve) => setTimeout(resolve, 200));
    const third = await RawSocket.connect(node.port);
    const started = performance.now();
    await third.closed;
    assert.ok(performance.now() - started < handshakeTimeoutMs / 2);
    for (const socket of holding) assert.ok(!socket.isClosed);
    await waitUntil("the cut is logged", () => {
      return node.stderr().includes("too many TLS handshakes in progress (max 2)");
    }, 5_000);
    for (const socket of holding) socket.socket.destroy();
    // Once they are gone, TLS clients get in again.
    await waitUntil("a TLS client gets in", async () => {
      try {
        const client = await connectTls(node, { ca: pki.read(pki.caFile) });
        const pong = await reply(client, "PING");
        await client.close();
        return pong === "PONG";
      } catch {
        return false;
      }
    }, 5_000);
  } finally {
    await node.cleanup();
  }
});

tlsTest(
  "CONFIG SET limits.tls_handshake_timeout_ms applies to the next silent connection",
  async (pki) => {
    const node = await NodeProcess.start({
      toml: tlsSection(pki.server) + "\n[limits]\ntls_handshake_timeout_ms = 30000",
    });
    const ca = pki.read(pki.caFile);
    try {
      const admin = await connectTls(node, { ca });
      assert.equal(await reply(admin, "CONFIG SET limits.tls_handshake_timeout_ms 500"), "OK");
      await admin.close();
      // A client that opens TCP and never says a word is cut after the new timeout, not 30 s.
      const silent = await RawSocket.connect(node.port);
      const started = performance.now();
      await silent.closed;
      const waitedMs = performance.now() - started;
      assert.ok(waitedMs < 10_000, `cut after ${Math.round(waitedMs)} ms`);
    } finally {
      await node.cleanup();
    }
  },
);
