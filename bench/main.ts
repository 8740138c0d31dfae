/**
 * `deno task bench [--quick] [--only <section>[,<section>]]`: runs every benchmark section,
 * prints each one's table, then one JSON line with all results
 * (`{"tool":"merklekv-bench", ...}`). A section that fails is reported and the others still
 * run. Every process a section starts is stopped at the end, on Ctrl-C and on SIGTERM.
 * Progress goes to stderr; tables and the JSON line to stdout.
 */

import type { BenchOptions, BenchSection } from "./sections/section.ts";
import { run as runClient } from "./sections/client.ts";
import { run as runMemory } from "./sections/memory.ts";
import { run as runReplication } from "./sections/replication.ts";
import { run as runAntiEntropy } from "./sections/anti_entropy.ts";
import { run as runDurability } from "./sections/durability.ts";
import { run as runAuth } from "./sections/auth.ts";
import { run as runTls } from "./sections/tls.ts";
import { pinningTool, stopEverything } from "./harness/processes.ts";
import { REDIS_SERVER_PATH } from "./harness/redis.ts";
import { VERSION } from "../src/node/core.ts";
import { assert } from "../src/assert.ts";

type SectionRun = (options: BenchOptions) => Promise<BenchSection>;

/** Sections in run order. */
const SECTIONS: readonly { name: string; run: SectionRun }[] = [
  { name: "client", run: runClient },
  { name: "auth", run: runAuth },
  { name: "tls", run: runTls },
  { name: "memory", run: runMemory },
  { name: "replication", run: runReplication },
  { name: "anti_entropy", run: runAntiEntropy },
  { name: "durability", run: runDurability },
];

const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;
const USAGE = `usage: deno task bench [--quick] [--only <section>[,<section>...]]
sections: ${SECTIONS.map((section) => section.name).join(", ")}
  --quick   smaller data, one round, short windows (a look, not figures for docs/performance.md)
  --only    run only these sections (repeatable)`;

interface Args {
  quick: boolean;
  only: Set<string> | null;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    assert(arg !== undefined, "i < argv.length");
    if (arg === "--") continue;
    if (arg === "--quick") args.quick = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? argv[++i] : arg.slice("--only=".length);
      if (value === undefined) usage("--only needs a section name");
      args.only ??= new Set();
      for (const name of value.split(",")) {
        if (!SECTIONS.some((section) => section.name === name)) usage(`unknown section "${name}"`);
        args.only.add(name);
      }
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else usage(`unknown option "${arg}"`);
  }
  return args;
}

function usage(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  Deno.exit(EXIT_USAGE);
}

async function runSection(
  section: (typeof SECTIONS)[number],
  options: BenchOptions,
): Promise<BenchSection> {
  const started = performance.now();
  try {
    const result = await section.run(options);
    result.results.seconds = Math.round((performance.now() - started) / 100) / 10;
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      name: section.name,
      columns: ["status"],
      rows: [[`error: ${message.split("\n")[0]}`]],
      results: { error: message },
    };
  } finally {
    // Whatever a failed section left running.
    const leftovers = stopEverything();
    if (leftovers.length > 0) console.error(`bench: stopped ${leftovers.join(", ")}`);
  }
}

/** A plain-text table: numbers right-aligned with thousands separators, text left-aligned. */
function formatTable(section: BenchSection): string {
  const cells = [section.columns, ...section.rows.map((row) => row.map(formatCell))];
  const widths = section.columns.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? "").length))
  );
  const numeric = section.columns.map((_, column) =>
    section.rows.length > 0 &&
    section.rows.every((row) =>
      typeof row[column] === "number" || /^[\d.,-]+$/.test(String(row[column]))
    )
  );
  const lines = cells.map((row) =>
    row.map((cell, column) =>
      numeric[column] ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)
    ).join("  ").trimEnd()
  );
  lines.splice(1, 0, widths.map((width) => "-".repeat(width)).join("  "));
  return `## ${section.name}\n\n${lines.join("\n")}\n`;
}

function formatCell(value: string | number): string {
  if (typeof value === "number") {
    return Number.isInteger(value) ? value.toLocaleString("en-US") : String(value);
  }
  return value;
}

async function redisVersion(): Promise<string> {
  try {
    const output = await new Deno.Command(REDIS_SERVER_PATH, { args: ["--version"] }).output();
    return new TextDecoder().decode(output.stdout).match(/v=(\S+)/)?.[1] ?? "unknown";
  } catch {
    return "not installed";
  }
}

function onSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      const stopped = stopEverything();
      console.error(`bench: interrupted by ${signal}; stopped ${stopped.join(", ") || "nothing"}`);
      Deno.exit(EXIT_INTERRUPTED);
    });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(Deno.args);
  onSignals();
  const options: BenchOptions = { quick: args.quick };
  const machine = {
    cpus: navigator.hardwareConcurrency,
    pinned: pinningTool() !== null,
    deno: Deno.version.deno,
    redis: await redisVersion(),
    loadAverageAtStart: Deno.loadavg(),
  };
  const sections: Record<string, unknown> = {};
  let ok = true;
  for (const section of SECTIONS) {
    if (args.only !== null && !args.only.has(section.name)) continue;
    console.error(`bench: section ${section.name}${args.quick ? " (quick)" : ""}`);
    const result = await runSection(section, options);
    console.log(formatTable(result));
    sections[result.name] = result.results;
    if ("error" in result.results) ok = false;
  }
  const summary = {
    tool: "merklekv-bench",
    version: VERSION,
    date: new Date().toISOString(),
    quick: args.quick,
    machine: { ...machine, loadAverageAtEnd: Deno.loadavg() },
    ok,
    sections,
  };
  console.log(JSON.stringify(summary));
  stopEverything();
  Deno.exit(ok ? 0 : 1);
}

if (import.meta.main) await main();
