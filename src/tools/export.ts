/**
 * `merklekv export`: live keys to JSON lines (json_lines.ts), from a snapshot or backup file or
 * from a running node (SCAN, MGET, TTL). Tombstones and expired keys are left out. I/O edge.
 */

import { MerkleKVClient } from "../client/mod.ts";
import { readSnapshotFile } from "../persistence/mod.ts";
import { encodeLatin1 } from "../store/mod.ts";
import type { ToolOptions } from "./args.ts";
import { type ExportedEntry, formatJsonLine } from "./json_lines.ts";

/** Keys per MGET and per pipelined batch of TTLs when exporting from a node. */
const EXPORT_BATCH_KEYS = 500;

/** Collects lines and writes them in large writes. */
class LineSink {
  readonly #file: Deno.FsFile | null;
  #pending: string[] = [];
  lines = 0;

  constructor(file: Deno.FsFile | null) {
    this.#file = file;
  }

  add(entry: ExportedEntry): void {
    this.#pending.push(formatJsonLine(entry) + "\n");
    this.lines++;
  }

  async flush(): Promise<void> {
    const bytes = new TextEncoder().encode(this.#pending.join(""));
    this.#pending = [];
    let written = 0;
    while (written < bytes.length) {
      const target = this.#file ?? Deno.stdout;
      written += await target.write(bytes.subarray(written));
    }
  }
}

/** Writes the export; resolves to the number of keys written. */
export async function runExport(options: ToolOptions): Promise<number> {
  const file = options.out === null ? null : await Deno.open(options.out, {
    write: true,
    create: true,
    truncate: true,
  });
  const sink = new LineSink(file);
  try {
    if (options.file !== null) await exportFile(options.file, sink);
    else await exportNode(options, sink);
    await sink.flush();
    return sink.lines;
  } finally {
    file?.close();
  }
}

async function exportFile(path: string, sink: LineSink): Promise<void> {
  const nowMs = Date.now();
  const read = readSnapshotFile(path, (entries) => {
    for (const entry of entries) {
      if (entry.value === null) continue;
      if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= nowMs) continue;
      sink.add({
        key: encodeLatin1(entry.key),
        value: encodeLatin1(entry.value),
        hlc: entry.hlc,
        node: entry.node,
        expiresAtMs: entry.expiresAtMs,
      });
    }
  });
  if (!read.ok) throw new Error(`cannot read ${path}: ${read.error} at offset ${read.offset}`);
  await sink.flush();
}

async function exportNode(options: ToolOptions, sink: LineSink): Promise<void> {
  const client = await MerkleKVClient.connect({ host: options.host, port: options.port });
  try {
    let batch: string[] = [];
    for await (const key of client.scan()) {
      batch.push(key);
      if (batch.length === EXPORT_BATCH_KEYS) {
        await exportKeys(client, batch, sink);
        batch = [];
      }
    }
    await exportKeys(client, batch, sink);
  } finally {
    await client.close();
  }
}

async function exportKeys(client: MerkleKVClient, keys: string[], sink: LineSink): Promise<void> {
  if (keys.length === 0) return;
  const nowMs = Date.now();
  const [values, ttls] = await Promise.all([
    client.mgetBytes(keys),
    Promise.all(keys.map((key) => client.ttl(key))),
  ]);
  const encoder = new TextEncoder();
  keys.forEach((key, index) => {
    const value = values.get(key);
    const ttl = ttls[index];
    if (value === null || value === undefined || ttl === null || ttl === undefined) return;
    sink.add({
      key: encoder.encode(key),
      value,
      hlc: null,
      node: null,
      expiresAtMs: ttl === Infinity ? 0 : nowMs + ttl * 1000,
    });
  });
  await sink.flush();
}
