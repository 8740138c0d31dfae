/**
 * `merklekv import`: a JSON-lines export (json_lines.ts) into a running node, with progress on
 * stderr every second. Values that fit an MSET word go as MSET lines of up to
 * IMPORT_MSET_PAIRS pairs, others as SET; a key with an expiry as SET then EXPIRE. Lines go in
 * pipelined batches, IMPORT_BATCHES_IN_FLIGHT of them outstanding, so the connection never
 * waits for a reply before sending more (see docs/backup.md, Export and import). The node
 * stamps each write with a new version of its own. I/O edge.
 */

import { MerkleKVClient } from "../client/mod.ts";
import { ProgressMeter } from "../progress.ts";
import { INVALID_KEY_BYTE, valueProblem } from "../store/mod.ts";
import type { ToolOptions } from "./args.ts";
import { parseJsonLineWire, type WireEntry } from "./json_lines.ts";

/** Entries per pipelined batch: bounds the memory of a batch and its reply. */
const IMPORT_BATCH_ENTRIES = 2_000;
/** Batches sent and not yet answered: the pipeline stays full while one is checked. */
const IMPORT_BATCHES_IN_FLIGHT = 4;
/** Pairs in one MSET line at most (fewer if the node's limits.max_keys_per_command is lower). */
const IMPORT_MSET_PAIRS = 100;
/** Bytes of one MSET line at most (less if the node's limits.max_line_bytes is lower). */
const IMPORT_MSET_LINE_BYTES = 16 * 1024;

/** How long an MSET line may be on the node written to; pairs 0: SET lines only. */
interface MsetShape {
  readonly pairs: number;
  readonly lineBytes: number;
}

export interface ImportSummary {
  imported: number;
  /** Keys whose expiry had passed: not written. */
  expired: number;
  /** From the connection to the node to the last reply (file reading included). */
  elapsedMs: number;
}

/** A batch's request lines, and where in the file it starts (for error messages). */
interface Batch {
  lines: string[];
  firstLine: number;
  entries: number;
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

/** Imports the file; throws with the line number on a line that does not parse or is refused. */
export async function runImport(options: ToolOptions): Promise<ImportSummary> {
  if (options.file === null) throw new Error("import needs the file to read");
  const file = options.file;
  const totalBytes = (await Deno.stat(file)).size;
  const startedMs = performance.now();
  const client = await MerkleKVClient.connect({ host: options.host, port: options.port });
  const shape = await msetShape(client);
  const summary: ImportSummary = { imported: 0, expired: 0, elapsedMs: 0 };
  const progress = new ProgressMeter(() => performance.now());
  const inFlight: Promise<Error | null>[] = [];
  let bytesRead = 0;
  let lineNumber = 0;
  let acknowledged = 0;
  let builder = new BatchBuilder(1, shape);
  /** Sends the batch; once IMPORT_BATCHES_IN_FLIGHT wait, waits for the oldest. */
  const send = async (limit: number) => {
    if (builder.entries > 0) {
      const batch = builder.finish();
      inFlight.push(
        writeBatch(client, batch, file).then(() => {
          acknowledged += batch.entries;
          return null;
        }, (error: Error) => error),
      );
    }
    builder = new BatchBuilder(lineNumber + 1, shape);
    while (inFlight.length > limit) {
      const failed = await inFlight.shift();
      if (failed !== null && failed !== undefined) throw failed;
    }
    const fields = progress.report(acknowledged, bytesRead, totalBytes);
    if (fields !== null) console.error(JSON.stringify({ event: "import_progress", ...fields }));
  };
  try {
    for await (const line of fileLines(file)) {
      lineNumber++;
      bytesRead += line.length + 1;
      if (line.trim() === "") continue;
      const parsed = parseJsonLineWire(line);
      if (!parsed.ok) throw new Error(`${file} line ${lineNumber}: ${parsed.error}`);
      const refused = builder.add(parsed.entry, summary);
      if (refused !== null) throw new Error(`${file} line ${lineNumber}: ${refused}`);
      if (builder.entries >= IMPORT_BATCH_ENTRIES) await send(IMPORT_BATCHES_IN_FLIGHT - 1);
    }
    await send(0);
  } finally {
    // A failed batch leaves the others to settle before the connection closes.
    await Promise.all(inFlight);
    await client.close();
  }
  summary.elapsedMs = Math.round(performance.now() - startedMs);
  return summary;
}

/**
 * MSET lines within the node's limits, read with CONFIG GET (an admin command). A node that
 * refuses it gets SET lines only: any line it takes for one key, it takes for every key.
 */
async function msetShape(client: MerkleKVClient): Promise<MsetShape> {
  const [lineBytes, keys] = await client.pipeline([
    "CONFIG GET limits.max_line_bytes",
    "CONFIG GET limits.max_keys_per_command",
  ]);
  const valueOf = (reply: string[] | undefined) => {
    const text = reply?.[0] ?? "";
    return text.startsWith("VALUE ") ? Number(text.slice("VALUE ".length)) : NaN;
  };
  const [maxLineBytes, maxKeys] = [valueOf(lineBytes), valueOf(keys)];
  if (!Number.isSafeInteger(maxLineBytes) || !Number.isSafeInteger(maxKeys)) {
    return { pairs: 0, lineBytes: 0 };
  }
  return {
    pairs: Math.min(IMPORT_MSET_PAIRS, maxKeys),
    lineBytes: Math.min(IMPORT_MSET_LINE_BYTES, maxLineBytes - 2),
  };
}

/** Sends the batch's lines at once; the first reply that is not OK stops the import. */
async function writeBatch(client: MerkleKVClient, batch: Batch, file: string): Promise<void> {
  const replies = await client.pipeline(batch.lines);
  for (let index = 0; index < replies.length; index++) {
    const reply = replies[index]?.[0] ?? "";
    if (reply !== "OK") {
      const request = (batch.lines[index] ?? "").split(" ", 2).join(" ");
      throw new Error(
        `${file} lines ${batch.firstLine} and after: ${request} ... answered ${reply}`,
      );
    }
  }
}

/** Builds one batch's request lines from entries, in the file's order. */
class BatchBuilder {
  readonly #firstLine: number;
  readonly #shape: MsetShape;
  readonly #lines: string[] = [];
  #mset = "";
  #msetPairs = 0;
  entries = 0;

