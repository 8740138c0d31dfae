/**
 * The house's rules, read from the source itself so that they cannot drift from it (see
 * docs/development.md, and STYLE.md). Each test names the files that break a rule.
 *
 * - The pure core (src/store/, src/protocol/ and every codec) does no I/O: no `Deno.*`, no
 *   timers, no console, no clock, no I/O module.
 * - Only the MQTT transport imports `mqtt`.
 * - Arrows run down the floors: nothing in src/ outside src/node/ imports src/node/.
 * - Every folder of src/ is entered from outside only through its mod.ts.
 * - No function in src/ is longer than 70 lines, no file longer than 600.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(new URL("..", import.meta.url).pathname);
const SRC = path.join(ROOT, "src");

const MAX_FUNCTION_LINES = 70;
const MAX_FILE_LINES = 600;

/** Files of the pure core, relative to src/. */
function isPure(file: string): boolean {
  return file.startsWith("store/") || file.startsWith("protocol/") || file.endsWith("codec.ts");
}

/** Globals the pure core may not touch, and why. */
const IMPURE_GLOBALS: Record<string, string> = {
  Deno: "the runtime",
  console: "output",
  setTimeout: "a timer",
  setInterval: "a timer",
  setImmediate: "a timer",
  clearTimeout: "a timer",
  clearInterval: "a timer",
  queueMicrotask: "scheduling",
  fetch: "the network",
  performance: "the clock",
};

/** Modules the pure core may not import. */
const IO_MODULE =
  /^(node:(fs|net|tls|dgram|child_process|http|https|os|process|timers|worker_threads)|mqtt)/;

interface SourceFile {
  /** Relative to the repository root, with forward slashes. */
  name: string;
  text: string;
  ast: ts.SourceFile;
}

function listSources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory) files.push(...listSources(full));
    else if (entry.name.endsWith(".ts")) files.push(full);
  }
  return files.sort();
}

function read(full: string): SourceFile {
  const text = Deno.readTextFileSync(full);
  const ast = ts.createSourceFile(full, text, ts.ScriptTarget.Latest, true);
  return { name: path.relative(ROOT, full), text, ast };
}

const PRODUCT = [...listSources(SRC), path.join(ROOT, "main.ts")].map(read);

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  ts.forEachChild(node, (child) => walk(child, visit));
}

function lineOf(file: SourceFile, position: number): number {
  return file.ast.getLineAndCharacterOfPosition(position).line + 1;
}

/** Every module a file imports or re-exports from, static or dynamic. */
function importsOf(file: SourceFile): { specifier: string; line: number }[] {
  const found: { specifier: string; line: number }[] = [];
  walk(file.ast, (node) => {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      specifier = node.moduleSpecifier;
    } else if (
      ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword
    ) {
      specifier = node.arguments[0];
    }
    if (specifier !== undefined && ts.isStringLiteral(specifier)) {
      found.push({ specifier: specifier.text, line: lineOf(file, node.getStart()) });
    }
  });
  return found;
}

/** The src-relative path an import resolves to, or null for a package or built-in. */
function resolveInSrc(file: SourceFile, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const target = path.resolve(ROOT, path.dirname(file.name), specifier);
  return target.startsWith(SRC + path.sep) ? path.relative(SRC, target) : null;
}

/** `folder/` of a src-relative path, or "" for a file directly in src/. */
function folderOf(srcRelative: string): string {
  const slash = srcRelative.indexOf("/");
  return slash === -1 ? "" : srcRelative.slice(0, slash + 1);
}

function srcRelative(file: SourceFile): string | null {
  return file.name.startsWith("src/") ? file.name.slice("src/".length) : null;
}

