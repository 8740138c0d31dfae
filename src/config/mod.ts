/**
 * Configuration: schema, defaults, validation and loading (see docs/configuration.md).
 *
 * ```ts
 * const { config, cli } = loadConfig({
 *   argv: Deno.args,
 *   env: Deno.env.toObject(),
 *   readTextFile: Deno.readTextFileSync,
 * });
 * ```
 */

export type {
  AntiEntropyConfig,
  AuthConfig,
  Config,
  ConflictsConfig,
  ConflictsMode,
  FsyncPolicy,
  HttpConfig,
  LimitsConfig,
  LogLevel,
  PersistenceConfig,
  ReplicationConfig,
  TlsConfig,
} from "./types.ts";
export { DEFAULT_CONFIG } from "./defaults.ts";
export { type ConfigValue, KEY_SCHEMA, type KeySpec } from "./schema.ts";
export { ConfigError, validateConfig } from "./validate.ts";
export {
  type CommandLineSwitches,
  loadConfig,
  type LoadConfigOptions,
  type LoadedConfig,
} from "./load.ts";
export { configReferenceMarkdown, formatEffectiveConfig, HELP_TEXT } from "./format.ts";
export { AUTH_WORD_RULE } from "./security_keys.ts";
export { applyReloadable, configValueText, type ReloadOutcome, setConfigValue } from "./reload.ts";
