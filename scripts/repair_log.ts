/**
 * Repairs a MerkleKV log segment the node refuses to start with (it names the file): damage
 * before the tail, or an intact record holding an entry this build refuses. Keeps every valid
 * record and every entry that decodes, drops only the damaged bytes and the refused entries
 * (each printed with its key), and keeps the original as `<file>.before-repair`. Stop the
 * node first.
 *
 *   npx deno run --allow-read --allow-write scripts/repair_log.ts <data_dir>/log.0000000003
 */

import { repairLogFile } from "../src/persistence/repair.ts";

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

if (import.meta.main) {
  const file = Deno.args[0];
  if (file === undefined || Deno.args.length !== 1) {
    console.error(
      "usage: npx deno run --allow-read --allow-write scripts/repair_log.ts <log file>",
    );
    Deno.exit(EXIT_USAGE);
  }
  try {
    const summary = repairLogFile(file);
    for (const [start, end] of summary.dropped) {
      console.log(`dropped bytes ${start}..${end} (${end - start} bytes)`);
    }
    for (const refused of summary.refused) console.log(`dropped ${refused}`);
    console.log(
      `kept ${summary.keptRecords} records (${summary.keptEntries} entries); ` +
        `original saved as ${summary.backupPath}`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(EXIT_FAILURE);
  }
}
