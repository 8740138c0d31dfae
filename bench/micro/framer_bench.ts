/**
 * The line framer on what a node receives: a chunk of 32 pipelined SET and GET lines (as the
 * load client sends at depth 32), the same split in two, and one 16 KiB value line (past the
 * size where the framer searches the decoded chunk). `deno task bench:micro`.
 */

import { LineFramer } from "../../src/protocol/framer.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";

const PIPELINE_DEPTH = 32;
const LARGE_VALUE_BYTES = 16 * 1024;
const encoder = new TextEncoder();

function pipelinedLines(): Uint8Array {
  let text = "";
  for (let i = 0; i < PIPELINE_DEPTH; i++) {
    const key = "key:" + String(i).padStart(12, "0");
    text += i % 2 === 0 ? `SET ${key} ${"v".repeat(100)}\r\n` : `GET ${key}\r\n`;
  }
  return encoder.encode(text);
}

const pipelined = pipelinedLines();
const half = pipelined.length >> 1;
const firstHalf = pipelined.subarray(0, half);
const secondHalf = pipelined.subarray(half);
const largeLine = encoder.encode(`SET key:large ${"v".repeat(LARGE_VALUE_BYTES)}\r\n`);
const framer = new LineFramer(DEFAULT_CONFIG.limits.maxLineBytes);

/** Frames every complete line; returns how many, so that the work is used. */
function frameAll(): number {
  let lines = 0;
  while (framer.advance() === true) lines++;
  return lines;
}

Deno.bench("32 pipelined lines in one chunk", { group: "framer", baseline: true }, () => {
  framer.push(pipelined);
  if (frameAll() !== PIPELINE_DEPTH) throw new Error("lines lost");
});

Deno.bench("32 pipelined lines in two chunks", { group: "framer" }, () => {
  framer.push(firstHalf);
  let lines = frameAll();
  framer.push(secondHalf);
  lines += frameAll();
  if (lines !== PIPELINE_DEPTH) throw new Error("lines lost");
});

Deno.bench("one 16 KiB line", { group: "framer" }, () => {
  framer.push(largeLine);
  if (frameAll() !== 1) throw new Error("line lost");
});

Deno.bench("32 pipelined lines, each decoded with next()", { group: "framer" }, () => {
  framer.push(pipelined);
  let lines = 0;
  while (typeof framer.next() === "string") lines++;
  if (lines !== PIPELINE_DEPTH) throw new Error("lines lost");
});
