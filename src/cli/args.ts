/**
 * `merklekv cli` arguments: options first, then the command to run once (see docs/cli.md).
 * Pure: turns the argument list into options or the message of a usage error.
 */

import { AUTH_WORD_RULE, DEFAULT_CONFIG } from "../config/mod.ts";

/** text: for reading (control bytes escaped); raw: the bytes as received; json: one value each. */
export type OutputFormat = "text" | "raw" | "json";

export interface CliOptions {
  host: string;
  port: number;
  /** --user: AUTH as this user (needs a password); null: the node's default user. */
  user: string | null;
  /** --pass (visible in ps; MERKLEKV_PASSWORD is read by cli.ts when this is null). */
  password: string | null;
  format: OutputFormat;
  /** --tls (or any of --cacert, --cert, --key): connect with TLS. */
  tls: boolean;
  /** --cacert, --cert, --key: PEM files (the CA that signs the node's certificate; ours). */
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  /** --pipe: stdin lines sent pipelined, in batches. */
  pipe: boolean;
  /** --help: print the usage and exit. */
  help: boolean;
  /** The command to run once, as words; empty for the prompt or --pipe. */
  command: string[];
}

export const DEFAULT_HOST = "127.0.0.1";
/** The environment variable holding the password (used when --pass is not given). */
export const PASSWORD_ENV = "MERKLEKV_PASSWORD";

export const CLI_USAGE = `Usage: merklekv cli [options] [command ...]

Runs one command and prints its reply, or without a command opens a prompt.

Options:
  -h, --host <host>   node to connect to (default ${DEFAULT_HOST})
  -p, --port <port>   its client port (default ${DEFAULT_CONFIG.bindPort})
  --user <name>       authenticate as this user (AUTH <name> <password>) before anything
                      else; without it, a password authenticates as the user default
  --pass <password>   the password; better set ${PASSWORD_ENV}=<password> in the
                      environment instead: --pass is visible to other users in ps
  --tls               connect with TLS (a node with tls.cert_file set); the node's
                      certificate must be signed by a CA the system trusts, or --cacert
  --cacert <file>     PEM file of the CA that signed the node's certificate (implies --tls)
  --cert <file>       PEM file of this client's certificate, for mutual TLS (implies --tls)
  --key <file>        PEM file of the private key of --cert
  --pipe              send every stdin line, pipelined in batches; print the replies
                      and a summary on stderr (lines sent, errors)
  --raw               print replies exactly as received (CRLF line ends, every byte)
  --json              print each reply as one JSON value: a string, an array of lines
                      for a multi-line reply, or {"error": "..."}
  --help              print this help

Exit status: 0, or 1 if a reply is an ERROR or the node cannot be reached, 2 on a usage error.
At the prompt, HELP lists the node's commands and quit (or exit) leaves.`;

/** Reads the arguments after `cli`; options stop at the first word that is not one, or `--`. */
export function parseCliArgs(args: readonly string[]): CliOptions | { error: string } {
  const options: CliOptions = {
    host: DEFAULT_HOST,
    port: DEFAULT_CONFIG.bindPort,
    user: null,
    password: null,
    tls: false,
    caFile: null,
    certFile: null,
    keyFile: null,
    format: "text",
    pipe: false,
    help: false,
    command: [],
  };
  let index = 0;
  while (index < args.length) {
    const arg = args[index] ?? "";
    if (arg === "--") {
      index++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    const taken = readOption(args, index, options);
    if (typeof taken === "string") return { error: taken };
    index += taken;
  }
  options.command = args.slice(index);
  return checkCombination(options);
}

/** Applies the option at args[index]; returns how many arguments it took, or an error. */
function readOption(args: readonly string[], index: number, options: CliOptions): number | string {
  const [name, inline] = splitInline(args[index] ?? "");
  switch (name) {
    case "--pipe":
    case "--help":
    case "--tls":
      if (inline !== null) return `option ${name} takes no value`;
      if (name === "--pipe") options.pipe = true;
      else if (name === "--tls") options.tls = true;
      else options.help = true;
      return 1;
    case "--cacert":
    case "--cert":
    case "--key": {
      const value = inline ?? args[index + 1];
      if (value === undefined || value === "") return `option ${name} needs a file`;
      options.tls = true;
      if (name === "--cacert") options.caFile = value;
      else if (name === "--cert") options.certFile = value;
      else options.keyFile = value;
      return inline === null ? 2 : 1;
    }
    case "--raw":
    case "--json":
      if (inline !== null) return `option ${name} takes no value`;
      if (options.format !== "text") return "choose one of --raw and --json";
      options.format = name === "--raw" ? "raw" : "json";
      return 1;
    case "-h":
    case "--host":
    case "-p":
    case "--port":
    case "--user":
    case "--pass": {
      const value = inline ?? args[index + 1];
      if (value === undefined || value === "") return `option ${name} needs a value`;
      if (name === "-h" || name === "--host") options.host = value;
      else if (name === "--user" || name === "--pass") {
        // The server's rule for AUTH words; the message never shows a password.
        if (!AUTH_WORD_RULE.test(value)) {
          return `option ${name}: must be ${AUTH_WORD_RULE.expected}`;
        }
        if (name === "--user") options.user = value;
        else options.password = value;
      } else {
        const port = parsePort(value);
        if (port === null) return `invalid port "${value}": must be an integer 1..65535`;
        options.port = port;
      }
      return inline === null ? 2 : 1;
    }
    default:
      return `unknown option "${name}"`;
  }
}

/** `--port=7878` -> ["--port", "7878"]; `--port` -> ["--port", null]. */
function splitInline(arg: string): [string, string | null] {
  const equals = arg.indexOf("=");
  return arg.startsWith("--") && equals !== -1
    ? [arg.slice(0, equals), arg.slice(equals + 1)]
    : [arg, null];
}

function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

function checkCombination(options: CliOptions): CliOptions | { error: string } {
  if ((options.certFile === null) !== (options.keyFile === null)) {
    return { error: "--cert and --key go together (a client certificate and its key)" };
  }
  if (options.pipe && options.command.length > 0) {
    return { error: "--pipe reads its commands from stdin: give no command as well" };
  }
  return options;
}
