/**
 * Fuzzing a real node process: random bytes and random command mixes (binary junk, tokens near
 * every limit, partial lines) over several connections at once. Seeded and bounded; replay a
 * failure with `FUZZ_SEED=<seed>` (the seed is in the test name).
 */

import assert from "node:assert/strict";
import { MerkleKVClient } from "../../src/client/mod.ts";
import { NodeProcess } from "../_support/node_process.ts";
import { nth } from "../_support/nth.ts";
import { RawSocket } from "../_support/raw_socket.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20_261_125);
const MAX_KEY_BYTES = 64;
const MAX_VALUE_BYTES = 4_096;
const MAX_LINE_BYTES = MAX_VALUE_BYTES + MAX_KEY_BYTES + 64;
const MAX_KEYS_PER_COMMAND = 50;
const JUNK_WRITES = 400;
const MIX_BATCHES = 50;
const MIX_BATCH_LINES = 40;
const RSS_CAP_BYTES = 256 * 1024 * 1024;

/** Command words a fuzzed line may start with; never SHUTDOWN, and SYNC only as junk. */
const WORDS = [
  "SET",
  "GET",
  "DEL",
  "DELETE",
  "INC",
  "INCR",
  "DEC",
  "DECR",
  "APPEND",
  "PREPEND",
  "MGET",
  "MSET",
  "EXISTS",
  "SCAN",
  "DBSIZE",
  "EXPIRE",
  "TTL",
  "PERSIST",
  "TRUNCATE",
  "FLUSHDB",
  "PING",
  "ECHO",
  "INFO",
  "STATS",
  "VERSION",
  "HASH",
];

/** First words of every reply the node may send to the words above. */
const REPLY_WORDS = new Set([
  "OK",
  "VALUE",
  "NOT_FOUND",
  "DELETED",
  "VALUES",
  "KEYS",
  "EXISTS",
  "DBSIZE",
  "TTL",
  "PONG",
  "ECHO",
  "INFO",
  "VERSION",
  "HASH",
  "ERROR",
]);

function randomCase(random: SeededRandom, word: string): string {
  if (random.below(3) !== 0) return word;
  return [...word].map((c) => random.below(2) ? c.toLowerCase() : c).join("");
}

/** Bytes without CR and LF, so they stay inside one line. */
function lineBytes(random: SeededRandom, length: number): string {
  return random.bytes(length).replace(/[\r\n]/g, "x");
}

function randomKey(random: SeededRandom): string {
  switch (random.below(8)) {
    case 0:
      return "k".repeat(MAX_KEY_BYTES - 1 + random.below(3)); // at, under and over the limit
    case 1:
      return lineBytes(random, 1 + random.below(8)).replace(/ /g, "_"); // maybe control bytes
    case 2:
      return "\x80\xff" + random.below(10);
    default:
      return `key${random.below(20)}`;
  }
}

function randomArgument(random: SeededRandom): string {
  switch (random.below(7)) {
    case 0:
      return random.pick(["9223372036854775807", "-9223372036854775808", "9223372036854775808"]);
    case 1:
      return String(random.below(200) - 100);
    case 2:
      return random.pick(["AFTER", "1.5", "x", "-0", "+7", ""]);
    default:
      return randomKey(random);
  }
}

function randomValue(random: SeededRandom): string {
  const sizes = [0, 1, 10, 100, MAX_VALUE_BYTES - 1, MAX_VALUE_BYTES, MAX_VALUE_BYTES + 1];
  return lineBytes(random, random.pick(sizes));
}

/** One request line (no line end) of a random command with random, often wrong arguments. */
function randomCommand(random: SeededRandom): string {
  const word = randomCase(random, random.below(20) === 0 ? "NOPE" : random.pick(WORDS));
  const upper = word.toUpperCase();
  if (["SET", "APPEND", "PREPEND"].includes(upper) && random.below(4) !== 0) {
    return `${word} ${randomKey(random)} ${randomValue(random)}`;
  }
  const count = ["MGET", "MSET", "EXISTS"].includes(upper)
    ? random.below(MAX_KEYS_PER_COMMAND + 5)
    : random.below(4);
  const args = Array.from({ length: count }, () => randomArgument(random));
  return args.length === 0 ? word : `${word} ${args.join(" ")}`;
}

