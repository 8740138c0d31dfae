/**
 * `merklekv cli`, a client for people and scripts: one command, a prompt with history, or
 * --pipe for bulk loads (see docs/cli.md). An I/O edge over src/client.
 */

export { runCli } from "./cli.ts";
export { CLI_USAGE, type CliOptions, type OutputFormat, parseCliArgs } from "./args.ts";
