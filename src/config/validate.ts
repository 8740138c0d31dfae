/**
 * Checks config values against KEY_SCHEMA and merges sources into a Config. Pure: the
 * loader reads files and the environment; this only sees values.
 */

import { DEFAULT_CONFIG, defaultMaxLineBytes } from "./defaults.ts";
import {
  type ConfigValue,
  CROSS_KEY_RULES,
  KEY_BY_PATH,
  KEY_SCHEMA,
  type KeySpec,
  SECTION_NAMES,
  sectionOf,
  writeField,
} from "./schema.ts";
import { nearestName } from "./suggest.ts";
import type { Config } from "./types.ts";
import { assert } from "../assert.ts";

/** Bad configuration from the outside world; the message is one line, fit for the user. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * A float from a TOML file (`1e3`, `1000.0`, `inf`), which the loader keeps apart from TOML
 * integers. No key takes a float, and an integer key refuses one even when it is whole: TOML
 * tells the two apart, and a float past 2^53 (`1e20`) is not even the integer it reads as
 * (see docs/configuration.md).
 */
export class TomlFloat {
  constructor(readonly value: number) {}
}

/** Checked values from one source (file, environment, flags), by TOML path. */
export type ConfigLayer = ReadonlyMap<string, ConfigValue>;

/** The outcome of checking one value: the value to use, or what is wrong with it. */
export type CheckedValue = { ok: true; value: ConfigValue } | { ok: false; problem: string };

/**
 * Validates a parsed config file and returns the effective config (file over defaults).
 * node_id is required, since a file describes one node of a cluster.
 */
export function validateConfig(table: unknown): Config {
  return buildConfig([readConfigTable(table)], { requireNodeId: true });
}

/** Checks every key of a parsed TOML document; unknown keys and sections are errors. */
export function readConfigTable(table: unknown): ConfigLayer {
  if (!isTable(table)) {
    throw new ConfigError(`Invalid config: expected a table of keys, got ${describeValue(table)}`);
  }
  const layer = new Map<string, ConfigValue>();
  for (const [name, value] of Object.entries(table)) {
    if (SECTION_NAMES.includes(name)) readSection(name, value, layer);
    else readKey(name, value, layer);
  }
  return layer;
}

/**
 * Merges layers over the defaults, later layers winning, then checks rules between keys.
 * With `requireNodeId`, some layer must set node_id (the default is for standalone runs).
 * Unless some layer sets limits.max_line_bytes, it follows the key and value limits.
 */
export function buildConfig(
  layers: readonly ConfigLayer[],
  options: { requireNodeId: boolean },
): Config {
  const config: Config = structuredClone(DEFAULT_CONFIG);
  for (const layer of layers) {
    for (const [path, value] of layer) writeField(config, specOf(path), value);
  }
  const isSet = (path: string) => layers.some((layer) => layer.has(path));
  if (!isSet("limits.max_line_bytes")) {
    config.limits.maxLineBytes = defaultMaxLineBytes(config.limits);
  }
  if (options.requireNodeId && !isSet("node_id")) {
    throw new ConfigError("Missing config node_id: required in a config file");
  }
  for (const rule of CROSS_KEY_RULES) {
    const problem = rule.problem(config);
    if (problem !== null) throw new ConfigError(`Invalid config ${rule.path}: ${problem}`);
  }
  return config;
}

/** Checks a value of any origin (TOML or converted text) against its key's spec. */
export function checkValue(spec: KeySpec, value: unknown): CheckedValue {
  if (spec.nullable && (value === null || value === "")) return { ok: true, value: null };
  switch (spec.type) {
    case "integer":
      return checkInteger(spec, value);
    case "string":
      if (typeof value !== "string") return expected("a string", spec, value);
      return checkString(spec, value);
    case "boolean":
      if (typeof value !== "boolean") return expected("true or false", spec, value);
      return { ok: true, value };
    case "enum":
      if (typeof value !== "string" || !spec.choices.includes(value)) {
        return expected(`one of ${spec.choices.join(", ")}`, spec, value);
      }
      return { ok: true, value };
    case "string-array":
      return checkStringArray(spec, value);
    default: {
      const unhandled: never = spec;
      assert(false, `every key spec type is handled, not ${JSON.stringify(unhandled)}`);
    }
  }
}

/**
 * Converts environment or flag text by the key's type, then checks it: integers are whole
 * decimal numbers, booleans true/false/1/0, lists comma-separated; "" unsets nullable keys.
 */
export function checkText(spec: KeySpec, text: string): CheckedValue {
  if (spec.nullable && text === "") return { ok: true, value: null };
  switch (spec.type) {
    case "integer":
      if (!/^-?[0-9]+$/.test(text)) return expected("an integer", spec, text);
      return checkValue(spec, Number(text));
    case "boolean":
      if (!["true", "false", "1", "0"].includes(text)) {
        return expected("true, false, 1 or 0", spec, text);
      }
      return checkValue(spec, text === "true" || text === "1");
    case "string-array":
      return checkValue(spec, text === "" ? [] : text.split(",").map((entry) => entry.trim()));
    case "string":
    case "enum":
      return checkValue(spec, text);
    default: {
      const unhandled: never = spec;
      assert(false, `every key spec type is handled, not ${JSON.stringify(unhandled)}`);
    }
  }
}

/** `Invalid config bind_port (from --port): expected an integer, got "abc"`. */
export function invalidValueMessage(spec: KeySpec, problem: string, source?: string): string {
  const origin = source === undefined ? "" : ` (from ${source})`;
  return `Invalid config ${spec.path}${origin}: ${problem}`;
}

