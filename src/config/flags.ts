/**
 * The command line: options that steer the program (--config, --help, ...) plus one option
 * per key that has `flags` in KEY_SCHEMA, and --set for every key. Used by the loader
 * (parsing) and by the help text.
 */

import { KEY_SCHEMA, type KeySpec } from "./schema.ts";
import { assert } from "../assert.ts";

export type ControlOptionName = "config" | "help" | "version" | "check" | "set";

export interface CommandLineOption {
  /** Long names without "--"; the first is the main one. */
  readonly names: readonly string[];
  readonly shortName?: string;
  /** "<path>" for an option that takes a value; null for a switch. */
  readonly placeholder: string | null;
  readonly multiple: boolean;
  readonly description: string;
  /** What the option does: a control option, or setting a config key. */
  readonly target: { kind: "control"; name: ControlOptionName } | { kind: "key"; spec: KeySpec };
}

const CONTROL_OPTIONS: readonly CommandLineOption[] = [
  control("config", "c", "<path>", "Read this TOML config file (it must then set node_id)"),
  control("help", "h", null, "Print this help and exit"),
  control("version", "V", null, "Print the version and exit"),
  control("check", undefined, null, "Check the configuration, print it as TOML and exit"),
  {
    ...control(
      "set",
      undefined,
      "<section.key=value>",
      "Set any config key, e.g. --set limits.max_key_bytes=2048 (repeatable)",
    ),
    multiple: true,
  },
];

export const COMMAND_LINE_OPTIONS: readonly CommandLineOption[] = [
  ...CONTROL_OPTIONS,
  ...KEY_SCHEMA.filter((spec) => spec.flags !== undefined).map(keyOption),
];

/** Long option name (without "--") to its option, aliases included. */
export const OPTION_BY_NAME: ReadonlyMap<string, CommandLineOption> = new Map(
  COMMAND_LINE_OPTIONS.flatMap((option) => option.names.map((name) => [name, option])),
);

/** The `options` argument of node:util parseArgs; the short name goes on the last alias. */
export function parseArgsOptions(): Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
> {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const option of COMMAND_LINE_OPTIONS) {
    option.names.forEach((name, index) => {
      options[name] = {
        type: option.placeholder === null ? "boolean" : "string",
        ...(option.shortName !== undefined && index === option.names.length - 1
          ? { short: option.shortName }
          : {}),
        ...(option.multiple ? { multiple: true } : {}),
      };
    });
  }
  return options;
}

function control(
  name: ControlOptionName,
  shortName: string | undefined,
  placeholder: string | null,
  description: string,
): CommandLineOption {
  return {
    names: [name],
    ...(shortName === undefined ? {} : { shortName }),
    placeholder,
    multiple: false,
    description,
    target: { kind: "control", name },
  };
}

function keyOption(spec: KeySpec): CommandLineOption {
  return {
    names: spec.flags ?? [],
    ...(spec.shortFlag === undefined ? {} : { shortName: spec.shortFlag }),
    placeholder: keyPlaceholder(spec),
    multiple: false,
    description: spec.description,
    target: { kind: "key", spec },
  };
}

function keyPlaceholder(spec: KeySpec): string | null {
  switch (spec.type) {
    case "integer":
      return "<integer>";
    case "boolean":
      return null;
    case "string":
      return spec.rule.placeholder;
    case "string-array":
      return `${spec.rule.placeholder.slice(0, -1)},...>`;
    case "enum":
      return `<${spec.choices.join("|")}>`;
    default: {
      const unhandled: never = spec;
      assert(false, `every key spec type is handled, not ${JSON.stringify(unhandled)}`);
    }
  }
}
