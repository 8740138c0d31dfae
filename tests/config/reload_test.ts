import assert from "node:assert/strict";
import {
  applyReloadable,
  type Config,
  ConfigError,
  configValueText,
  DEFAULT_CONFIG,
  KEY_SCHEMA,
  setConfigValue,
} from "../../src/config/mod.ts";

function config(): Config {
  return structuredClone(DEFAULT_CONFIG);
}

Deno.test("every key is marked reloadable or not, and the issue's keys are reloadable", () => {
  const reloadable = new Set(KEY_SCHEMA.filter((spec) => spec.reloadable).map((spec) => spec.path));
  for (const spec of KEY_SCHEMA) {
    if (spec.path.startsWith("limits.") || spec.path.startsWith("anti_entropy.")) {
      assert.ok(reloadable.has(spec.path), spec.path);
    }
  }
  for (const path of ["log_level", "replication.max_clock_skew_ms"]) {
    assert.ok(reloadable.has(path));
  }
  for (const path of ["node_id", "bind_port", "data_dir", "replication.topic_prefix"]) {
    assert.ok(!reloadable.has(path), path);
  }
});

Deno.test("applyReloadable() takes reloadable keys in place and names the others it keeps", () => {
  const running = config();
  const limits = running.limits;
  const loaded = config();
  loaded.nodeId = "renamed";
  loaded.bindPort = 9999;
  loaded.limits.maxValueBytes = 100;
  loaded.antiEntropy.peers = ["127.0.0.1:7001"];
  const outcome = applyReloadable(running, loaded);
  assert.deepEqual(outcome.applied, ["anti_entropy.peers", "limits.max_value_bytes"]);
  assert.deepEqual(outcome.ignored, ["node_id", "bind_port"]);
  assert.equal(running.limits, limits, "the same object, so parts holding it see the change");
  assert.equal(running.limits.maxValueBytes, 100);
  assert.deepEqual(running.antiEntropy.peers, ["127.0.0.1:7001"]);
  assert.equal(running.nodeId, DEFAULT_CONFIG.nodeId);
  assert.equal(running.bindPort, DEFAULT_CONFIG.bindPort);
});

Deno.test("applyReloadable() changes nothing when the merged config breaks a rule between keys", () => {
  const running = config();
  const loaded = config();
  loaded.limits.maxLineBytes = 10;
  assert.throws(() => applyReloadable(running, loaded), /Invalid config limits.max_line_bytes/);
  assert.deepEqual(running, DEFAULT_CONFIG);
});

Deno.test("setConfigValue() checks the text like the file and refuses keys that are not reloadable", () => {
  const running = config();
  setConfigValue(running, "limits.max_key_bytes", "100");
  assert.equal(running.limits.maxKeyBytes, 100);
  setConfigValue(running, "anti_entropy.peers", "a:1, b:2");
  assert.deepEqual(running.antiEntropy.peers, ["a:1", "b:2"]);
  assert.throws(
    () => setConfigValue(running, "limits.max_key_bytes", "-1"),
    (error) => error instanceof ConfigError && /limits\.max_key_bytes/.test(error.message),
  );
  assert.throws(() => setConfigValue(running, "node_id", "x"), /node_id: not reloadable/);
  assert.throws(() => setConfigValue(running, "limits.nope", "1"), /Unknown config key/);
  assert.equal(running.nodeId, DEFAULT_CONFIG.nodeId);
});

Deno.test("configValueText() shows running values, lists comma-separated and secrets as ***", () => {
  const running = config();
  running.antiEntropy.peers = ["a:1", "b:2"];
  running.auth.password = "hunter2";
  assert.equal(configValueText(running, "anti_entropy.peers"), "a:1,b:2");
  assert.equal(configValueText(running, "auth.password"), "***");
  assert.equal(configValueText(running, "data_dir"), "");
  assert.equal(
    configValueText(running, "limits.max_value_bytes"),
    String(DEFAULT_CONFIG.limits.maxValueBytes),
  );
  assert.throws(() => configValueText(running, "nope"), /Unknown config key "nope"/);
});

Deno.test("setConfigValue() keeps a following line cap following the value limit", () => {
  const running = config();
  setConfigValue(
    running,
    "limits.max_value_bytes",
    String(2 * DEFAULT_CONFIG.limits.maxValueBytes),
  );
  assert.equal(
    running.limits.maxLineBytes - DEFAULT_CONFIG.limits.maxLineBytes,
    DEFAULT_CONFIG.limits.maxValueBytes,
  );
  const fixed = config();
  fixed.limits.maxLineBytes = 10 * DEFAULT_CONFIG.limits.maxLineBytes;
  setConfigValue(fixed, "limits.max_value_bytes", "100");
  assert.equal(fixed.limits.maxLineBytes, 10 * DEFAULT_CONFIG.limits.maxLineBytes);
});
