/**
 * Live configuration (see docs/operations.md, Live configuration): which keys a running node
 * takes from a re-read file or `CONFIG SET`, and how a running value is shown by `CONFIG GET`.
 * Pure: the node reads the file (through loadConfig) and applies what changed.
 */

import {
  CROSS_KEY_RULES,
  KEY_BY_PATH,
  KEY_SCHEMA,
  type KeySpec,
  readField,
  writeField,
} from "./schema.ts";
import type { Config } from "./types.ts";
import { defaultMaxLineBytes } from "./defaults.ts";
import { checkText, ConfigError, invalidValueMessage, unknownKeyMessage } from "./validate.ts";

export interface ReloadOutcome {
  /** Reloadable keys whose value changed, now in place. */
  readonly applied: readonly string[];
  /** Keys that are not reloadable whose value changed: they keep their running value. */
  readonly ignored: readonly string[];
}

/**
 * Copies every reloadable key of `loaded` (a whole, validated config) into `running`, in place,
 * so that parts holding `running` read the new values. Keys that are not reloadable keep their
 * running value and are named in `ignored`.
 */
export function applyReloadable(running: Config, loaded: Config): ReloadOutcome {
  const merged: Config = structuredClone(running);
  const applied: string[] = [];
  const ignored: string[] = [];
  for (const spec of KEY_SCHEMA) {
    const next = readField(loaded, spec);
    if (sameValue(readField(running, spec), next)) continue;
    if (!spec.reloadable) {
      ignored.push(spec.path);
      continue;
    }
    writeField(merged, spec, structuredClone(next));
    applied.push(spec.path);
  }
  // The kept values and the new ones must still agree (e.g. limits.max_line_bytes).
  checkCrossKeyRules(merged);
  for (const path of applied) {
    const spec = KEY_BY_PATH.get(path) as KeySpec;
    writeField(running, spec, readField(merged, spec));
  }
  return { applied, ignored };
}

/**
 * `CONFIG SET`: checks the text like the file's value, then sets the key in place. A line cap
 * that follows the key and value limits (as when the file does not set it) keeps following.
 */
export function setConfigValue(running: Config, path: string, text: string): void {
  const spec = KEY_BY_PATH.get(path);
  if (spec === undefined) throw new ConfigError(unknownKeyMessage(path));
  if (!spec.reloadable) {
    throw new ConfigError(`Cannot set config ${path}: not reloadable (restart the node)`);
  }
  const checked = checkText(spec, text);
  if (!checked.ok) throw new ConfigError(invalidValueMessage(spec, checked.problem));
  const merged: Config = structuredClone(running);
  writeField(merged, spec, checked.value);
  const following = running.limits.maxLineBytes === defaultMaxLineBytes(running.limits);
  if (following && spec.path !== "limits.max_line_bytes") {
    merged.limits.maxLineBytes = defaultMaxLineBytes(merged.limits);
  }
  checkCrossKeyRules(merged);
  writeField(running, spec, checked.value);
  running.limits.maxLineBytes = merged.limits.maxLineBytes;
}

/** `CONFIG GET`: the running value as text (lists comma-separated, unset empty, secrets ***). */
export function configValueText(running: Config, path: string): string {
  const spec = KEY_BY_PATH.get(path);
  if (spec === undefined) throw new ConfigError(unknownKeyMessage(path));
  const value = readField(running, spec);
  if (value === null) return "";
  if (spec.secret === true) return "***";
  return Array.isArray(value) ? value.join(",") : String(value);
}

function checkCrossKeyRules(config: Config): void {
  for (const rule of CROSS_KEY_RULES) {
    const problem = rule.problem(config);
    if (problem !== null) throw new ConfigError(`Invalid config ${rule.path}: ${problem}`);
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((entry, index) => entry === b[index]);
  }
  return a === b;
}
