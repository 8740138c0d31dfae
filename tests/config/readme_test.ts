import assert from "node:assert/strict";
import { configReferenceMarkdown } from "../../src/config/mod.ts";

const README = new URL("../../README.md", import.meta.url);

/** A table row's cells, trimmed, so that column padding does not matter. */
function cells(row: string): string {
  return row.split("|").map((cell) => cell.trim()).join("|");
}

Deno.test("README lists every config key exactly as the schema renders it", async () => {
  const readmeRows = new Set((await Deno.readTextFile(README)).split("\n").map(cells));
  const schemaRows = configReferenceMarkdown().split("\n").filter((line) => line.startsWith("| `"));
  assert.ok(schemaRows.length > 30);
  for (const row of schemaRows) {
    const key = row.slice(3, row.indexOf("`", 3));
    assert.ok(readmeRows.has(cells(row)), `README is missing or has an outdated row for ${key}`);
  }
});

Deno.test("README opens with the command that starts a node and the one that runs every test", async () => {
  const opening = (await Deno.readTextFile(README)).split("\n").slice(0, 15).join("\n");
  assert.match(opening, /npx deno task start/);
  assert.match(opening, /npm test/);
});
