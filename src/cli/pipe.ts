/**
 * `merklekv cli --pipe`: every stdin line is a request, sent pipelined in batches so that a
 * bulk load neither waits a round trip per line nor holds more than one batch in memory.
 */

import type { MerkleKVClient } from "../client/mod.ts";
import type { OutputFormat } from "./args.ts";
import { formatReply, isErrorReply } from "./format.ts";
import { writeBytes } from "./output.ts";

/** A batch is sent when it holds this many lines... */
export const PIPE_BATCH_LINES = 1_000;
/** ...or this many bytes of requests, whichever comes first. */
export const PIPE_BATCH_BYTES = 1024 * 1024;

export interface PipeSummary {
  /** Request lines sent (blank lines are skipped). */
  sent: number;
  /** Replies that were ERROR. */
  errors: number;
}

/** QUIT would close the connection with no reply: the pipe stops there instead. */
function isQuit(line: string): boolean {
  return line.trim().toUpperCase() === "QUIT";
}

export async function runPipe(
  client: MerkleKVClient,
  lines: AsyncIterable<string>,
  format: OutputFormat,
): Promise<PipeSummary> {
  const summary: PipeSummary = { sent: 0, errors: 0 };
  let batch: string[] = [];
  let batchBytes = 0;
  const send = async () => {
    const replies = await client.pipeline(batch);
    let output = "";
    for (const reply of replies) {
      if (isErrorReply(reply)) summary.errors++;
      output += formatReply(reply, format);
    }
    await writeBytes(output);
    summary.sent += batch.length;
    batch = [];
    batchBytes = 0;
  };
  for await (const line of lines) {
    if (line.trim() === "") continue;
    if (isQuit(line)) break;
    batch.push(line);
    batchBytes += line.length + 2;
    if (batch.length >= PIPE_BATCH_LINES || batchBytes >= PIPE_BATCH_BYTES) await send();
  }
  if (batch.length > 0) await send();
  return summary;
}