Deno.test("the pure core (store, protocol, codecs) uses no I/O, timer, clock or runtime", () => {
  const broken: string[] = [];
  for (const file of PRODUCT) {
    const relative = srcRelative(file);
    if (relative === null || !isPure(relative)) continue;
    for (const { specifier, line } of importsOf(file)) {
      if (IO_MODULE.test(specifier)) broken.push(`${file.name}:${line} imports ${specifier}`);
    }
    walk(file.ast, (node) => {
      if (!ts.isIdentifier(node) || !(node.text in IMPURE_GLOBALS)) return;
      const parent = node.parent;
      // A property or member that happens to share the name is not the global.
      if (ts.isPropertyAccessExpression(parent) && parent.name === node) return;
      if (ts.isPropertyAssignment(parent) || ts.isMethodDeclaration(parent)) return;
      const line = lineOf(file, node.getStart());
      broken.push(`${file.name}:${line} uses ${node.text} (${IMPURE_GLOBALS[node.text]})`);
    });
    walk(file.ast, (node) => {
      if (
        ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) &&
        node.expression.text === "Date" && node.name.text === "now"
      ) {
        broken.push(`${file.name}:${lineOf(file, node.getStart())} reads the clock (Date.now)`);
      }
    });
  }
  assert.deepEqual(broken, []);
});

Deno.test("only the MQTT transport imports mqtt", () => {
  const importers = PRODUCT.filter((file) =>
    importsOf(file).some(({ specifier }) =>
      specifier === "mqtt" || specifier.startsWith("npm:mqtt")
    )
  ).map((file) => file.name);
  assert.deepEqual(importers, ["src/replication/transport.ts"]);
});

Deno.test("nothing in src/ outside src/node/ imports src/node/", () => {
  const broken: string[] = [];
  for (const file of PRODUCT) {
    const relative = srcRelative(file);
    if (relative === null || relative.startsWith("node/")) continue;
    for (const { specifier, line } of importsOf(file)) {
      const target = resolveInSrc(file, specifier);
      if (target?.startsWith("node/")) broken.push(`${file.name}:${line} imports ${specifier}`);
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("every folder of src/ is entered from outside only through its mod.ts", () => {
  const folders = [...new Set(PRODUCT.map((file) => folderOf(srcRelative(file) ?? "")))]
    .filter((folder) => folder !== "");
  const withoutFace = folders.filter((folder) =>
    !PRODUCT.some((file) => file.name === `src/${folder}mod.ts`)
  );
  assert.deepEqual(withoutFace, [], "folders without a mod.ts");
  const broken: string[] = [];
  for (const file of PRODUCT) {
    const from = folderOf(srcRelative(file) ?? "main.ts");
    for (const { specifier, line } of importsOf(file)) {
      const target = resolveInSrc(file, specifier);
      if (target === null || folderOf(target) === "" || folderOf(target) === from) continue;
      if (!target.endsWith("/mod.ts")) broken.push(`${file.name}:${line} imports ${specifier}`);
    }
  }
  assert.deepEqual(broken, []);
});

/** Function-like nodes, each with a name for the message. */
function functionsOf(file: SourceFile): { name: string; head: number; end: number }[] {
  const found: { name: string; head: number; end: number }[] = [];
  walk(file.ast, (node) => {
    if (!ts.isFunctionLike(node) || !("body" in node) || node.body === undefined) return;
    const named = node as ts.FunctionLikeDeclaration;
    let name = named.name?.getText() ?? "";
    if (name === "" && ts.isVariableDeclaration(node.parent)) name = node.parent.name.getText();
    if (name === "" && ts.isPropertyAssignment(node.parent)) name = node.parent.name.getText();
    if (ts.isConstructorDeclaration(node)) name = "constructor";
    found.push({
      name: name || "(anonymous)",
      head: lineOf(file, node.getStart()),
      end: lineOf(file, node.getEnd()),
    });
  });
  return found;
}

Deno.test(`no function in src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
  const long: string[] = [];
  for (const file of PRODUCT) {
    for (const { name, head, end } of functionsOf(file)) {
      const lines = end - head + 1;
      if (lines > MAX_FUNCTION_LINES) long.push(`${file.name}:${head} ${name}: ${lines} lines`);
    }
  }
  assert.deepEqual(long, []);
});

Deno.test(`no file in src/ is longer than ${MAX_FILE_LINES} lines`, () => {
  const long = PRODUCT
    .map((file) => ({ name: file.name, lines: file.text.split("\n").length - 1 }))
    .filter(({ lines }) => lines > MAX_FILE_LINES)
    .map(({ name, lines }) => `${name}: ${lines} lines`);
  assert.deepEqual(long, []);
});
