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

Deno.test("CONFIG SET auth.* reads the auth keys first and changes nothing when they fail", async () => {
  const { config, live, applied } = setup(() => DEFAULT_CONFIG);
  const seen: (string | null)[] = [];
  let installed = 0;
  let failWith: string | null = "Cannot read auth.password_file /nope: not found";
  live.reloadAuthWith((auth, origin) => {
    seen.push(`${origin}: ${auth.passwordFile}`);
    return Promise.resolve(
      failWith === null ? { install: () => installed++ } : { error: failWith },
    );
  });
  const refused = await live.answer({
    kind: "config_set",
    key: "auth.password_file",
    value: "/nope",
  });
  assert.equal(
    refused,
    "ERROR Cannot set config auth.password_file: Cannot read auth.password_file /nope: " +
      "not found\r\n",
  );
  assert.equal(config.auth.passwordFile, null);
  assert.equal(installed + applied(), 0);
  failWith = null;
  const set = { kind: "config_set", key: "auth.password_file", value: "/etc/pw" } as const;
  assert.equal(await live.answer(set), "OK\r\n");
  assert.equal(config.auth.passwordFile, "/etc/pw");
  assert.deepEqual([installed, applied()], [1, 1]);
  assert.deepEqual(seen, ["CONFIG SET: /nope", "CONFIG SET: /etc/pw"]);
  // Both sources of the password at once are refused before any file is read.
  const both = await live.answer({ kind: "config_set", key: "auth.password", value: "pw" });
  assert.match(both, /^ERROR Invalid config auth\.password_file: must be unset when/);
  assert.equal(seen.length, 2);
});

Deno.test("a reload whose auth files fail changes no key at all", async () => {
  const loaded = structuredClone(DEFAULT_CONFIG);
  loaded.limits.maxKeysPerCommand = 7;
  loaded.auth.usersFile = "/etc/merklekv/users.acl";
  const { config, live, applied } = setup(() => loaded);
  live.reloadAuthWith(() => Promise.resolve({ error: "Invalid users file users.acl:3: ..." }));
  assert.equal(
    await live.reload("SIGHUP"),
    "Cannot reload auth: Invalid users file users.acl:3: ...",
  );
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.equal(applied(), 0);
});
