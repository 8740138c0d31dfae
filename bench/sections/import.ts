/**
 * Import: `merklekv import` of an export file with 1,000,000 keys (quick: 100,000) into a
 * running node, against the node's bulk write speed measured the same way the memory section
 * loads a node (the load client's preload: MSET batches, several connections pipelined), the
 * same keys and value size, in the same run, alternating round by round, each on a fresh node
 * with a data directory (fsync everysec). Each side is timed by its own tool, without its process
 * start: the import from its connection to the last reply (its `elapsed_ms`; reading and parsing
 * the file included), the bulk load from its first write to its last reply.
 *
 *   deno task bench --only import [--quick]
 */

import type { BenchOptions, BenchSection } from "./section.ts";
import { runLoad } from "../load/load.ts";
import { BenchNode } from "../harness/node_server.ts";
import { CLIENT_CPU, median, pinned, round2, stopChild, track } from "../harness/processes.ts";
import { formatJsonLine } from "../../src/tools/mod.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const KEY_BYTES = 16;
const VALUE_BYTES = 100;
/** As the memory section loads a node: 4 connections, MSET of 100 keys, 8 in flight each. */
const BULK_LOAD = { conns: 4, preloadBatch: 100, preloadDepth: 8 };
/** Import must go at least at the bulk write speed (see docs/backup.md, Export and import). */
const RATIO_TARGET = 1.0;
const IMPORT_TIMEOUT_MS = 600_000;

function timing(quick: boolean) {
  return quick ? { rounds: 3, keys: 100_000 } : { rounds: 3, keys: 1_000_000 };
}

export const COLUMNS = [
  "measure",
  "import keys/s",
  "bulk write keys/s",
  "ratio",
  "target",
  "result",
  "notes",
];

export async function run(options: BenchOptions): Promise<BenchSection> {
  const settings = timing(options.quick);
  const directory = await Deno.makeTempDir({ prefix: "merklekv-bench-import-" });
  const file = `${directory}/export.jsonl`;
  try {
    console.error(`import: writing an export file of ${settings.keys} keys`);
    const fileBytes = await writeExportFile(file, settings.keys);
    const imports: number[] = [];
    const bulk: number[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      // Alternated, so that neither side always runs on a machine just warmed by the other.
      const importFirst = round % 2 === 1;
      if (importFirst) imports.push(await timeImport(file, settings.keys));
      bulk.push(await timeBulkLoad(settings.keys, round));
      if (!importFirst) imports.push(await timeImport(file, settings.keys));
      console.error(`import: round ${round}: import ${imports.at(-1)} s, bulk ${bulk.at(-1)} s`);
    }
    const importRate = settings.keys / median(imports);
    const bulkRate = settings.keys / median(bulk);
    const ratio = round2(importRate / bulkRate);
    const result = ratio >= RATIO_TARGET ? "pass" : "miss";
    const label = `import ${settings.keys.toLocaleString("en-US")} keys`;
    // Each round's own ratio too: on a shared machine one side of a round may be disturbed.
    const roundRatios = imports.map((seconds, index) => round2((bulk[index] ?? 0) / seconds));
    const notes = `rounds ${roundRatios.join(", ")}; import s ${imports.join(", ")}; ` +
      `bulk s ${bulk.join(", ")}; file ${Math.round(fileBytes / 1e6)} MB`;
    return {
      name: "import",
      columns: COLUMNS,
      rows: [
        [
          label,
          Math.round(importRate),
          Math.round(bulkRate),
          ratio.toFixed(2),
          `>= ${RATIO_TARGET}x`,
          result,
          notes,
        ],
      ],
      results: {
        timing: settings,
        ratio,
        roundRatios,
        result,
        importKeysPerSecond: Math.round(importRate),
        bulkKeysPerSecond: Math.round(bulkRate),
        importSeconds: imports,
        bulkSeconds: bulk,
        fileBytes,
      },
    };
  } finally {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
  }
}

