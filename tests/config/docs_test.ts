import assert from "node:assert/strict";
import { configReferenceMarkdown } from "../../src/config/mod.ts";

const README = new URL("../../README.md", import.meta.url);
const CONFIGURATION = new URL("../../docs/configuration.md", import.meta.url);

/** A table row's cells, trimmed, so that column padding does not matter. */
function cells(row: string): string {
  return row.split("|").map((cell) => cell.trim()).join("|");
}

Deno.test("docs/configuration.md lists every config key exactly as the schema renders it", async () => {
  const documentedRows = new Set((await Deno.readTextFile(CONFIGURATION)).split("\n").map(cells));
  const schemaRows = configReferenceMarkdown().split("\n").filter((line) => line.startsWith("| `"));
  assert.ok(schemaRows.length > 30);
  for (const row of schemaRows) {
    const key = row.slice(3, row.indexOf("`", 3));
    assert.ok(
      documentedRows.has(cells(row)),
      `docs/configuration.md is missing or has an outdated row for ${key}`,
    );
  }
});

Deno.test("README opens with the command that starts a node and the one that runs every test", async () => {
  const opening = (await Deno.readTextFile(README)).split("\n").slice(0, 15).join("\n");
  assert.match(opening, /npx deno task start/);
  assert.match(opening, /npm test/);
});
