/**
 * The parser on the lines clients send most: GET and SET read from the framed bytes (the
 * node's path), the same lines parsed as strings, and an MSET of 10 keys. Each line is framed
 * once, before timing, so the figures are the parser's alone. `deno task bench:micro`.
 */

import { LineFramer } from "../../src/protocol/framer.ts";
import { parseCommand } from "../../src/protocol/parse.ts";
import { getAndSetKeys, parseFramed } from "../../src/protocol/hot_path.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";

const LIMITS = DEFAULT_CONFIG.limits;
const GET_LINE = "GET key:000000000042";
const SET_LINE = `SET key:000000000042 ${"v".repeat(100)}`;
const MSET_LINE = "MSET " +
  Array.from({ length: 10 }, (_, i) => `key:${String(i).padStart(12, "0")} value-${i}`).join(" ");

/** A framer holding `line` as its current line. */
function framed(line: string): LineFramer {
  const framer = new LineFramer(LIMITS.maxLineBytes);
  framer.push(new TextEncoder().encode(line + "\r\n"));
  if (framer.advance() !== true) throw new Error(`not framed: ${line}`);
  return framer;
}

const framedGet = framed(GET_LINE);
const framedSet = framed(SET_LINE);
const framedMset = framed(MSET_LINE);

function expectKind(kind: string, expected: string): void {
  if (kind !== expected) throw new Error(`parsed as ${kind}, not ${expected}`);
}

Deno.bench("GET from the framed bytes", { group: "GET", baseline: true }, () => {
  expectKind(parseFramed(framedGet, LIMITS).kind, "get");
});

Deno.bench("GET from a string", { group: "GET" }, () => {
  expectKind(parseCommand(GET_LINE, LIMITS).kind, "get");
});

Deno.bench("SET (100 B value) from the framed bytes", { group: "SET", baseline: true }, () => {
  expectKind(parseFramed(framedSet, LIMITS).kind, "set");
});

Deno.bench("SET (100 B value) from a string", { group: "SET" }, () => {
  expectKind(parseCommand(SET_LINE, LIMITS).kind, "set");
});

Deno.bench("MSET of 10 keys from the framed bytes", { group: "MSET" }, () => {
  expectKind(parseFramed(framedMset, LIMITS).kind, "mset");
});

// The key hint (getAndSetKeys) on what one read brings: one unpipelined 16 KiB SET, and 32
// pipelined SET/GET lines of 100 B values (about 4 KiB).
const RANGES = new Int32Array(2 * 64);
const BIG_SET = new TextEncoder().encode(`SET key:000000000042 ${"v".repeat(16_384)}\r\n`);
const PIPELINED = new TextEncoder().encode(
  Array.from(
    { length: 32 },
    (_, i) =>
      i % 2 === 0
        ? `SET key:${String(i).padStart(12, "0")} ${"v".repeat(100)}\r\n`
        : `GET key:${i}\r\n`,
  ).join(""),
);

Deno.bench("key hint over one 16 KiB SET", { group: "hint" }, () => {
  getAndSetKeys(BIG_SET, 0, BIG_SET.length, LIMITS.maxKeyBytes, RANGES);
});

Deno.bench("key hint over 32 pipelined lines", { group: "hint" }, () => {
  if (getAndSetKeys(PIPELINED, 0, PIPELINED.length, LIMITS.maxKeyBytes, RANGES) !== 32) {
    throw new Error("the hint missed lines");
  }
});
