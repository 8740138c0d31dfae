/**
 * `merklekv import`: a JSON-lines export (json_lines.ts) into a running node, with progress on
 * stderr every second. Values that fit an MSET word go as MSET lines of up to
 * IMPORT_MSET_PAIRS pairs, others as SET; a key with an expiry as SET then EXPIRE. Keys are
 * spread over IMPORT_CONNECTIONS connections by a hash of the key; on each, lines go in
 * pipelined batches, IMPORT_BATCHES_IN_FLIGHT of them outstanding, so no connection waits for a
 * reply before sending more (see docs/backup.md, Export and import). The node stamps each write
 * with a new version of its own. I/O edge.
 */

import { MerkleKVClient } from "../client/mod.ts";
import { ProgressMeter } from "../progress.ts";
import { INVALID_KEY_BYTE, valueProblem } from "../store/mod.ts";
import type { ToolOptions } from "./args.ts";
import { parseJsonLineWire, type WireEntry } from "./json_lines.ts";

/** Connections to the node; each key always goes on the same one, so its writes keep order. */
const IMPORT_CONNECTIONS = 4;
/** Entries per pipelined batch of one connection: bounds the memory of a batch and its reply. */
const IMPORT_BATCH_ENTRIES = 1_000;
/** Batches of one connection sent and not yet answered: its pipeline stays full meanwhile. */
const IMPORT_BATCHES_IN_FLIGHT = 4;
/** Pairs in one MSET line at most (fewer if the node's limits.max_keys_per_command is lower). */
const IMPORT_MSET_PAIRS = 100;
/** Bytes of one MSET line at most (less if the node's limits.max_line_bytes is lower). */
const IMPORT_MSET_LINE_BYTES = 16 * 1024;

/** Bytes read from the file at a time. */
const IMPORT_READ_BYTES = 1024 * 1024;

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

/** Yields the file's lines (without LF), those of one read of IMPORT_READ_BYTES at a time. */
async function* fileLines(path: string): AsyncGenerator<string[]> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(IMPORT_READ_BYTES);
  const decoder = new TextDecoder();
  let partial = "";
  for (;;) {
    const read = await file.read(buffer);
    if (read === null) break;
    const lines = (partial + decoder.decode(buffer.subarray(0, read), { stream: true }))
      .split("\n");
    partial = lines.pop() ?? "";
    yield lines;
  }
  partial += decoder.decode();
  if (partial !== "") yield [partial];
}

/** Imports the file; throws with the line number on a line that does not parse or is refused. */
export async function runImport(options: ToolOptions): Promise<ImportSummary> {
  if (options.file === null) throw new Error("import needs the file to read");
  const file = options.file;
  const totalBytes = (await Deno.stat(file)).size;
  const startedMs = performance.now();
  const clients: MerkleKVClient[] = [];
  try {
    for (let lane = 0; lane < IMPORT_CONNECTIONS; lane++) {
      clients.push(await MerkleKVClient.connect({ host: options.host, port: options.port }));
    }
    const shape = await msetShape(clients[0] as MerkleKVClient);
    const importer = new Importer(file, clients.map((client) => new Lane(client, shape, file)));
    const progress = new ProgressMeter(() => performance.now());
    let bytesRead = 0;
    let lineNumber = 0;
    for await (const lines of fileLines(file)) {
      for (const line of lines) {
        lineNumber++;
        bytesRead += line.length + 1;
        if (line.trim() === "") continue;
        // Most lines only join a batch: no await (and no turn of the event loop) for them.
        const full = importer.add(line, lineNumber);
        if (full !== null) await full;
      }
      const fields = progress.report(importer.acknowledged(), bytesRead, totalBytes);
      if (fields !== null) console.error(JSON.stringify({ event: "import_progress", ...fields }));
    }
    await importer.finish();
    const elapsedMs = Math.round(performance.now() - startedMs);
    return { imported: importer.imported, expired: importer.expired, elapsedMs };
  } finally {
    // A failed batch leaves the others to settle before the connections close.
    for (const client of clients) await client.close();
  }
}

