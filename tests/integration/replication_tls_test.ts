/**
 * A broker with a TLS listener (certificate from a private CA made here) and a password file:
 * nodes with the CA and the right credentials replicate through it; wrong credentials are
 * refused with a clear log line, and the node keeps serving meanwhile.
 */

import assert from "node:assert/strict";
import { makeCertificates, makePasswordFile } from "../_support/tls.ts";
import { Mosquitto } from "../_support/mosquitto.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { freePort, waitUntil } from "../_support/ports.ts";
import { Cluster } from "../_support/replication_cluster.ts";

async function startSecureBroker(directory: string): Promise<Mosquitto> {
  const certificates = await makeCertificates(directory);
  await makePasswordFile(`${directory}/passwd`, "merklekv", "s3cret pass");
  const port = await freePort();
  return await Mosquitto.start({
    port,
    listenerConfig: [
      `listener ${port} 127.0.0.1`,
      `cafile ${certificates.caFile}`,
      `certfile ${certificates.certFile}`,
      `keyfile ${certificates.keyFile}`,
      `password_file ${directory}/passwd`,
      "allow_anonymous false",
    ].join("\n"),
  });
}

function replicationToml(directory: string, password: string, caFile = true): string {
  return [
    "[replication]",
    'username = "merklekv"',
    `password = "${password}"`,
    caFile ? `ca_file = "${directory}/ca.crt"` : "",
    "reconnect_min_ms = 50",
    "reconnect_max_ms = 500",
  ].join("\n");
}

Deno.test("a TLS broker with a password file accepts nodes with the right credentials and refuses wrong ones", async () => {
  const directory = await Deno.makeTempDir({ prefix: "merklekv-tls-" });
  const broker = await startSecureBroker(directory);
  const url = `mqtts://127.0.0.1:${broker.port}`;
  const wrong: NodeProcess[] = [];
  let cluster: Cluster | null = null;
  try {
    cluster = await Cluster.start({
      size: 2,
      brokers: [broker],
      brokerUrls: [url],
      toml: replicationToml(directory, "s3cret pass"),
    });
    await cluster.client(0).set("over", "tls");
    await waitUntil(
      "the write to reach node b over TLS",
      async () => (await cluster!.client(1).get("over")) === "tls",
      5_000,
      5,
    );

    const refused = await NodeProcess.start({
      nodeId: "intruder",
      topLevel: `mqtt_broker_address = "${url}"`,
      toml: replicationToml(directory, "wrong password"),
    });
    wrong.push(refused);
    await waitUntil(
      "the refusal to be logged",
      () => refused.stderr().includes('"event":"replication_auth_refused"'),
      10_000,
      20,
    );
    assert.match(
      refused.stderr(),
      /"reason":"Connection refused: (Bad User Name or Password|Not authorized)"/,
    );
    const client = await refused.connect();
    try {
      await client.set("still", "serving");
      assert.equal(await client.get("still"), "serving");
      assert.equal((await client.info()).get("replication_broker"), "disconnected");
    } finally {
      await client.close();
    }

    const untrusting = await NodeProcess.start({
      nodeId: "no-ca",
      topLevel: `mqtt_broker_address = "${url}"`,
      toml: replicationToml(directory, "s3cret pass", false),
    });
    wrong.push(untrusting);
    await waitUntil(
      "the certificate failure to be logged",
      () => /"event":"replication_connect_failed".*certificate/i.test(untrusting.stderr()),
      10_000,
      20,
    );
    assert.equal(await cluster.client(1).get("still"), null, "the refused node replicated");
  } catch (error) {
    // Explain a failure with what the nodes logged.
    const logs = wrong.map((node) => `--- ${node.nodeId}\n${node.stderr()}`).join("\n");
    if (error instanceof Error) error.message += `\n${cluster?.recentLogs(20) ?? ""}\n${logs}`;
    throw error;
  } finally {
    for (const node of wrong) await node.cleanup();
    await cluster?.close();
    await broker.cleanup();
    await Deno.remove(directory, { recursive: true });
  }
});
