import assert from "node:assert/strict";
import {
  ConfigError,
  DEFAULT_CONFIG,
  HELP_TEXT,
  KEY_SCHEMA,
  loadConfig,
  type LoadedConfig,
} from "../../src/config/mod.ts";
import { environmentName } from "../../src/config/schema.ts";

interface Sources {
  argv?: string[];
  env?: Record<string, string | undefined>;
  files?: Record<string, string>;
}

/** loadConfig() over in-memory files; a missing file fails like Deno.readTextFileSync. */
function load({ argv = [], env = {}, files = {} }: Sources): LoadedConfig {
  return loadConfig({
    argv,
    env,
    readTextFile: (path) => {
      const text = files[path];
      if (text === undefined) {
        throw new Deno.errors.NotFound(
          `No such file or directory (os error 2): readfile '${path}'`,
        );
      }
      return text;
    },
  });
}

/** The ConfigError message loading these sources fails with. */
function loadError(sources: Sources): string {
  try {
    load(sources);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.ok(!error.message.includes("\n"), `message is more than one line: ${error.message}`);
    return error.message;
  }
  assert.fail("expected loadConfig() to throw");
}

const NODE_FILE = `
node_id = "node-1"
bind_port = 7001
log_level = "warn"

[anti_entropy]
interval_ms = 1000
peers = ["10.0.0.2:7878"]

[replication]
password = "hunter2"
`;

Deno.test("loadConfig() without file, environment or flags returns the defaults", () => {
  const loaded = load({});
  assert.deepEqual(loaded, {
    config: DEFAULT_CONFIG,
    configPath: null,
    cli: { help: false, version: false, check: false },
  });
});

Deno.test("loadConfig() reads the file named by --config and by -c", () => {
  for (const argv of [["--config", "node.toml"], ["-c", "node.toml"], ["--config=node.toml"]]) {
    const loaded = load({ argv, files: { "node.toml": NODE_FILE } });
    assert.equal(loaded.configPath, "node.toml");
    assert.equal(loaded.config.nodeId, "node-1");
    assert.equal(loaded.config.bindPort, 7001);
    assert.deepEqual(loaded.config.antiEntropy.peers, ["10.0.0.2:7878"]);
    assert.equal(loaded.config.antiEntropy.jitterMs, DEFAULT_CONFIG.antiEntropy.jitterMs);
  }
});

Deno.test("loadConfig() ranks flags over environment over file over defaults", () => {
  const files = { "node.toml": NODE_FILE };
  const env = { MERKLEKV_BIND_PORT: "7002", MERKLEKV_LOG_LEVEL: "error" };
  const argv = ["-c", "node.toml", "--port", "7003"];
  const { config } = load({ argv, env, files });
  assert.equal(config.bindPort, 7003, "flag beats environment and file");
  assert.equal(config.logLevel, "error", "environment beats file");
  assert.equal(config.antiEntropy.intervalMs, 1000, "file beats defaults");
  assert.equal(config.fsync, "everysec", "defaults fill the rest");
});

Deno.test("loadConfig() lets the last of several flags for one key win", () => {
  const argv = ["--bind-port", "1", "--set", "bind_port=2", "-p", "3"];
  assert.equal(load({ argv }).config.bindPort, 3);
  assert.equal(load({ argv: ["-p", "3", "--set", "bind_port=2"] }).config.bindPort, 2);
});

Deno.test("loadConfig() sets every top-level key from its kebab-case flag", () => {
  const { config } = load({
    argv: [
      "--node-id=n2",
      "--bind-address=0.0.0.0",
      "--bind-port=0",
      "--mqtt-broker-address=tcp://localhost:1883",
      "--data-dir=/tmp/n2",
      "--fsync=always",
      "--allow-remote-shutdown",
      "--log-level=debug",
      "--peers=a:1,b:2",
    ],
  });
  assert.deepEqual(
    { ...config, antiEntropy: config.antiEntropy.peers },
    {
      ...DEFAULT_CONFIG,
      nodeId: "n2",
      bindAddress: "0.0.0.0",
      bindPort: 0,
      mqttBrokerAddress: "tcp://localhost:1883",
      dataDir: "/tmp/n2",
      fsync: "always",
      allowRemoteShutdown: true,
      logLevel: "debug",
      antiEntropy: ["a:1", "b:2"],
    },
  );
});

