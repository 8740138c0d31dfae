/**
 * `merklekv cli`: connect to a node, then run one command, the prompt, or --pipe (see
 * docs/cli.md). Returns the exit status; main.ts exits with it.
 */

import { type ClientTls, MerkleKVClient, ServerError } from "../client/mod.ts";
import { CLI_USAGE, type CliOptions, parseCliArgs, PASSWORD_ENV } from "./args.ts";
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  MAX_INPUT_LINE_BYTES,
  runOnce,
  runPrompt,
} from "./session.ts";
import { readLines } from "./input.ts";
import { runPipe } from "./pipe.ts";
import { writeError, writeText } from "./output.ts";

const CONNECT_TIMEOUT_MS = 10_000;

/** Runs the CLI with the arguments after `cli`; resolves to the exit status. */
export async function runCli(args: readonly string[]): Promise<number> {
  const options = parseCliArgs(args);
  if ("error" in options) {
    await writeError(`merklekv cli: ${options.error}\n\n${CLI_USAGE}`);
    return EXIT_USAGE;
  }
  if (options.help) {
    await writeText(CLI_USAGE + "\n");
    return EXIT_OK;
  }
  options.password ??= passwordFromEnvironment();
  if (options.user !== null && options.password === null) {
    await writeError(
      `merklekv cli: --user ${options.user} needs a password: set ${PASSWORD_ENV} ` +
        `(under deno run: --allow-env=${PASSWORD_ENV}) or give --pass`,
    );
    return EXIT_USAGE;
  }
  const client = await connect(options);
  if (typeof client === "string") {
    await writeError(`merklekv cli: ${client}`);
    return EXIT_FAILURE;
  }
  try {
    return await run(client, options);
  } catch (error) {
    await writeError(`merklekv cli: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  } finally {
    await client.close();
  }
}

async function run(client: MerkleKVClient, options: CliOptions): Promise<number> {
  if (options.command.length > 0) return await runOnce(client, options);
  if (!options.pipe) return await runPrompt(client, options);
  const lines = readLines(Deno.stdin, MAX_INPUT_LINE_BYTES);
  const summary = await runPipe(client, lines, options.format);
  await writeError(`lines sent: ${summary.sent}, errors: ${summary.errors}`);
  return summary.errors > 0 ? EXIT_FAILURE : EXIT_OK;
}

/** MERKLEKV_PASSWORD, or null when unset, empty or not readable (no --allow-env). */
function passwordFromEnvironment(): string | null {
  const permission = Deno.permissions.querySync({ name: "env", variable: PASSWORD_ENV });
  if (permission.state !== "granted") return null;
  const password = Deno.env.get(PASSWORD_ENV);
  return password === undefined || password === "" ? null : password;
}

/** A connected (and authenticated) client, or why there is none, in words. */
async function connect(options: CliOptions): Promise<MerkleKVClient | string> {
  const { host, port, user, password } = options;
  const tls = tlsOptions(options);
  if (typeof tls === "string") return tls;
  try {
    return await MerkleKVClient.connect({
      host,
      port,
      timeoutMs: CONNECT_TIMEOUT_MS,
      ...(user === null ? {} : { username: user }),
      ...(password === null ? {} : { password }),
      ...(tls === null ? {} : { tls }),
    });
  } catch (error) {
    // The node's refusal of the AUTH (WRONGPASS ...); it never holds the password.
    if (error instanceof ServerError) {
      return `${host}:${port} refused AUTH as ${user ?? "default"}: ERROR ${error.message}`;
    }
    // The client keeps the socket's error (and its code) as the cause.
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    const code = (cause as { code?: unknown }).code;
    const why = code === "ECONNREFUSED"
      ? "connection refused (is a node running there?)"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "unknown host"
      : error instanceof Error
      ? error.message
      : String(error);
    return `cannot connect to ${host}:${port}: ${why}`;
  }
}

/** The client's TLS option from --tls, --cacert, --cert and --key, or why a file is unreadable. */
function tlsOptions(options: CliOptions): ClientTls | null | string {
  if (!options.tls) return null;
  const tls: ClientTls = {};
  const files = [["--cacert", options.caFile], ["--cert", options.certFile], [
    "--key",
    options.keyFile,
  ]] as const;
  for (const [flag, file] of files) {
    if (file === null) continue;
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      return `cannot read ${flag} ${file}: ${error instanceof Error ? error.message : error}`;
    }
    if (flag === "--cacert") tls.ca = text;
    else if (flag === "--cert") tls.cert = text;
    else tls.key = text;
  }
  return tls;
}
