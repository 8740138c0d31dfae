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

const ROOT = new URL("../../", import.meta.url);
/** Pages written on other branches, linked before they land here (checked once they do). */
const PENDING_PAGES = new Set(["docs/running.md", "docs/cli.md", "docs/client.md"]);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[`*~]/g, "").replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[^\p{L}\p{N}_\- ]/gu, "").replaceAll(" ", "-");
}

/** The lines outside fenced code blocks; without inline code too unless `keepInlineCode`. */
function prose(markdown: string, keepInlineCode = false): string {
  let inFence = false;
  return markdown.split("\n").map((line) => {
    if (line.startsWith("```")) {
      inFence = !inFence;
      return "";
    }
    if (inFence) return "";
    return keepInlineCode ? line : line.replace(/`[^`]*`/g, "");
  }).join("\n");
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown, true).split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (heading === null) continue;
    const anchor = anchorOf(heading[1] ?? "");
    const count = seen.get(anchor) ?? 0;
    anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
    seen.set(anchor, count + 1);
  }
  return anchors;
}

async function markdownPages(): Promise<string[]> {
  const pages = ["README.md", "CHANGELOG.md", "bench/HISTORY.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) pages.push(`docs/${entry.name}`);
  }
  return pages;
}

/** Every local link of one page that names a missing file or heading. */
async function brokenLinks(page: string): Promise<string[]> {
  const pageUrl = new URL(page, ROOT);
  const broken: string[] = [];
  for (
    const match of prose(await Deno.readTextFile(pageUrl)).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)
  ) {
    const link = match[1] ?? "";
    if (/^(https?|mailto):/.test(link)) continue;
    const [path = "", anchor = ""] = link.split("#");
    const target = path === "" ? pageUrl : new URL(path, pageUrl);
    const relative = target.pathname.slice(ROOT.pathname.length);
    const stat = await Deno.stat(target).catch(() => null);
    if (stat === null && PENDING_PAGES.has(relative)) continue;
    if (stat === null) broken.push(`${page}: ${link} (no such file)`);
    else if (anchor !== "" && relative.endsWith(".md")) {
      if (!anchorsOf(await Deno.readTextFile(target)).has(anchor)) {
        broken.push(`${page}: ${link} (no such heading)`);
      }
    }
  }
  return broken;
}

Deno.test("every local link in README, CHANGELOG, docs/ and bench/HISTORY.md names a file and heading that exist", async () => {
  const broken: string[] = [];
  for (const page of await markdownPages()) broken.push(...await brokenLinks(page));
  assert.deepEqual(broken, []);
});