Deno.test("loadConfig() converts environment text by each key's type", () => {
  const { config } = load({
    env: {
      MERKLEKV_NODE_ID: "env-node",
      MERKLEKV_ALLOW_REMOTE_SHUTDOWN: "1",
      MERKLEKV_ANTI_ENTROPY_PEERS: "a:1, b:2",
      MERKLEKV_ANTI_ENTROPY_INTERVAL_MS: "0",
      MERKLEKV_LIMITS_MAX_KEY_BYTES: "2048",
      MERKLEKV_REPLICATION_TOPIC_PREFIX: "test/kv",
      MERKLEKV_MQTT_BROKER_ADDRESS: "mqtt://broker:1883",
      MERKLEKV_DATA_DIR: "",
      MERKLEKV_LOG_FORMAT: "json",
      HOME: "/root",
    },
  });
  assert.equal(config.nodeId, "env-node");
  assert.equal(config.allowRemoteShutdown, true);
  assert.deepEqual(config.antiEntropy.peers, ["a:1", "b:2"]);
  assert.equal(config.antiEntropy.intervalMs, 0);
  assert.equal(config.limits.maxKeyBytes, 2048);
  assert.equal(config.replication.topicPrefix, "test/kv");
  assert.equal(config.mqttBrokerAddress, "mqtt://broker:1883");
  assert.equal(config.dataDir, null);
});

Deno.test("loadConfig() lets an empty environment value unset a key the file set", () => {
  const files = { "n.toml": 'node_id = "n"\ndata_dir = "/data"\n' };
  const { config } = load({ argv: ["-c", "n.toml"], env: { MERKLEKV_DATA_DIR: "" }, files });
  assert.equal(config.dataDir, null);
});

Deno.test("loadConfig() accepts node_id from the environment or flags with a config file", () => {
  const files = { "shared.toml": "bind_port = 7001\n" };
  const fromFlag = load({ argv: ["-c", "shared.toml", "--node-id", "n3"], files });
  assert.equal(fromFlag.config.nodeId, "n3");
  const fromEnvironment = load({
    argv: ["-c", "shared.toml"],
    env: { MERKLEKV_NODE_ID: "n4" },
    files,
  });
  assert.equal(fromEnvironment.config.nodeId, "n4");
});

