/**
 * Repairs a MerkleKV log segment that is damaged before its tail (the node refuses to start
 * and names the file): keeps every valid record, drops the damaged bytes, keeps the original
 * as `<file>.before-repair`. Stop the node first.
 *
 *   deno run --allow-read --allow-write scripts/repair_log.ts <data_dir>/log.0000000003
 */

import { repairLogFile } from "../src/persistence/repair.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

if (import.meta.main) {
  const file = Deno.args[0];
  if (file === undefined || Deno.args.length !== 1) {
    console.error("usage: deno run --allow-read --allow-write scripts/repair_log.ts <log file>");
    Deno.exit(EXIT_USAGE);
  }
  try {
    const summary = repairLogFile(file);
    for (const [start, end] of summary.dropped) {
      console.log(`dropped bytes ${start}..${end} (${end - start} bytes)`);
    }
    console.log(
      `kept ${summary.keptRecords} records (${summary.keptEntries} entries); ` +
        `original saved as ${summary.backupPath}`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(EXIT_FAILURE);
  }
}
