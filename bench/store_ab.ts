/**
 * The store alone, in one process, no sockets: `deno run --allow-all
 * --v8-flags=--max-semi-space-size=8 bench/store_ab.ts <checkout>` loads 1M keys of 16 bytes
 * with 100-byte values into that checkout's Store, then runs 3M operations at random: half SETs
 * of a value decoded from bytes as the framer does, half GETs whose reply is built into one
 * buffer (copied from the value heap where the store has one, else encoded from the value
 * string). Prints ops/s by the wall clock and by the process's CPU time (which other processes
 * on a busy machine disturb less), the load's CPU time, V8 heap used and RSS. Run two checkouts
 * alternately to compare them.
 */

import { Buffer } from "node:buffer";
import process from "node:process";

const KEYS = 1_000_000;
const OPERATIONS = 3_000_000;
const KEY_BYTES = 16;
const VALUE_PREFIX = new Uint8Array([0x56, 0x41, 0x4c, 0x55, 0x45, 0x20]); // "VALUE "
const MIB = 1024 * 1024;

/** The process's peak RSS (VmHWM), in MiB; "-" where /proc is not there. */
function peakRssMiB(): string {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? "-" : (Number(kib) / 1024).toFixed(0);
  } catch {
    return "-";
  }
}

const checkout = Deno.args[0];
if (checkout === undefined) {
  console.error("usage: deno run --allow-all bench/store_ab.ts <checkout>");
  Deno.exit(2);
}
const store = await import(`${checkout}/src/store/mod.ts`);
const target = new store.Store({
  nodeId: "bench",
  clock: { nowMs: () => Date.now() },
  tombstoneGraceMs: 1e9,
  maxClockSkewMs: 60_000,
});
const keyOf = (i: number) => `k${i}`.padStart(KEY_BYTES, "0");
const value = Buffer.alloc(100, 0x61);
/** CPU time (user and system) of this process since `since`, in seconds. */
const cpuSeconds = (since?: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};
const loadStart = process.cpuUsage();
for (let i = 0; i < KEYS; i++) target.write(keyOf(i), value.toString("latin1"), 0);
const loadCpuSeconds = cpuSeconds(loadStart);
const keyCount = 1 << 16;
const keys = Buffer.from(
  Array.from({ length: keyCount }, (_, i) => keyOf((i * 7919) % KEYS)).join(""),
  "latin1",
);
const out = Buffer.allocUnsafe(MIB);
const fromHeap = typeof target.findValue === "function";
let length = 0;
let seed = 1;
const startedMs = performance.now();
const startedCpu = process.cpuUsage();
for (let operation = 0; operation < OPERATIONS; operation++) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  const start = ((seed >>> 4) & (keyCount - 1)) * KEY_BYTES;
  const end = start + KEY_BYTES;
  if (length + 128 > out.length) length = 0;
  if (seed & 1) target.write(keys.toString("latin1", start, end), value.toString("latin1"), 0);
  else if (fromHeap) {
    const found = target.findValue(keys, start, end);
    if (typeof found === "number") {
      out.set(VALUE_PREFIX, length);
      length = target.copyValueInto(found, out, length + VALUE_PREFIX.length);
      out[length++] = 13;
      out[length++] = 10;
    }
  } else {
    const entry = target.readBytes(keys, start, end);
    if (entry !== undefined) length = store.writeLatin1(`VALUE ${entry.value}\r\n`, out, length);
  }
}
const seconds = (performance.now() - startedMs) / 1000;
const operationsCpuSeconds = cpuSeconds(startedCpu);
const memory = Deno.memoryUsage();
console.log(
  `${checkout}: ${(OPERATIONS / seconds).toFixed(0)} ops/s, ${
    (OPERATIONS / operationsCpuSeconds).toFixed(0)
  } ops per CPU second, load of ${KEYS} keys ${loadCpuSeconds.toFixed(2)} CPU s, V8 heap used ${
    (memory.heapUsed / MIB).toFixed(0)
  } MiB, RSS ${(memory.rss / MIB).toFixed(0)} MiB, peak RSS ${peakRssMiB()} MiB`,
);