const BAD_SOURCES: ReadonlyArray<{ name: string; sources: Sources; message: string }> = [
  {
    name: "an integer variable that is not a number",
    sources: { env: { MERKLEKV_BIND_PORT: "abc" } },
    message: 'Invalid config bind_port (from MERKLEKV_BIND_PORT): expected an integer, got "abc"',
  },
  {
    name: "an integer variable with a fraction",
    sources: { env: { MERKLEKV_LIMITS_MAX_KEY_BYTES: "1.5" } },
    message: "Invalid config limits.max_key_bytes (from MERKLEKV_LIMITS_MAX_KEY_BYTES): " +
      'expected an integer, got "1.5"',
  },
  {
    name: "an integer variable out of range",
    sources: { env: { MERKLEKV_ANTI_ENTROPY_INTERVAL_MS: "-5" } },
    message: "Invalid config anti_entropy.interval_ms (from MERKLEKV_ANTI_ENTROPY_INTERVAL_MS): " +
      "must be >= 0, got -5",
  },
  {
    name: "a boolean variable that is not true/false/1/0",
    sources: { env: { MERKLEKV_ALLOW_REMOTE_SHUTDOWN: "yes" } },
    message: "Invalid config allow_remote_shutdown (from MERKLEKV_ALLOW_REMOTE_SHUTDOWN): " +
      'expected true, false, 1 or 0, got "yes"',
  },
  {
    name: "an empty variable for a key that cannot be unset",
    sources: { env: { MERKLEKV_BIND_PORT: "" } },
    message: 'Invalid config bind_port (from MERKLEKV_BIND_PORT): expected an integer, got ""',
  },
  {
    name: "a misspelled variable",
    sources: { env: { MERKLEKV_BIND_PROT: "7000" } },
    message: "Unknown environment variable MERKLEKV_BIND_PROT: no config key has this name " +
      "(did you mean MERKLEKV_BIND_PORT?)",
  },
  {
    name: "a variable for a key that does not exist",
    sources: { env: { MERKLEKV_CLUSTER_SIZE: "3" } },
    message: "Unknown environment variable MERKLEKV_CLUSTER_SIZE: no config key has this name",
  },
  {
    name: "an unknown flag",
    sources: { argv: ["--foo"] },
    message: 'Unknown option "--foo" (see --help)',
  },
  {
    name: "a misspelled flag",
    sources: { argv: ["--bind-prot", "1"] },
    message: 'Unknown option "--bind-prot" (did you mean "--bind-port"?)',
  },
  {
    name: "a flag without its value",
    sources: { argv: ["--data-dir"] },
    message: 'Option "--data-dir" needs a value (see --help)',
  },
  {
    name: "a switch given a value",
    sources: { argv: ["--check=yes"] },
    message: 'Option "--check" takes no value (see --help)',
  },
  {
    name: "a config file given without --config",
    sources: { argv: ["node.toml"] },
    message: 'Unexpected argument "node.toml" (a config file goes after --config; see --help)',
  },
  {
    name: "a flag value of the wrong type",
    sources: { argv: ["-p", "abc"] },
    message: 'Invalid config bind_port (from -p): expected an integer, got "abc"',
  },
  {
    name: "a bad peer in --peers",
    sources: { argv: ["--peers", "a:1,b"] },
    message: 'Invalid config anti_entropy.peers (from --peers): entry 2 must be "host:port" ' +
      'with a port in 1..65535 (IPv6 as [::1]:7878), got "b"',
  },
  {
    name: "--set without an equals sign",
    sources: { argv: ["--set", "limits.max_key_bytes"] },
    message: 'Invalid option --set "limits.max_key_bytes": expected section.key=value, ' +
      "e.g. --set limits.max_key_bytes=2048",
  },
  {
    name: "--set with a misspelled key",
    sources: { argv: ["--set", "limits.max_key_byte=10"] },
    message:
      'Unknown config key "limits.max_key_byte" in --set (did you mean "limits.max_key_bytes"?)',
  },
  {
    name: "--set with a bad value",
    sources: { argv: ["--set", "replication.topic_prefix=$SYS"] },
    message: "Invalid config replication.topic_prefix (from --set): must be a topic of 1 to 256 " +
      'characters without "+", "#" or NUL, not starting with "$", got "$SYS"',
  },
  {
    name: "a config file that does not exist",
    sources: { argv: ["--config", "x.toml"] },
    message: 'Cannot read config file "x.toml": No such file or directory',
  },
  {
    name: "a config file with a TOML syntax error",
    sources: {
      argv: ["-c", "bad.toml"],
      files: { "bad.toml": 'node_id = "n"\nbind_port = = 1\n' },
    },
    message: 'Cannot parse config file "bad.toml" at line 2, column 13: invalid value',
  },
  {
    name: "a config file with an unterminated string",
    sources: { argv: ["-c", "bad.toml"], files: { "bad.toml": 'node_id = "n\n' } },
    message: 'Cannot parse config file "bad.toml" at line 1, column 13: ' +
      "control characters are not allowed in strings",
  },
  {
    name: "a config file without node_id",
    sources: { argv: ["-c", "n.toml"], files: { "n.toml": "bind_port = 7001\n" } },
    message: "Missing config node_id: required in a config file",
  },
  {
    name: "a config file with a misspelled key",
    sources: { argv: ["-c", "n.toml"], files: { "n.toml": 'node_id = "n"\nbind_prot = 1\n' } },
    message: 'Unknown config key "bind_prot" (did you mean "bind_port"?)',
  },
  {
    name: "a line limit lowered below the value limit by a later source",
    sources: { argv: ["--set", "limits.max_line_bytes=1000"] },
    message: "Invalid config limits.max_line_bytes: must be >= limits.max_value_bytes + " +
      "limits.max_key_bytes + 16 = 1049616, got 1000",
  },
];

for (const { name, sources, message } of BAD_SOURCES) {
  Deno.test(`loadConfig() rejects ${name} in one line`, () => {
    assert.equal(loadError(sources), message);
  });
}

Deno.test("loadConfig() reports a huge TOML integer as out of range, not as a parse error", () => {
  const files = { "n.toml": 'node_id = "n"\n[limits]\nmax_connections = 99999999999999999999\n' };
  assert.equal(
    loadError({ argv: ["-c", "n.toml"], files }),
    "Invalid config limits.max_connections: must be <= 1000000, got 99999999999999999999",
  );
});

/** A config file that sets one key (TOML path) to the TOML text of a value. */
function fileSetting(path: string, valueText: string): Record<string, string> {
  const dot = path.indexOf(".");
  const setting = dot === -1
    ? `${path} = ${valueText}\n`
    : `[${path.slice(0, dot)}]\n${path.slice(dot + 1)} = ${valueText}\n`;
  return { "n.toml": `node_id = "n"\n${setting}` };
}

