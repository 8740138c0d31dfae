import assert from "node:assert/strict";
import {
  configReferenceMarkdown,
  DEFAULT_CONFIG,
  formatEffectiveConfig,
  KEY_SCHEMA,
  loadConfig,
} from "../../src/config/mod.ts";

Deno.test("formatEffectiveConfig() prints the password as *** and never its value", () => {
  const config = structuredClone(DEFAULT_CONFIG);
  config.replication.username = "kv";
  config.replication.password = "hunter2";
  const text = formatEffectiveConfig(config);
  assert.ok(!text.includes("hunter2"));
  assert.match(text, /^password = "\*\*\*"$/m);
  assert.match(text, /^username = "kv"$/m);
});

Deno.test("formatEffectiveConfig() prints unset keys as comments under their section", () => {
  const text = formatEffectiveConfig(DEFAULT_CONFIG);
  assert.match(text, /^# data_dir is unset$/m);
  assert.match(text, /\[replication\]\ntopic_prefix = "merklekv"\n/);
  assert.match(text, /^bind_port = 7878$/m);
  assert.match(text, /^peers = \[\]$/m);
});

Deno.test("formatEffectiveConfig() output loads back as the same config", () => {
  const config = structuredClone(DEFAULT_CONFIG);
  config.nodeId = "node-9";
  config.dataDir = 'C:\\data "quoted"\u007f';
  config.antiEntropy.peers = ["a:1", "[::1]:2"];
  config.allowRemoteShutdown = true;
  const text = formatEffectiveConfig(config);
  const loaded = loadConfig({ argv: ["-c", "check.toml"], env: {}, readTextFile: () => text });
  assert.deepEqual(loaded.config, config);
});

Deno.test("configReferenceMarkdown() has one row per key with its default, variable and whether it is live", () => {
  const lines = configReferenceMarkdown().trimEnd().split("\n");
  assert.equal(lines[0], "| Key | Type | Default | Environment variable | Live | Meaning |");
  assert.equal(lines.length, 2 + KEY_SCHEMA.length);
  assert.ok(lines.includes(
    "| `bind_port` | integer 0..65535 | `7878` | `MERKLEKV_BIND_PORT` | no | " +
      "TCP port for clients and peers; 0 picks any free port |",
  ));
  assert.ok(lines.some((line) => line.startsWith("| `data_dir` |") && line.includes("| unset |")));
  assert.ok(lines.some((line) => line.includes("`MERKLEKV_ANTI_ENTROPY_INTERVAL_MS`")));
});
