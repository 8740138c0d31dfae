/**
 * `merklekv import`: a JSON-lines export (json_lines.ts) into a running node, with pipelined
 * SETs in bounded batches, EXPIRE for keys with an expiry, and progress on stderr every second.
 * The node stamps each SET with a new version of its own (see docs/backup.md). I/O edge.
 */

import { MerkleKVClient } from "../client/mod.ts";
import { ProgressMeter } from "../progress.ts";
import type { ToolOptions } from "./args.ts";
import { type ExportedEntry, parseJsonLine } from "./json_lines.ts";

/** Lines per pipelined batch: bounds memory and the requests in flight. */
const IMPORT_BATCH_LINES = 1000;

export interface ImportSummary {
  imported: number;
  /** Keys whose expiry had passed: not written. */
  expired: number;
}

/** Yields the file's lines (without LF), reading it in chunks. */
async function* fileLines(path: string): AsyncGenerator<string> {
  const file = await Deno.open(path, { read: true });
  let partial = "";
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    yield* lines;
  }
  if (partial !== "") yield partial;
}

/** Imports the file; throws with the line number on a line that does not parse. */
export async function runImport(options: ToolOptions): Promise<ImportSummary> {
  if (options.file === null) throw new Error("import needs the file to read");
  const totalBytes = (await Deno.stat(options.file)).size;
  const client = await MerkleKVClient.connect({ host: options.host, port: options.port });
  const summary: ImportSummary = { imported: 0, expired: 0 };
  const progress = new ProgressMeter(() => performance.now());
  let bytesRead = 0;
  let lineNumber = 0;
  let batch: ExportedEntry[] = [];
  try {
    for await (const line of fileLines(options.file)) {
      lineNumber++;
      bytesRead += line.length + 1;
      if (line.trim() === "") continue;
      const parsed = parseJsonLine(line);
      if (!parsed.ok) throw new Error(`${options.file} line ${lineNumber}: ${parsed.error}`);
      batch.push(parsed.entry);
      if (batch.length < IMPORT_BATCH_LINES) continue;
      await writeBatch(client, batch, summary);
      batch = [];
      const fields = progress.report(summary.imported, bytesRead, totalBytes);
      if (fields !== null) console.error(JSON.stringify({ event: "import_progress", ...fields }));
    }
    await writeBatch(client, batch, summary);
  } finally {
    await client.close();
  }
  return summary;
}

/** SET (and EXPIRE) for each entry, all pipelined; an ERROR reply stops the import. */
async function writeBatch(
  client: MerkleKVClient,
  batch: ExportedEntry[],
  summary: ImportSummary,
): Promise<void> {
  const nowMs = Date.now();
  const writes: Promise<unknown>[] = [];
  const decoder = new TextDecoder();
  for (const entry of batch) {
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= nowMs) {
      summary.expired++;
      continue;
    }
    const key = decoder.decode(entry.key);
    writes.push(client.set(key, entry.value));
    if (entry.expiresAtMs !== 0) {
      writes.push(client.expire(key, Math.max(1, Math.ceil((entry.expiresAtMs - nowMs) / 1000))));
    }
    summary.imported++;
  }
  await Promise.all(writes);
}
