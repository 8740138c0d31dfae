import assert from "node:assert/strict";
import { commandHelp, helpReply } from "../../src/protocol/mod.ts";

const DOC = new URL("../../docs/cli.md", import.meta.url);

Deno.test("docs/cli.md shows the HELP reply exactly as the command table answers it", async () => {
  const text = await Deno.readTextFile(DOC);
  const start = text.indexOf("```text\nHELP ");
  assert.ok(start !== -1, "docs/cli.md has no HELP block");
  const block = text.slice(start + "```text\n".length, text.indexOf("```", start + 3));
  assert.equal(block, helpReply(commandHelp(null)).replaceAll("\r\n", "\n"));
});