/** Keys `import:<n>` padded to KEY_BYTES, values of VALUE_BYTES, no expiry, in JSON lines. */
async function writeExportFile(path: string, keys: number): Promise<number> {
  const encoder = new TextEncoder();
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    const chunkLines = 10_000;
    for (let first = 0; first < keys; first += chunkLines) {
      let text = "";
      for (let n = first; n < Math.min(keys, first + chunkLines); n++) {
        const key = `import:${String(n).padStart(KEY_BYTES - 7, "0")}`;
        const value = `v${n}:`.padEnd(VALUE_BYTES, "x");
        text += formatJsonLine({
          key: encoder.encode(key),
          value: encoder.encode(value),
          hlc: null,
          node: null,
          expiresAtMs: 0,
        }) + "\n";
      }
      const chunk = encoder.encode(text);
      bytes += chunk.length;
      await writeAll(file, chunk);
    }
  } finally {
    file.close();
  }
  return bytes;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

/** A node with a data directory, fsync everysec (the default), for one measurement. */
async function withNode<T>(use: (node: BenchNode) => Promise<T>): Promise<T> {
  const dataDir = await Deno.makeTempDir({ prefix: "merklekv-bench-import-data-" });
  let node: BenchNode | null = null;
  try {
    node = await BenchNode.start({ topLevel: [`data_dir = "${dataDir}"`] });
    return await use(node);
  } finally {
    await node?.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** Seconds of `merklekv import` (its import_done elapsed_ms); the node must then hold `keys`. */
function timeImport(file: string, keys: number): Promise<number> {
  return withNode(async (node) => {
    const [program, args] = pinned(CLIENT_CPU, Deno.execPath(), [
      "run",
      "--allow-all",
      MAIN,
      "import",
      file,
      "--port",
      String(node.port),
    ]);
    const child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    const untrack = track("merklekv import", child);
    const killer = setTimeout(() => stopChild(child, "SIGKILL"), IMPORT_TIMEOUT_MS);
    try {
      const output = await child.output();
      const stderr = new TextDecoder().decode(output.stderr);
      if (!output.success) throw new Error(`merklekv import exited ${output.code}: ${stderr}`);
      const elapsedMs = Number(stderr.match(/"event":"import_done".*"elapsed_ms":(\d+)/)?.[1]);
      if (!Number.isFinite(elapsedMs)) throw new Error(`merklekv import printed no import_done`);
      const seconds = round2(elapsedMs / 1000);
      if (!stderr.includes('"event":"import_progress"') && seconds > 2) {
        throw new Error(`merklekv import ran ${seconds} s without a progress line`);
      }
      await expectKeys(node, keys);
      return seconds;
    } finally {
      clearTimeout(killer);
      untrack();
    }
  });
}

/** Seconds of the load client's bulk load of `keys` keys (MSET batches, pipelined). */
function timeBulkLoad(keys: number, seed: number): Promise<number> {
  return withNode(async (node) => {
    const result = await runLoad({
      ...BULK_LOAD,
      port: node.port,
      proto: "merklekv",
      serverPid: node.pid,
      keys,
      keyBytes: KEY_BYTES,
      valueBytes: VALUE_BYTES,
      seed,
      preloadOnly: true,
    });
    if (!result.ok || result.preloadSeconds === null) {
      throw new Error(`bulk load failed: ${result.failures.join(", ")}\n${result.stderr ?? ""}`);
    }
    await expectKeys(node, keys);
    return round2(result.preloadSeconds);
  });
}

async function expectKeys(node: BenchNode, keys: number): Promise<void> {
  const reply = await node.command("DBSIZE");
  const count = reply.kind === "status" ? Number(reply.text.replace(/^DBSIZE /, "")) : NaN;
  if (count !== keys) throw new Error(`the node holds ${count} keys, expected ${keys}`);
}
