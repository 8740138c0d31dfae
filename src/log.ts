/**
 * Structured logging: one JSON object per line on stderr, with time, level and event name.
 * The writer is passed in, so tests can capture lines and the core stays free of I/O.
 */

import type { LogLevel } from "./config/mod.ts";

export type LogFields = Record<string, string | number | boolean | null | undefined>;

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class Logger {
  #minimumRank: number;
  readonly #write: (line: string) => void;
  readonly #context: LogFields;

  constructor(level: LogLevel, write: (line: string) => void, context: LogFields = {}) {
    this.#minimumRank = LEVEL_RANK[level];
    this.#write = write;
    this.#context = context;
  }

  /** log_level changed on a running node (see docs/operations.md, Live configuration). */
  setLevel(level: LogLevel): void {
    this.#minimumRank = LEVEL_RANK[level];
  }

  debug(event: string, fields?: LogFields): void {
    this.#log("debug", event, fields);
  }
  info(event: string, fields?: LogFields): void {
    this.#log("info", event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    this.#log("warn", event, fields);
  }
  error(event: string, fields?: LogFields): void {
    this.#log("error", event, fields);
  }

  #log(level: LogLevel, event: string, fields: LogFields | undefined): void {
    if (LEVEL_RANK[level] < this.#minimumRank) return;
    const record = { ts: new Date().toISOString(), level, event, ...this.#context, ...fields };
    this.#write(JSON.stringify(record) + "\n");
  }
}

const encoder = new TextEncoder();

/** The process logger: stderr, written synchronously so that no line is lost at exit. */
export function stderrLogger(level: LogLevel, context: LogFields = {}): Logger {
  return new Logger(level, (line) => Deno.stderr.writeSync(encoder.encode(line)), context);
}

/** A logger that drops everything (for tools and tests that do not care). */
export const silentLogger = new Logger("error", () => {}, {});
