/**
 * Two servers side by side under the client workloads (bench/sections/client.ts), by the method
 * of bench/harness/rounds.ts: a fresh server of each kind per workload, alternating rounds,
 * medians with spread, the client's CPU, no ratio when the client saturated. The TLS and AUTH
 * sections are pairs: the node with TLS next to Redis with TLS, the node with AUTH next to the
 * same node without.
 */

import type { LoadRequest } from "../load/load.ts";
import { runLoad } from "../load/load.ts";
import {
  alternate,
  checksText,
  clientCpuText,
  notesFor,
  ratioOf,
  roundTiming,
  sideResults,
  spreadText,
  summarize,
} from "../harness/rounds.ts";

/** A server started for one workload, and what the load client needs to reach it. */
export interface Started {
  port: number;
  pid: number;
  /** Protocol and connection settings (TLS, AUTH) for runLoad. */
  reach: Pick<LoadRequest, "proto"> & Partial<LoadRequest>;
  stop(): Promise<unknown>;
}

export interface Contender {
  name: string;
  start(): Promise<Started>;
}

export interface PairWorkload {
  name: string;
  description: string;
  load: Omit<LoadRequest, "port" | "proto">;
}

export const PAIR_COLUMNS = [
  "workload",
  "A ops/s",
  "B ops/s",
  "A / B",
  "spread A / B",
  "client cpu% A / B",
  "A p99 µs",
  "B p99 µs",
  "target",
  "result",
  "checks",
  "notes",
];

/** Measures one workload on A and B, and gives its table row and JSON results. */
export async function comparePair(
  workload: PairWorkload,
  a: Contender,
  b: Contender,
  atLeast: number,
  quick: boolean,
): Promise<{ row: (string | number)[]; results: Record<string, unknown> }> {
  const { rounds, warmupSeconds, seconds } = roundTiming(quick);
  const servers: Started[] = [];
  try {
    const serverA = await a.start();
    servers.push(serverA);
    const serverB = await b.start();
    servers.push(serverB);
    const run = (server: Started) => (round: number) =>
      runLoad({
        ...workload.load,
        ...server.reach,
        port: server.port,
        serverPid: server.pid,
        preload: true,
        seed: round,
        warmupSeconds,
        seconds,
      });
    const [runsA, runsB] = await alternate(rounds, run(serverA), run(serverB));
    const sideA = summarize(runsA);
    const sideB = summarize(runsB);
    const names: [string, string] = [a.name, b.name];
    const { ratio, text } = ratioOf(sideA, sideB);
    const checksOk = sideA.ok && sideB.ok;
    const result = !checksOk
      ? "invalid"
      : ratio === null
      ? "client-saturated"
      : ratio >= atLeast
      ? "pass"
      : "miss";
    const notes = notesFor(sideA, sideB, names);
    const row = [
      workload.name,
      Math.round(sideA.opsPerSecond),
      Math.round(sideB.opsPerSecond),
      text,
      spreadText(sideA, sideB),
      clientCpuText(sideA, sideB),
      sideA.p99Us.toFixed(1),
      sideB.p99Us.toFixed(1),
      `>= ${atLeast}x`,
      result,
      checksText(sideA, sideB, names),
      notes.join("; "),
    ];
    const results = {
      description: workload.description,
      a: a.name,
      b: b.name,
      ratio,
      target: `>= ${atLeast}x`,
      result,
      notes,
      sideA: sideResults(sideA),
      sideB: sideResults(sideB),
    };
    return { row, results };
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

/** A row that says why a workload was not measured. */
export function skippedRow(name: string, reason: string): (string | number)[] {
  return [name, ...PAIR_COLUMNS.slice(1, -3).map(() => "-"), "skipped", "-", reason];
}

/** The workloads of the client section with these names, as pair workloads. */
export function pairWorkloads(
  all: readonly PairWorkload[],
  names: readonly string[],
): PairWorkload[] {
  return names.map((name) => {
    const workload = all.find((candidate) => candidate.name === name);
    if (workload === undefined) throw new Error(`no client workload named ${name}`);
    return workload;
  });
}
