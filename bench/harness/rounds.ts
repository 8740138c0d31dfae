/**
 * The benchmark's method for every ratio: two sides (MerkleKV and Redis, or one node with and
 * without a setting) measured by the same load client in alternating rounds (A, B, A, B, ...) in
 * one run; each side's figure is the median of its rounds, shown with its spread; the ratio is
 * the median of the rounds' ratios, shown with their range; and a side
 * whose load client used CLIENT_SATURATED_PCT or more of its core gives no ratio, because its
 * figure is then the client's ceiling, not the server's.
 */

import type { LoadResult } from "../load/load.ts";
import { median, round2 } from "./processes.ts";

/** Rounds per side in a full run, and in `--quick`: every ratio is a median of this many. */
export const FULL_ROUNDS = 5;
export const QUICK_ROUNDS = 5;

/** Windows of one round. */
export function roundTiming(quick: boolean): {
  rounds: number;
  warmupSeconds: number;
  seconds: number;
} {
  return quick
    ? { rounds: QUICK_ROUNDS, warmupSeconds: 0.5, seconds: 1 }
    : { rounds: FULL_ROUNDS, warmupSeconds: 2, seconds: 6 };
}

/** The load client at or above this share of its core is the limit: no ratio. */
export const CLIENT_SATURATED_PCT = 90;
/** Other programs using more than this share of a core during a window disturbed it. */
export const DISTURBED_PCT = 10;

/** One side's rounds, summarized. */
export interface Side {
  runs: LoadResult[];
  opsPerSecond: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  /** (max - min) / median of ops/s across rounds. */
  spread: number;
  /** Median share of one core the load client used; null when /proc could not tell. */
  clientPct: number | null;
  /** Median share of one core the server used; null when unknown. */
  serverPct: number | null;
  ok: boolean;
}

/**
 * Runs `rounds` rounds of A then B (the same round number to both: same seed), and returns the
 * runs of each side. A round that throws ends the whole comparison.
 */
export async function alternate(
  rounds: number,
  runA: (round: number) => Promise<LoadResult>,
  runB: (round: number) => Promise<LoadResult>,
): Promise<[LoadResult[], LoadResult[]]> {
  const a: LoadResult[] = [];
  const b: LoadResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    a.push(await runA(round));
    b.push(await runB(round));
  }
  return [a, b];
}

export function summarize(runs: LoadResult[]): Side {
  const ops = runs.map((run) => run.opsPerSecond);
  const middle = median(ops);
  const known = (values: (number | null)[]) =>
    values.every((value) => value !== null) ? median(values as number[]) : null;
  return {
    runs,
    opsPerSecond: middle,
    p50Us: median(runs.map((run) => run.latencyUs.p50)),
    p99Us: median(runs.map((run) => run.latencyUs.p99)),
    p999Us: median(runs.map((run) => run.latencyUs.p999)),
    spread: middle > 0 ? (Math.max(...ops) - Math.min(...ops)) / middle : 0,
    clientPct: known(runs.map((run) => run.cpu.clientPct)),
    serverPct: known(runs.map((run) => run.cpu.serverPct)),
    ok: runs.every((run) => run.ok),
  };
}

/** Whether the side's figure is its load client's ceiling. */
export function saturated(side: Side): boolean {
  return side.clientPct !== null && side.clientPct >= CLIENT_SATURATED_PCT;
}

/**
 * A over B as shown in a table: the median of the rounds' ratios (each round's A and B ran back
 * to back, so a drift of the machine falls on both), with their range, e.g. "0.97 (0.91-1.04)";
 * or why there is none (the client saturated on a side). `ratio` is null when there is none.
 */
export function ratioOf(a: Side, b: Side): { ratio: number | null; text: string } {
  if (saturated(a) || saturated(b)) return { ratio: null, text: "client-saturated" };
  const perRound = roundRatios(a, b);
  const ratio = round2(median(perRound));
  const range = `${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)}`;
  return { ratio, text: `${ratio.toFixed(2)} (${range})` };
}

/** A's ops/s over B's, round by round. */
export function roundRatios(a: Side, b: Side): number[] {
  return a.runs.map((run, index) =>
    round2(run.opsPerSecond / (b.runs[index]?.opsPerSecond ?? NaN))
  );
}

/** "12% / 4%": each side's spread. */
export function spreadText(a: Side, b: Side): string {
  return `${pct(a.spread)} / ${pct(b.spread)}`;
}

/** "63 / 91": each side's load-client CPU, % of a core ("?" when unknown). */
export function clientCpuText(a: Side, b: Side): string {
  const show = (value: number | null) => value === null ? "?" : value.toFixed(0);
  return `${show(a.clientPct)} / ${show(b.clientPct)}`;
}

/** Notes that qualify a comparison: which side saturated its client, disturbance. */
export function notesFor(a: Side, b: Side, names: [string, string]): string[] {
  const notes: string[] = [];
  for (const [side, name] of [[a, names[0]], [b, names[1]]] as const) {
    if (saturated(side)) {
      notes.push(
        `client saturated vs ${name} (${side.clientPct?.toFixed(0)}% of a core): no ratio`,
      );
    }
  }
  const otherPct = Math.max(...[...a.runs, ...b.runs].map((run) => run.cpu.otherPct ?? 0));
  if (otherPct > DISTURBED_PCT) {
    notes.push(`disturbed (other CPU use up to ${otherPct.toFixed(0)}%)`);
  }
  return notes;
}

/** The JSON form of a side. */
export function sideResults(side: Side) {
  return {
    opsPerSecond: side.opsPerSecond,
    p50Us: side.p50Us,
    p99Us: side.p99Us,
    p999Us: side.p999Us,
    spread: round2(side.spread),
    clientPct: side.clientPct,
    serverPct: side.serverPct,
    saturated: saturated(side),
    ok: side.ok,
    runs: side.runs.map((run) => ({
      opsPerSecond: run.opsPerSecond,
      latencyUs: run.latencyUs,
      checks: run.checks,
      cpu: run.cpu,
      failures: run.failures,
      ...(run.stderr === undefined ? {} : { stderr: run.stderr }),
    })),
  };
}

/** "FAIL (a: ...; b: ...)" or "ok". */
export function checksText(a: Side, b: Side, names: [string, string]): string {
  if (a.ok && b.ok) return "ok";
  const failuresOf = (side: Side) =>
    [...new Set(side.runs.flatMap((run) => run.failures))].join(", ");
  const failed = [
    ...(a.ok ? [] : [`${names[0]}: ${failuresOf(a)}`]),
    ...(b.ok ? [] : [`${names[1]}: ${failuresOf(b)}`]),
  ];
  return `FAIL (${failed.join("; ")})`;
}

function pct(value: number): string {
  return `${Math.round(value * 100)}%`;
}
