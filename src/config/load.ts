/**
 * Loads the effective config: defaults < config file < environment < command-line flags.
 * The only file that imports the TOML parser. File reading is passed in, so tests and
 * `main.ts` decide where bytes come from.
 */

import { parseArgs } from "node:util";
import { parse as parseToml, TomlError } from "smol-toml";
import { DEFAULT_CONFIG } from "./defaults.ts";
import { type CommandLineOption, OPTION_BY_NAME, parseArgsOptions } from "./flags.ts";
import {
  type ConfigValue,
  isEnvironmentName,
  KEY_BY_ENVIRONMENT_NAME,
  KEY_BY_PATH,
  type KeySpec,
} from "./schema.ts";
import { nearestName } from "./suggest.ts";
import type { Config } from "./types.ts";
import {
  buildConfig,
  checkText,
  checkValue,
  ConfigError,
  type ConfigLayer,
  invalidValueMessage,
  readConfigTable,
  TomlFloat,
  unknownKeyMessage,
} from "./validate.ts";
import { assert } from "../assert.ts";

export interface LoadConfigOptions {
  /** Command-line arguments without the program name (`Deno.args`). */
  argv: string[];
  /** `Deno.env.toObject()`. */
  env: Record<string, string | undefined>;
  /** `Deno.readTextFileSync`; its errors are reported as "Cannot read config file". */
  readTextFile: (path: string) => string;
}

/** Switches that ask the program to do something other than run a node. */
export interface CommandLineSwitches {
  help: boolean;
  version: boolean;
  check: boolean;
}

export interface LoadedConfig {
  config: Config;
  configPath: string | null;
  cli: CommandLineSwitches;
}

/** Read by the logger, not a config key, so not an unknown variable. */
const IGNORED_ENVIRONMENT_NAMES: ReadonlySet<string> = new Set(["MERKLEKV_LOG_FORMAT"]);

/**
 * Parses flags, reads the config file and environment, and returns the effective config.
 * With --help or --version nothing else is read and `config` is the defaults.
 * Throws ConfigError with a one-line message for anything the user got wrong.
 */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const commandLine = readCommandLine(options.argv);
  const { configPath, cli } = commandLine;
  if (cli.help || cli.version) {
    return { config: structuredClone(DEFAULT_CONFIG), configPath, cli };
  }
  const fileLayer = configPath === null
    ? new Map<string, ConfigValue>()
    : readConfigFile(configPath, options.readTextFile);
  const environmentLayer = readEnvironment(options.env);
  const config = buildConfig([fileLayer, environmentLayer, commandLine.layer], {
    requireNodeId: configPath !== null,
  });
  return { config, configPath, cli };
}

interface CommandLine {
  configPath: string | null;
  cli: CommandLineSwitches;
  layer: Map<string, ConfigValue>;
}

function readCommandLine(argv: string[]): CommandLine {
  const commandLine: CommandLine = {
    configPath: null,
    cli: { help: false, version: false, check: false },
    layer: new Map(),
  };
  for (const token of tokenizeArguments(argv)) {
    if (token.kind !== "option") continue;
    const option = OPTION_BY_NAME.get(token.name);
    assert(option !== undefined, `parseArgs accepts only known options, not "${token.name}"`);
    applyOption(commandLine, option, token.rawName, token.value);
  }
  return commandLine;
}

function tokenizeArguments(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: parseArgsOptions(),
      strict: true,
      allowPositionals: false,
      tokens: true,
    }).tokens;
  } catch (error) {
    throw new ConfigError(commandLineErrorMessage(error));
  }
}

function applyOption(
  commandLine: CommandLine,
  option: CommandLineOption,
  rawName: string,
  value: string | undefined,
): void {
  const target = option.target;
  if (target.kind === "key") {
    setFromText(commandLine.layer, target.spec, value, rawName);
    return;
  }
  switch (target.name) {
    case "config":
      if (value === undefined || value === "") {
        throw new ConfigError(`Invalid option ${rawName}: expected a file path, got ""`);
      }
      commandLine.configPath = value;
      return;
    case "set":
      applySetting(commandLine.layer, value ?? "");
      return;
    case "help":
    case "version":
    case "check":
      commandLine.cli[target.name] = true;
      return;
    default: {
      const unhandled: never = target.name;
      assert(false, `every option is handled, not ${unhandled}`);
    }
  }
}

