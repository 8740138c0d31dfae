/**
 * `merklekv export` and `merklekv import` arguments (see docs/backup.md). Pure.
 */

import { DEFAULT_CONFIG } from "../config/mod.ts";

export interface ToolOptions {
  host: string;
  port: number;
  /** export: a snapshot or backup file to read instead of a node; import: the JSON-lines file. */
  file: string | null;
  /** export: where to write (default stdout). */
  out: string | null;
  help: boolean;
}

export const EXPORT_USAGE =
  `Usage: merklekv export [--file <snapshot>] [--host <host>] [--port <port>] [--out <file>]

Writes every live key as JSON lines (see docs/backup.md): from a snapshot or backup file
(--file; versions included), or else from a running node through SCAN and MGET.`;

export const IMPORT_USAGE = `Usage: merklekv import <file.jsonl> [--host <host>] [--port <port>]

Writes every line of an export into a running node with pipelined MSET and SET (new versions),
keeping expiries; progress on stderr every second.`;

const DEFAULT_HOST = "127.0.0.1";

/** The arguments after `export` or `import`; a positional argument is the file. */
export function parseToolArgs(args: readonly string[]): ToolOptions | { error: string } {
  const options: ToolOptions = {
    host: DEFAULT_HOST,
    port: DEFAULT_CONFIG.bindPort,
    file: null,
    out: null,
    help: false,
  };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? "";
    if (arg === "--help") {
      options.help = true;
      continue;
    }
    if (!arg.startsWith("-")) {
      if (options.file !== null) return { error: `unexpected argument "${arg}"` };
      options.file = arg;
      continue;
    }
    const value = args[++index];
    if (value === undefined) return { error: `${arg} needs a value` };
    if (arg === "--host" || arg === "-h") options.host = value;
    else if (arg === "--file") options.file = value;
    else if (arg === "--out") options.out = value;
    else if (arg === "--port" || arg === "-p") {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        return { error: `--port must be 1..65535, got "${value}"` };
      }
      options.port = port;
    } else return { error: `unknown option "${arg}"` };
  }
  return options;
}