  constructor(firstLine: number, shape: MsetShape) {
    this.#firstLine = firstLine;
    this.#shape = shape;
  }

  /** Adds the entry's writes; why it cannot be sent, or null. */
  add(entry: WireEntry, summary: ImportSummary): string | null {
    const nowMs = Date.now();
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= nowMs) {
      summary.expired++;
      return null;
    }
    const { key, value } = entry;
    // Checked here, as a space would shift every pair after it in an MSET line.
    if (key.length === 0 || INVALID_KEY_BYTE.test(key)) {
      return "the key is empty or holds whitespace or control characters";
    }
    const problem = valueProblem(value, Number.MAX_SAFE_INTEGER);
    if (problem !== null) return problem;
    if (entry.expiresAtMs !== 0) {
      const seconds = Math.max(1, Math.ceil((entry.expiresAtMs - nowMs) / 1000));
      this.#push(`SET ${key} ${value}`, `EXPIRE ${key} ${seconds}`);
    } else if (value.length === 0 || value.includes(" ") || this.#shape.pairs === 0) {
      this.#push(`SET ${key} ${value}`);
    } else this.#addPair(key, value);
    this.entries++;
    summary.imported++;
    return null;
  }

  /** Lines after the MSET being built, so that writes keep the file's order. */
  #push(...lines: string[]): void {
    this.#endMset();
    this.#lines.push(...lines);
  }

  #addPair(key: string, value: string): void {
    const pair = ` ${key} ${value}`;
    const full = this.#msetPairs >= this.#shape.pairs ||
      "MSET".length + this.#mset.length + pair.length > this.#shape.lineBytes;
    if (full) this.#endMset();
    this.#mset += pair;
    this.#msetPairs++;
  }

  #endMset(): void {
    if (this.#msetPairs === 0) return;
    this.#lines.push(this.#msetPairs === 1 ? "SET" + this.#mset : "MSET" + this.#mset);
    this.#mset = "";
    this.#msetPairs = 0;
  }

  finish(): Batch {
    this.#endMset();
    return {
      lines: this.#lines,
      firstLine: this.#firstLine,
      entries: this.entries,
    };
  }
}