/** `--set section.key=value`: any key, value text converted as for the environment. */
function applySetting(layer: Map<string, ConfigValue>, setting: string): void {
  const equals = setting.indexOf("=");
  if (equals <= 0) {
    throw new ConfigError(
      `Invalid option --set ${JSON.stringify(setting)}: expected section.key=value, ` +
        "e.g. --set limits.max_key_bytes=2048",
    );
  }
  const path = setting.slice(0, equals).trim();
  const spec = KEY_BY_PATH.get(path);
  if (spec === undefined) throw new ConfigError(unknownKeyMessage(path, "--set"));
  setFromText(layer, spec, setting.slice(equals + 1), "--set");
}

/** A switch (no value) sets a boolean key to true. */
function setFromText(
  layer: Map<string, ConfigValue>,
  spec: KeySpec,
  text: string | undefined,
  source: string,
): void {
  const checked = text === undefined ? checkValue(spec, true) : checkText(spec, text);
  if (!checked.ok) throw new ConfigError(invalidValueMessage(spec, checked.problem, source));
  layer.set(spec.path, checked.value);
}

function readConfigFile(path: string, readTextFile: (path: string) => string): ConfigLayer {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    throw new ConfigError(`Cannot read config file "${path}": ${systemErrorReason(error)}`);
  }
  return readConfigTable(markFloats(parseConfigText(path, text)));
}

/**
 * Every TOML float wrapped as a TomlFloat, so that an integer key refuses `1e3` (see there).
 * Safe because every TOML integer is a bigint here; depth is bounded by the parser.
 */
function markFloats(value: unknown): unknown {
  if (typeof value === "number") return new TomlFloat(value);
  if (Array.isArray(value)) return value.map(markFloats);
  if (typeof value !== "object" || value === null || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, child]) => [name, markFloats(child)]),
  );
}

function parseConfigText(path: string, text: string): unknown {
  try {
    // Every integer becomes a bigint, so floats (numbers) can be told from integers, and
    // integers past 2^53 get a range error rather than a parse error.
    return parseToml(text, { integersAsBigInt: true });
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = firstLine(error.message).replace(/^Invalid TOML document: /, "");
    throw new ConfigError(
      `Cannot parse config file "${path}" at line ${error.line}, column ${error.column}: ${reason}`,
    );
  }
}

function readEnvironment(env: Record<string, string | undefined>): ConfigLayer {
  const layer = new Map<string, ConfigValue>();
  const names = Object.keys(env).filter(isEnvironmentName).sort();
  for (const name of names) {
    const text = env[name];
    if (text === undefined || IGNORED_ENVIRONMENT_NAMES.has(name)) continue;
    const spec = KEY_BY_ENVIRONMENT_NAME.get(name);
    if (spec === undefined) throw new ConfigError(unknownEnvironmentMessage(name));
    setFromText(layer, spec, text, name);
  }
  return layer;
}

function unknownEnvironmentMessage(name: string): string {
  const suggestion = nearestName(name, [...KEY_BY_ENVIRONMENT_NAME.keys()]);
  const hint = suggestion === null ? "" : ` (did you mean ${suggestion}?)`;
  return `Unknown environment variable ${name}: no config key has this name${hint}`;
}

/** "No such file or directory" from "No such file or directory (os error 2): readfile 'x'". */
function systemErrorReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message.replace(/ \(os error \d+\)[\s\S]*$/, "");
}

/** parseArgs errors, reworded: `Unknown option "--foo" (see --help)`. */
function commandLineErrorMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (!(error instanceof Error) || typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS")) {
    throw error;
  }
  // The quoted part is "--foo", "pos" or "-p, --port <value>"; the last word that is an
  // option name is the clearest one to show.
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? "";
  const name = quoted.match(/--?[A-Za-z0-9-]+/g)?.at(-1) ?? quoted;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return unknownOptionMessage(name);
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    return `Unexpected argument "${quoted}" (a config file goes after --config; see --help)`;
  }
  if (/does not take an argument/.test(error.message)) {
    return `Option "${name}" takes no value (see --help)`;
  }
  if (/ambiguous/.test(error.message)) {
    return `Option "${name}" needs a value; write ${name}=<value> for one starting with "-"`;
  }
  if (/argument missing/.test(error.message)) return `Option "${name}" needs a value (see --help)`;
  return `${firstLine(error.message).replace(/'([^']*)'/g, '"$1"')} (see --help)`;
}

/** `text` up to its first line end. */
function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end === -1 ? text : text.slice(0, end);
}

function unknownOptionMessage(name: string): string {
  const longNames = [...OPTION_BY_NAME.keys()].map((longName) => `--${longName}`);
  const suggestion = name.startsWith("--") ? nearestName(name, longNames) : null;
  const hint = suggestion === null ? "see --help" : `did you mean "${suggestion}"?`;
  return `Unknown option "${name}" (${hint})`;
}