/** Spreads the entries over the lanes by key, so that each key's writes keep their order. */
class Importer {
  readonly #file: string;
  readonly #lanes: Lane[];
  imported = 0;
  expired = 0;

  constructor(file: string, lanes: Lane[]) {
    this.#file = file;
    this.#lanes = lanes;
  }

  /**
   * One line of the file. When its lane's batch is full, the batch is sent and the promise
   * returned settles once that lane has fewer than IMPORT_BATCHES_IN_FLIGHT unanswered.
   */
  add(line: string, lineNumber: number): Promise<void> | null {
    const parsed = parseJsonLineWire(line);
    if (!parsed.ok) throw new Error(`${this.#file} line ${lineNumber}: ${parsed.error}`);
    const entry = parsed.entry;
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= Date.now()) {
      this.expired++;
      return null;
    }
    const lane = this.#lanes[keyHash(entry.key) % this.#lanes.length] as Lane;
    const refused = lane.add(entry, lineNumber);
    if (refused !== null) throw new Error(`${this.#file} line ${lineNumber}: ${refused}`);
    this.imported++;
    if (lane.batchEntries() < IMPORT_BATCH_ENTRIES) return null;
    return lane.send(IMPORT_BATCHES_IN_FLIGHT - 1);
  }

  acknowledged(): number {
    return this.#lanes.reduce((sum, lane) => sum + lane.acknowledged, 0);
  }

  /** Sends what is left and waits for every reply. */
  async finish(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.send(0)));
  }
}

/** One connection: the batch being built and the batches sent but not yet answered. */
class Lane {
  readonly #client: MerkleKVClient;
  readonly #shape: MsetShape;
  readonly #file: string;
  readonly #inFlight: Promise<Error | null>[] = [];
  #builder: BatchBuilder | null = null;
  acknowledged = 0;

  constructor(client: MerkleKVClient, shape: MsetShape, file: string) {
    this.#client = client;
    this.#shape = shape;
    this.#file = file;
  }

  add(entry: WireEntry, lineNumber: number): string | null {
    this.#builder ??= new BatchBuilder(lineNumber, this.#shape);
    return this.#builder.add(entry);
  }

  batchEntries(): number {
    return this.#builder?.entries ?? 0;
  }

  /** Sends the batch being built; then waits until at most `limit` batches are unanswered. */
  async send(limit: number): Promise<void> {
    const builder = this.#builder;
    this.#builder = null;
    if (builder !== null) {
      const batch = builder.finish();
      this.#inFlight.push(
        writeBatch(this.#client, batch, this.#file).then(() => {
          this.acknowledged += batch.entries;
          return null;
        }, (error: Error) => error),
      );
    }
    while (this.#inFlight.length > limit) {
      const failed = await this.#inFlight.shift();
      if (failed !== null && failed !== undefined) throw failed;
    }
  }
}

/** FNV-1a over the key's code units: which lane a key goes to. */
function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
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
  add(entry: WireEntry): string | null {
    const { key, value } = entry;
    // Checked here, as a space would shift every pair after it in an MSET line.
    if (key.length === 0 || INVALID_KEY_BYTE.test(key)) {
      return "the key is empty or holds whitespace or control characters";
    }
    const problem = valueProblem(value, Number.MAX_SAFE_INTEGER);
    if (problem !== null) return problem;
    if (entry.expiresAtMs !== 0) {
      const seconds = Math.max(1, Math.ceil((entry.expiresAtMs - Date.now()) / 1000));
      this.#push(`SET ${key} ${value}`, `EXPIRE ${key} ${seconds}`);
    } else if (value.length === 0 || value.includes(" ") || this.#shape.pairs === 0) {
      this.#push(`SET ${key} ${value}`);
    } else this.#addPair(key, value);
    this.entries++;
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