/** `Unknown config key "bind_prot" (did you mean "bind_port"?)`. */
export function unknownKeyMessage(path: string, source?: string): string {
  const origin = source === undefined ? "" : ` in ${source}`;
  const suggestion = suggestKey(path);
  const hint = suggestion === null ? "" : ` (did you mean "${suggestion}"?)`;
  return `Unknown config key "${path}"${origin}${hint}`;
}

/** A value as shown in an error: strings quoted, long ones cut, tables and dates named. */
export function describeValue(value: unknown): string {
  const shown = describeWhole(value);
  return shown.length <= 80 ? shown : `${shown.slice(0, 77)}...`;
}

function readSection(name: string, value: unknown, layer: Map<string, ConfigValue>): void {
  if (!isTable(value)) {
    throw new ConfigError(
      `Invalid config ${name}: expected a table [${name}], got ${describeValue(value)}`,
    );
  }
  for (const [key, keyValue] of Object.entries(value)) {
    readKey(`${name}.${key}`, keyValue, layer);
  }
}

function readKey(path: string, value: unknown, layer: Map<string, ConfigValue>): void {
  const spec = KEY_BY_PATH.get(path);
  if (spec === undefined) {
    const isSection = sectionOf(path) === null && isTable(value);
    throw new ConfigError(isSection ? unknownSectionMessage(path) : unknownKeyMessage(path));
  }
  const checked = checkValue(spec, value);
  if (!checked.ok) throw new ConfigError(invalidValueMessage(spec, checked.problem));
  layer.set(path, checked.value);
}

function unknownSectionMessage(name: string): string {
  const suggestion = nearestName(name, SECTION_NAMES);
  const hint = suggestion === null
    ? `(sections: ${SECTION_NAMES.join(", ")})`
    : `(did you mean [${suggestion}]?)`;
  return `Unknown config section [${name}] ${hint}`;
}

/** A near spelling of the path, else the same key name in another section. */
function suggestKey(path: string): string | null {
  const paths = KEY_SCHEMA.map((spec) => spec.path);
  const nearest = nearestName(path, paths);
  if (nearest !== null) return nearest;
  const name = path.slice(path.lastIndexOf(".") + 1);
  return paths.find((candidate) => candidate.endsWith(`.${name}`) || candidate === name) ?? null;
}

function specOf(path: string): KeySpec {
  const spec = KEY_BY_PATH.get(path);
  assert(spec !== undefined, `a layer holds only schema keys, not "${path}"`);
  return spec;
}

/**
 * The one rule for every integer key, whatever the source: TOML integers arrive as bigints,
 * environment and flag text as numbers (whole decimals only), tables built in code as numbers.
 */
function checkInteger(spec: KeySpec & { type: "integer" }, value: unknown): CheckedValue {
  if (value instanceof TomlFloat) return { ok: false, problem: floatProblem(value.value) };
  if (typeof value === "number" && !Number.isInteger(value)) {
    return { ok: false, problem: `must be an integer, got ${value}` };
  }
  if (typeof value !== "bigint" && typeof value !== "number") {
    return expected("an integer", spec, value);
  }
  if (value < spec.min) return { ok: false, problem: `must be >= ${spec.min}, got ${value}` };
  if (value > spec.max) return { ok: false, problem: `must be <= ${spec.max}, got ${value}` };
  return { ok: true, value: Number(value) };
}

/** `must be an integer, got the float 1000 (write 1000 without a decimal point or exponent)`. */
function floatProblem(value: number): string {
  if (!Number.isSafeInteger(value)) return `must be an integer, got ${value}`;
  return `must be an integer, got the float ${value} ` +
    `(write ${value} without a decimal point or exponent)`;
}

function checkString(spec: KeySpec & { type: "string" }, value: string): CheckedValue {
  if (spec.rule.test(value)) return { ok: true, value };
  return { ok: false, problem: `must be ${spec.rule.expected}, got ${shownValue(spec, value)}` };
}

function checkStringArray(
  spec: KeySpec & { type: "string-array" },
  value: unknown,
): CheckedValue {
  if (!Array.isArray(value) || !value.every((entry) => typeof entry === "string")) {
    return expected("an array of strings", spec, value);
  }
  if (value.length > spec.maxEntries) {
    return {
      ok: false,
      problem: `must have at most ${spec.maxEntries} entries, got ${value.length}`,
    };
  }
  const badIndex = value.findIndex((entry) => !spec.rule.test(entry));
  if (badIndex !== -1) {
    return {
      ok: false,
      problem: `entry ${badIndex + 1} must be ${spec.rule.expected}, got ` +
        describeValue(value[badIndex]),
    };
  }
  return { ok: true, value: [...value] };
}

function expected(what: string, spec: KeySpec, value: unknown): CheckedValue {
  return { ok: false, problem: `expected ${what}, got ${shownValue(spec, value)}` };
}

/** Secrets are never echoed back, not even when they have the wrong type. */
function shownValue(spec: KeySpec, value: unknown): string {
  return spec.secret === true ? "***" : describeValue(value);
}

function describeWhole(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(describeWhole).join(", ")}]`;
  if (value instanceof Date) return `a date (${String(value)})`;
  if (value instanceof TomlFloat) return String(value.value);
  if (isTable(value)) return "a table";
  return String(value);
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Date) && !(value instanceof TomlFloat);
}