Deno.test("loadConfig() refuses a TOML float for an integer key, even a whole one like 1e3", () => {
  assert.equal(
    loadError({ argv: ["-c", "n.toml"], files: fileSetting("limits.max_value_bytes", "1e3") }),
    "Invalid config limits.max_value_bytes: must be an integer, got the float 1000 " +
      "(write 1000 without a decimal point or exponent)",
  );
  assert.equal(
    loadError({ argv: ["-c", "n.toml"], files: fileSetting("limits.max_value_bytes", "1000.5") }),
    "Invalid config limits.max_value_bytes: must be an integer, got 1000.5",
  );
  assert.equal(
    loadError({ argv: ["-c", "n.toml"], files: fileSetting("bind_port", "inf") }),
    "Invalid config bind_port: must be an integer, got Infinity",
  );
  assert.equal(
    loadError({ argv: ["-c", "n.toml"], files: fileSetting("bind_address", "1.5") }),
    "Invalid config bind_address: expected a string, got 1.5",
  );
  assert.equal(
    loadError({ argv: ["-c", "n.toml"], files: fileSetting("anti_entropy.peers", "[2.5]") }),
    "Invalid config anti_entropy.peers: expected an array of strings, got [2.5]",
  );
  const { config } = load({ argv: ["-c", "n.toml"], files: fileSetting("bind_port", "7001") });
  assert.equal(config.bindPort, 7001, "a TOML integer is still a number in the config");
});

Deno.test("every integer key refuses a TOML float and a fraction by the same rule", () => {
  const integerKeys = KEY_SCHEMA.filter((spec) => spec.type === "integer");
  assert.ok(integerKeys.length > 20);
  for (const spec of integerKeys) {
    const files = fileSetting(spec.path, "2.0");
    assert.match(
      loadError({ argv: ["-c", "n.toml"], files }),
      new RegExp(`^Invalid config ${spec.path}: must be an integer, got the float 2 `),
      spec.path,
    );
    const env = { [environmentName(spec)]: "2.5" };
    assert.match(loadError({ env }), /: expected an integer, got "2\.5"$/, spec.path);
  }
});

Deno.test("loadConfig() --set reaches keys in every section and unsets with an empty value", () => {
  const { config } = load({
    argv: [
      "--set",
      "anti_entropy.jitter_ms=0",
      "--set=replication.username=kv",
      "--set",
      "persistence.snapshot_chunk_entries=5",
      "--set",
      "limits.scan_page_keys=7",
      "--set",
      "allow_remote_shutdown=false",
      "--data-dir=/tmp/x",
      "--set",
      "data_dir=",
    ],
  });
  assert.equal(config.antiEntropy.jitterMs, 0);
  assert.equal(config.replication.username, "kv");
  assert.equal(config.persistence.snapshotChunkEntries, 5);
  assert.equal(config.limits.scanPageKeys, 7);
  assert.equal(config.allowRemoteShutdown, false);
  assert.equal(config.dataDir, null);
});

Deno.test("loadConfig() with --help or --version reads neither file nor environment", () => {
  const env = { MERKLEKV_BIND_PORT: "not a port" };
  for (const argv of [["--help", "-c", "missing.toml"], ["-h"], ["-V", "-c", "missing.toml"]]) {
    const loaded = load({ argv, env });
    assert.deepEqual(loaded.config, DEFAULT_CONFIG);
    assert.equal(loaded.cli.help || loaded.cli.version, true);
  }
  assert.deepEqual(load({ argv: ["--version"] }).cli, { help: false, version: true, check: false });
});

Deno.test("loadConfig() reports --check and still validates everything", () => {
  const files = { "node.toml": NODE_FILE };
  const loaded = load({ argv: ["--check", "-c", "node.toml"], files });
  assert.deepEqual(loaded.cli, { help: false, version: false, check: true });
  assert.match(loadError({ argv: ["--check"], env: { MERKLEKV_FSYNC: "x" } }), /MERKLEKV_FSYNC/);
});

Deno.test("HELP_TEXT shows the usage line, every flag, the environment rule and precedence", () => {
  assert.ok(HELP_TEXT.startsWith("Usage: merklekv [--config node.toml] [options]\n"));
  for (
    const flag of [
      "-c, --config",
      "-h, --help",
      "-V, --version",
      "--check",
      "--set",
      "--node-id",
      "--bind-address",
      "-p, --bind-port, --port",
      "--mqtt-broker-address",
      "--data-dir",
      "--fsync",
      "--log-level",
      "--allow-remote-shutdown",
      "--peers",
    ]
  ) {
    assert.ok(HELP_TEXT.includes(flag), flag);
  }
  assert.ok(HELP_TEXT.includes("MERKLEKV_<SECTION>_<KEY>"));
  assert.ok(HELP_TEXT.includes("flags > environment > config file > defaults"));
});