/** A random write for a raw connection: junk, commands, partial lines, or limit breakers. */
function randomPayload(random: SeededRandom): string {
  switch (random.below(10)) {
    case 0:
    case 1:
      return random.bytes(1 + random.below(2_000));
    case 2:
      return "x".repeat(MAX_LINE_BYTES - 2 + random.below(5)) + "\r\n";
    case 3:
      return "SYNC " + random.pick(["ROOT", "KEYS", "PUSH", "BRANCHES", "x"]) + " " +
        lineBytes(random, random.below(300));
    case 4: {
      const line = randomCommand(random) + "\r\n";
      return line.slice(0, random.below(line.length + 1)); // a partial line
    }
    default: {
      const lines = Array.from({ length: 1 + random.below(20) }, () => randomCommand(random));
      return lines.join(random.below(2) ? "\r\n" : "\n") + "\r\n";
    }
  }
}

/** Writes random payloads on a raw connection, reconnecting whenever the node closes it. */
async function junkWorker(port: number, random: SeededRandom): Promise<number> {
  let connections = 1;
  let raw = await RawSocket.connect(port);
  raw.keepText = false;
  try {
    for (let i = 0; i < JUNK_WRITES; i++) {
      if (raw.isClosed || raw.socket.writableEnded) {
        await raw.destroy();
        raw = await RawSocket.connect(port);
        raw.keepText = false;
        connections++;
      }
      await raw.write(randomPayload(random)).catch(() => {});
      // Let replies and a close by the node arrive between writes.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    await raw.destroy();
  }
  return connections;
}

function show(text: string): string {
  return JSON.stringify(text.length > 100 ? text.slice(0, 100) + "..." : text);
}

/** Pipelines random commands and checks each reply is one the protocol knows. */
async function mixWorker(port: number, random: SeededRandom): Promise<void> {
  const client = await MerkleKVClient.connect({ port, timeoutMs: 20_000 });
  try {
    for (let batch = 0; batch < MIX_BATCHES; batch++) {
      const lines = Array.from({ length: MIX_BATCH_LINES }, () => {
        const line = randomCommand(random);
        return line.length > MAX_LINE_BYTES ? line.slice(0, MAX_LINE_BYTES) : line;
      });
      const replies = await client.pipeline(lines);
      for (let i = 0; i < lines.length; i++) {
        const word = replies[i]?.[0]?.split(" ")[0];
        if (word === undefined || !REPLY_WORDS.has(word)) {
          // The requests and replies before it, to tell a framing slip from a bad reply.
          const context = [];
          for (let j = Math.max(0, i - 5); j <= i; j++) {
            context.push(`${show(nth(lines, j))} -> ${replies[j]?.map(show).join(" | ")}`);
          }
          assert.fail(`seed ${SEED}, batch ${batch}: unexpected reply\n${context.join("\n")}`);
        }
      }
    }
    assert.deepEqual(client.unexpected, []);
  } finally {
    await client.close();
  }
}

Deno.test(`a node survives random bytes and command mixes (seed ${SEED})`, async () => {
  const node = await NodeProcess.start({
    toml: `[limits]\nmax_key_bytes = ${MAX_KEY_BYTES}\nmax_value_bytes = ${MAX_VALUE_BYTES}\n` +
      `max_keys_per_command = ${MAX_KEYS_PER_COMMAND}`,
  });
  try {
    const random = new SeededRandom(SEED);
    const seeds = Array.from({ length: 5 }, () => random.below(2 ** 31));
    const [connections] = await Promise.all([
      Promise.all(seeds.slice(0, 3).map((seed) => junkWorker(node.port, new SeededRandom(seed)))),
      ...seeds.slice(3).map((seed) => mixWorker(node.port, new SeededRandom(seed))),
    ]);
    const reconnects = connections.reduce((sum, count) => sum + count - 1, 0);
    assert.ok(reconnects > 0, `seed ${SEED}: the node never closed a junk connection`);

    const client = await node.connect();
    try {
      assert.deepEqual(await client.request("PING"), ["PONG"], `seed ${SEED}`);
      assert.deepEqual(await client.request("SET after fuzz"), ["OK"]);
      assert.deepEqual(await client.request("GET after"), ["VALUE fuzz"]);
      const info = await client.info();
      const rssBytes = Number(info.get("memory_rss_bytes"));
      assert.ok(rssBytes < RSS_CAP_BYTES, `seed ${SEED}: RSS ${rssBytes} bytes after fuzzing`);
    } finally {
      await client.close();
    }
    const status = await node.stop("SIGTERM");
    assert.equal(status.code, 0, `seed ${SEED}: exit after fuzzing\n${node.stderr()}`);
    assert.doesNotMatch(node.stderr(), /"level":"error"/);
  } finally {
    await node.cleanup();
  }
});
