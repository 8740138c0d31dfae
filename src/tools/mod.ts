/**
 * `merklekv export` and `merklekv import` (see docs/backup.md): a node's data to and from
 * portable JSON lines. I/O edges over src/client and the snapshot file reader.
 */

import { EXPORT_USAGE, IMPORT_USAGE, parseToolArgs } from "./args.ts";
import { runExport } from "./export.ts";
import { runImport } from "./import.ts";

export { formatJsonLine, parseJsonLine, parseJsonLineWire } from "./json_lines.ts";

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Runs `merklekv export|import <args>`; resolves to the exit status. */
export async function runTool(name: "export" | "import", args: readonly string[]): Promise<number> {
  const usage = name === "export" ? EXPORT_USAGE : IMPORT_USAGE;
  const options = parseToolArgs(args);
  if ("error" in options) {
    console.error(`merklekv ${name}: ${options.error}\n\n${usage}`);
    return EXIT_USAGE;
  }
  if (options.help) {
    console.log(usage);
    return EXIT_OK;
  }
  try {
    if (name === "export") {
      const lines = await runExport(options);
      console.error(JSON.stringify({ event: "export_done", keys: lines }));
    } else {
      const summary = await runImport(options);
      const { imported, expired, elapsedMs } = summary;
      console.error(
        JSON.stringify({ event: "import_done", imported, expired, elapsed_ms: elapsedMs }),
      );
    }
    return EXIT_OK;
  } catch (error) {
    console.error(`merklekv ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}
