/**
 * Processes the benchmark starts: CPU pinning, a registry that stops every one of them on exit
 * or Ctrl-C, free ports, and /proc readings (RSS, CPU time). Linux.
 *
 * Pinning: the load client runs on CPU 0 and every server on CPU 1, so the client never
 * shares a core with the server it measures (see docs/performance.md, Pitfalls).
 */

import { assert } from "../../src/assert.ts";

export const CLIENT_CPU = 0;
export const SERVER_CPU = 1;
/** /proc CPU times are in USER_HZ ticks; 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;
const STOP_GRACE_MS = 5_000;

let tasksetPath: string | null | undefined;

/** The taskset binary when the machine has it and at least two CPUs, else null. */
export function pinningTool(): string | null {
  if (tasksetPath !== undefined) return tasksetPath;
  tasksetPath = null;
  if (navigator.hardwareConcurrency < 2) return null;
  for (const candidate of ["/usr/bin/taskset", "/bin/taskset"]) {
    try {
      if (Deno.statSync(candidate).isFile) tasksetPath = candidate;
    } catch {
      // not there
    }
    if (tasksetPath !== null) break;
  }
  return tasksetPath;
}

/** The command line that runs `program args` on one CPU (unchanged if pinning is off). */
export function pinned(cpu: number | null, program: string, args: string[]): [string, string[]] {
  const taskset = cpu === null ? null : pinningTool();
  if (taskset === null) return [program, args];
  // taskset execs the program, so the child's PID is the program's own.
  return [taskset, ["-c", String(cpu), program, ...args]];
}

/** One started process, as the registry knows it. */
interface Tracked {
  name: string;
  child: Deno.ChildProcess;
  /** Synchronous cleanup (temp files) to run after the kill on an abrupt exit. */
  cleanupSync: () => void;
}

const running = new Set<Tracked>();

/** Registers a child so that stopEverything() ends it; returns the unregister function. */
export function track(name: string, child: Deno.ChildProcess, cleanupSync = () => {}): () => void {
  const entry: Tracked = { name, child, cleanupSync };
  running.add(entry);
  return () => running.delete(entry);
}

/** Kills every registered process at once (SIGKILL) and removes their files. For exits. */
export function stopEverything(): string[] {
  const names: string[] = [];
  for (const entry of running) {
    names.push(`${entry.name} (pid ${entry.child.pid})`);
    try {
      entry.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    try {
      entry.cleanupSync();
    } catch {
      // best effort on the way out
    }
  }
  running.clear();
  return names;
}

/** Sends `signal`, waits up to graceMs, then SIGKILL. Resolves with the exit status. */
export async function stopChild(
  child: Deno.ChildProcess,
  signal: Deno.Signal = "SIGTERM",
  graceMs = STOP_GRACE_MS,
): Promise<Deno.CommandStatus> {
  try {
    child.kill(signal);
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), graceMs));
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  if (status !== null) return status;
  try {
    child.kill("SIGKILL");
  } catch {
    // exited meanwhile
  }
  return await child.status;
}

/** Keeps the last `maxBytes` of a child's output streams, for error messages. */
export class OutputTail {
  readonly #maxBytes: number;
  #text = "";

  constructor(streams: (ReadableStream<Uint8Array> | null)[], maxBytes = 16 * 1024) {
    this.#maxBytes = maxBytes;
    for (const stream of streams) if (stream !== null) this.#read(stream);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#text = (this.#text + decoder.decode(chunk, { stream: true })).slice(-this.#maxBytes);
      }
    } catch {
      // the process was killed
    }
  }

  text(): string {
    return this.#text;
  }
}

export { freePort } from "../../tests/_support/ports.ts";

/** Resident set size of a process (VmRSS), in bytes. */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** CPU time (user + system, all threads) of a process so far, in seconds; null if gone. */
export function cpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces; fields after it are plain.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Busy CPU time of the whole machine so far (all CPUs, idle and iowait excluded), seconds. */
export function machineBusySeconds(): number | null {
  try {
    // The first line: `cpu  user nice system idle iowait irq softirq steal ...` in ticks.
    const [line] = Deno.readTextFileSync("/proc/stat").split("\n", 1);
    const [, user, nice, system, , , irq, softirq, steal] = (line ?? "").trim().split(/\s+/)
      .map(Number);
    if (
      user === undefined || nice === undefined || system === undefined || irq === undefined ||
      softirq === undefined || steal === undefined
    ) return null;
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Rounded to two decimals, as ratios are shown. */
export function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle];
  if (upper === undefined) return NaN; // no values
  if (sorted.length % 2 === 1) return upper;
  const lower = sorted[middle - 1];
  assert(lower !== undefined, "an even count of values has two in the middle");
  return (lower + upper) / 2;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
