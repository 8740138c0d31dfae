/** Text renderings of the schema: --help, --check output and the table in docs/configuration.md. */

import { DEFAULT_CONFIG } from "./defaults.ts";
import { COMMAND_LINE_OPTIONS, type CommandLineOption } from "./flags.ts";
import {
  type ConfigValue,
  environmentName,
  KEY_SCHEMA,
  type KeySpec,
  readField,
  SECTION_NAMES,
  sectionOf,
} from "./schema.ts";
import type { Config } from "./types.ts";
import { assert } from "../assert.ts";

export const HELP_TEXT: string = [
  "Usage: merklekv [--config node.toml] [options]",
  "",
  "Runs one MerkleKV node: a key-value store replicated over MQTT and repaired by",
  "Merkle-tree anti-entropy between peers.",
  "",
  "Options:",
  ...COMMAND_LINE_OPTIONS.flatMap(helpLines),
  "",
  "Environment:",
  "  MERKLEKV_<KEY> sets a top-level key and MERKLEKV_<SECTION>_<KEY> a key in a section,",
  "  e.g. MERKLEKV_BIND_PORT=7879, MERKLEKV_ANTI_ENTROPY_INTERVAL_MS=0. Integers are whole",
  "  decimal numbers, booleans true/false/1/0, lists comma-separated; an empty value unsets",
  "  a key that may be unset. Any other MERKLEKV_ variable is an error.",
  "",
  "Precedence: flags > environment > config file > defaults; among flags the last wins.",
  `Config file sections: ${SECTION_NAMES.map((name) => `[${name}]`).join(", ")}.`,
  "Every key is listed in docs/configuration.md.",
  "",
].join("\n");

/** The effective config as TOML, for --check; secrets print as "***", unset keys as comments. */
export function formatEffectiveConfig(config: Config): string {
  const lines = ["# MerkleKV effective configuration (flags > environment > file > defaults)"];
  let currentSection: string | null = null;
  for (const spec of KEY_SCHEMA) {
    const section = sectionOf(spec.path);
    if (section !== currentSection && section !== null) lines.push("", `[${section}]`);
    currentSection = section;
    lines.push(effectiveLine(spec, readField(config, spec)));
  }
  return lines.join("\n") + "\n";
}

/**
 * The table of every key in docs/configuration.md: key, type, default, environment, whether
 * a running node reloads it, meaning.
 */
export function configReferenceMarkdown(): string {
  const header = [
    "| Key | Type | Default | Environment variable | Live | Meaning |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const rows = KEY_SCHEMA.map((spec) =>
    "| " + [
      `\`${spec.path}\``,
      typeSummary(spec),
      defaultSummary(spec),
      `\`${environmentName(spec)}\``,
      spec.reloadable ? "yes" : "no",
      spec.description,
    ].map(escapeTableCell).join(" | ") + " |"
  );
  return [...header, ...rows].join("\n") + "\n";
}

/** A TOML literal; strings use JSON escapes, which are valid TOML except for DEL. */
export function tomlValue(value: Exclude<ConfigValue, null>): string {
  if (typeof value === "string") return JSON.stringify(value).replaceAll("\x7f", "\\u007f");
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  return String(value);
}

function effectiveLine(spec: KeySpec, value: ConfigValue): string {
  const key = spec.path.slice(spec.path.indexOf(".") + 1);
  if (value === null) return `# ${key} is unset`;
  return `${key} = ${spec.secret === true ? '"***"' : tomlValue(value)}`;
}

function helpLines(option: CommandLineOption): string[] {
  const short = option.shortName === undefined ? "    " : `-${option.shortName}, `;
  const long = option.names.map((name) => `--${name}`).join(", ");
  const value = option.placeholder === null ? "" : ` ${option.placeholder}`;
  return [`  ${short}${long}${value}`, `        ${option.description}`];
}

function typeSummary(spec: KeySpec): string {
  const unset = spec.nullable ? ", or unset" : "";
  switch (spec.type) {
    case "integer":
      return `integer ${spec.min}..${spec.max}`;
    case "boolean":
      return "boolean";
    case "enum":
      return `one of ${spec.choices.map((choice) => `\`${choice}\``).join(", ")}`;
    case "string":
      return `string: ${spec.rule.expected}${unset}`;
    case "string-array":
      return `list of ${spec.rule.expected} (at most ${spec.maxEntries})`;
    default: {
      const unhandled: never = spec;
      assert(false, `every key spec type is handled, not ${JSON.stringify(unhandled)}`);
    }
  }
}

function defaultSummary(spec: KeySpec): string {
  const value = readField(DEFAULT_CONFIG, spec);
  if (value === null) return "unset";
  const quantity = typeof value === "number" ? readableQuantity(spec.path, value) : "";
  return `\`${tomlValue(value)}\`${quantity}`;
}

/** " (64 MiB)" for byte sizes and " (24 h)" for durations that divide evenly. */
function readableQuantity(path: string, value: number): string {
  const units: ReadonlyArray<readonly [string, number]> = path.endsWith("_bytes")
    ? [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]]
    : path.endsWith("_ms")
    ? [["h", 3_600_000], ["min", 60_000], ["s", 1_000]]
    : [];
  const unit = units.find(([, size]) => value >= size && value % size === 0);
  return unit === undefined ? "" : ` (${value / unit[1]} ${unit[0]})`;
}

function escapeTableCell(text: string): string {
  return text.replaceAll("|", "\\|");
}
