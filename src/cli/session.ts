/**
 * One command from the command line, or the prompt: a line in, its reply out, until quit or
 * the end of input. On a terminal the prompt edits lines and keeps a history (terminal.ts);
 * otherwise stdin's lines are read as they come, with no prompt drawn.
 */

import { type MerkleKVClient, toBinary } from "../client/mod.ts";
import type { CliOptions, OutputFormat } from "./args.ts";
import { formatReply, isErrorReply } from "./format.ts";
import { readLines } from "./input.ts";
import { LineEditor } from "./line_editor.ts";
import { writeBytes } from "./output.ts";
import { terminalLines } from "./terminal.ts";

export const EXIT_OK = 0;
/** An ERROR reply, or a node that cannot be reached. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Lines of history the prompt keeps (in memory only). */
export const MAX_HISTORY_LINES = 1_000;
/** The longest stdin line read; longer is refused rather than buffered. */
export const MAX_INPUT_LINE_BYTES = 64 * 1024 * 1024;

const QUIT_WORDS = new Set(["QUIT", "EXIT"]);

/** Runs the command given as words; exit status 1 if the reply is an ERROR. */
export async function runOnce(client: MerkleKVClient, options: CliOptions): Promise<number> {
  const line = toBinary(options.command.join(" "));
  // QUIT gets no reply, only a closed connection: there is nothing to print.
  if (line.trim().toUpperCase() === "QUIT") return EXIT_OK;
  const reply = await client.request(line);
  await writeBytes(formatReply(reply, options.format));
  return isErrorReply(reply) ? EXIT_FAILURE : EXIT_OK;
}

/** The prompt, until quit, exit, or the end of input. */
export async function runPrompt(client: MerkleKVClient, options: CliOptions): Promise<number> {
  if (Deno.stdin.isTerminal()) {
    const editor = new LineEditor(`${options.host}:${options.port}> `, MAX_HISTORY_LINES);
    // In raw mode the terminal does not turn LF into CR LF: replies end their lines with CRLF.
    for await (const line of terminalLines(editor)) {
      if (!await answer(client, toBinary(line), options.format, "\r\n")) break;
    }
  } else {
    for await (const line of readLines(Deno.stdin, MAX_INPUT_LINE_BYTES)) {
      if (!await answer(client, line, options.format, "\n")) break;
    }
  }
  return EXIT_OK;
}

/** Sends one line typed at the prompt and prints its reply; false when the user leaves. */
async function answer(
  client: MerkleKVClient,
  line: string,
  format: OutputFormat,
  newline: string,
): Promise<boolean> {
  const request = line.trimStart();
  if (request.trim() === "") return true;
  if (QUIT_WORDS.has(request.trim().toUpperCase())) return false;
  const reply = await client.request(request);
  await writeBytes(formatReply(reply, format, newline));
  return true;
}
