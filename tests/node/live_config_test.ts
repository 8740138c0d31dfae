import assert from "node:assert/strict";
import { type Config, ConfigError, DEFAULT_CONFIG } from "../../src/config/mod.ts";
import { Logger } from "../../src/log.ts";
import { LiveConfig, NO_CONFIG_FILE } from "../../src/node/live_config.ts";

const NOW_MS = 1_700_000_000_000;

function setup(load: () => Config, path: string | null = "/etc/merklekv/node.toml") {
  const config = structuredClone(DEFAULT_CONFIG);
  const logged: string[] = [];
  const log = new Logger("debug", (line) => logged.push(line));
  const live = new LiveConfig(config, { path, load }, log, () => NOW_MS);
  let applied = 0;
  live.onChange(() => applied++);
  return { config, live, logged, applied: () => applied };
}

function info(live: LiveConfig): Record<string, string | number> {
  return Object.fromEntries(live.infoFields());
}

Deno.test("LiveConfig.reload() applies live keys in place, warns once naming the others, and counts", async () => {
  const loaded = structuredClone(DEFAULT_CONFIG);
  loaded.nodeId = "renamed";
  loaded.dataDir = "/srv/data";
  loaded.limits.maxKeysPerCommand = 7;
  const { config, live, logged, applied } = setup(() => loaded);
  assert.equal(await live.reload("SIGHUP"), null);
  assert.equal(config.limits.maxKeysPerCommand, 7);
  assert.equal(config.nodeId, DEFAULT_CONFIG.nodeId);
  assert.equal(config.dataDir, null);
  assert.equal(applied(), 1);
  const warnings = logged.filter((line) => line.includes("config_not_reloadable"));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /"keys":"node_id,data_dir"/);
  assert.deepEqual(info(live), {
    config_file: "/etc/merklekv/node.toml",
    config_reloads: 1,
    config_reload_failures: 0,
    config_last_reload: NOW_MS,
  });
});

Deno.test("LiveConfig.reload() of an invalid config changes nothing and returns the message", async () => {
  const { config, live, logged, applied } = setup(() => {
    throw new ConfigError("Invalid config limits.max_key_bytes: must be >= 1, got 0");
  });
  assert.equal(
    await live.reload("SIGHUP"),
    "Invalid config limits.max_key_bytes: must be >= 1, got 0",
  );
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.equal(applied(), 0);
  assert.ok(logged.some((line) => line.includes("config_reload_failed")));
  assert.equal(info(live).config_reload_failures, 1);
  assert.equal(info(live).config_last_reload, 0);
});

Deno.test("CONFIG RELOAD without --config answers ERROR saying there is no file", async () => {
  const live = new LiveConfig(
    structuredClone(DEFAULT_CONFIG),
    NO_CONFIG_FILE,
    new Logger("error", () => {}),
    () => NOW_MS,
  );
  const reply = await live.answer({ kind: "config_reload" });
  assert.match(reply, /^ERROR Cannot reload config: .*without --config \(no file\)\r\n$/);
  assert.equal(info(live).config_file, "");
});

Deno.test("CONFIG SET runs the appliers; CONFIG GET shows the running value", async () => {
  const { config, live, applied } = setup(() => DEFAULT_CONFIG);
  assert.equal(
    await live.answer({ kind: "config_set", key: "log_level", value: "debug" }),
    "OK\r\n",
  );
  assert.equal(config.logLevel, "debug");
  assert.equal(applied(), 1);
  assert.equal(await live.answer({ kind: "config_get", key: "log_level" }), "VALUE debug\r\n");
  const refused = await live.answer({ kind: "config_set", key: "bind_port", value: "1" });
  assert.match(refused, /^ERROR Cannot set config bind_port: not reloadable/);
  assert.equal(applied(), 1);
});
