/**
 * Live configuration (see docs/operations.md, Live configuration): SIGHUP and CONFIG RELOAD
 * re-read the config file, CONFIG SET changes one key, CONFIG GET shows a running value. The
 * node's one Config object is changed in place, so parts that read `config.limits.x` at use see
 * the new value; parts that copied a value at start register an applier with onChange().
 */

import {
  applyReloadable,
  type Config,
  ConfigError,
  configValueText,
  setConfigValue,
} from "../config/mod.ts";
import { type ConfigCommand, errorReply, type InfoField } from "../protocol/mod.ts";
import type { Logger } from "../log.ts";

/** Where a reload reads the config from: the --config file, under environment and flags. */
export interface ConfigSource {
  /** The file given with --config; null: the node was started without one. */
  readonly path: string | null;
  /** The whole config again (file < environment < flags); throws ConfigError. */
  readonly load: () => Config;
}

export const NO_CONFIG_FILE: ConfigSource = {
  path: null,
  load: () => {
    throw new ConfigError(NO_FILE_MESSAGE);
  },
};

const NO_FILE_MESSAGE = "Cannot reload config: the node was started without --config (no file)";

/** What started a reload, for the log. */
export type ReloadOrigin = "SIGHUP" | "CONFIG RELOAD";

export class LiveConfig {
  readonly #config: Config;
  readonly #source: ConfigSource;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #appliers: (() => void)[] = [];
  readonly #checks: ((candidate: Config) => () => void)[] = [];
  /** Re-reads auth.users_file, all or nothing (ACL LOAD); the error, or null. */
  #reloadUsers: () => Promise<string | null> = () => Promise.resolve(null);
  #reloads = 0;
  #failures = 0;
  #lastReloadMs = 0;

  constructor(config: Config, source: ConfigSource, log: Logger, nowMs: () => number) {
    this.#config = config;
    this.#source = source;
    this.#log = log;
    this.#nowMs = nowMs;
  }

  /** Runs after every change, to copy new values into a part that holds its own. */
  onChange(apply: () => void): void {
    this.#appliers.push(apply);
  }

  /**
   * Runs before every change on the config it would make: throws a ConfigError to refuse it
   * (nothing changes), else returns what to do once it applied (before the appliers run).
   * The tls.* files are read this way, at every reload and CONFIG SET.
   */
  checkWith(check: (candidate: Config) => () => void): void {
    this.#checks.push(check);
  }

  /** A reload also re-reads the users file, when there is one. */
  reloadUsersWith(reload: () => Promise<string | null>): void {
    this.#reloadUsers = reload;
  }

  /**
   * Re-reads the file: all of it applies, or nothing (the error, also logged). Keys that are
   * not reloadable keep their running value and are named in one warning.
   */
  async reload(origin: ReloadOrigin): Promise<string | null> {
    try {
      if (this.#source.path === null) throw new ConfigError(NO_FILE_MESSAGE);
      const loaded = this.#source.load();
      // A dry run first: the users file is read only for a config that will apply.
      const candidate = structuredClone(this.#config);
      applyReloadable(candidate, loaded);
      const commits = this.#checks.map((check) => check(candidate));
      if (this.#config.auth.usersFile !== null) {
        const usersError = await this.#reloadUsers();
        if (usersError !== null) throw new ConfigError(`Cannot reload users: ${usersError}`);
      }
      const { applied, ignored } = applyReloadable(this.#config, loaded);
      for (const commit of commits) commit();
      this.#changed();
      this.#reloads++;
      this.#lastReloadMs = this.#nowMs();
      if (ignored.length > 0) {
        this.#log.warn("config_not_reloadable", {
          keys: ignored.join(","),
          message: `changed in the file but not reloadable, kept until a restart: ` +
            ignored.join(", "),
        });
      }
      this.#log.info("config_reloaded", {
        origin,
        file: this.#source.path,
        changed: applied.join(","),
      });
      return null;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.#failures++;
      this.#log.error("config_reload_failed", { origin, message: error.message });
      return error.message;
    }
  }

  /** CONFIG GET, SET and RELOAD: the reply line. */
  answer(command: ConfigCommand): string | Promise<string> {
    try {
      switch (command.kind) {
        case "config_get":
          return `VALUE ${configValueText(this.#config, command.key)}\r\n`;
        case "config_set":
          this.#set(command.key, command.value);
          this.#log.info("config_set", { key: command.key });
          return "OK\r\n";
        case "config_reload":
          return this.reload("CONFIG RELOAD").then((error) =>
            error === null ? "OK\r\n" : errorReply(error)
          );
      }
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return errorReply(error.message);
    }
  }

  infoFields(): InfoField[] {
    return [
      ["config_file", this.#source.path ?? ""],
      ["config_reloads", this.#reloads],
      ["config_reload_failures", this.#failures],
      ["config_last_reload", this.#lastReloadMs],
    ];
  }

  #set(key: string, value: string): void {
    const candidate = structuredClone(this.#config);
    setConfigValue(candidate, key, value);
    const commits = this.#checks.map((check) => check(candidate));
    setConfigValue(this.#config, key, value);
    for (const commit of commits) commit();
    this.#changed();
  }

  #changed(): void {
    for (const apply of this.#appliers) apply();
  }
}
