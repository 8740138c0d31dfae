import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { LINE_TOO_LONG, LineFramer } from "../../src/protocol/framer.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

/** Test inputs are binary strings; the framer takes bytes. */
function bytes(text: string): Uint8Array {
  return Buffer.from(text, "latin1");
}

const MAX_LINE_BYTES = 16;

type Framed = string | typeof LINE_TOO_LONG;

interface Fixture {
  name: string;
  input: string;
  /** Lines in order; LINE_TOO_LONG last when the input breaks the limit. */
  lines: Framed[];
  /** Bytes received but not yet returned as a line, after the whole input. */
  pending: number;
}

const FIXTURES: Fixture[] = [
  { name: "one CRLF line", input: "GET k\r\n", lines: ["GET k"], pending: 0 },
  { name: "one LF line", input: "GET k\n", lines: ["GET k"], pending: 0 },
  { name: "mixed line ends", input: "A\r\nB\nC\r\n", lines: ["A", "B", "C"], pending: 0 },
  { name: "empty lines", input: "\r\n\n\r\n", lines: ["", "", ""], pending: 0 },
  { name: "a partial line stays pending", input: "SET a 1\r\nGET", lines: ["SET a 1"], pending: 3 },
  {
    name: "a lone CR inside a line is kept",
    input: "SET k a\rb\r\n",
    lines: ["SET k a\rb"],
    pending: 0,
  },
  {
    name: "a CR before CRLF is part of the line",
    input: "SET k v\r\r\n",
    lines: ["SET k v\r"],
    pending: 0,
  },
  {
    name: "binary bytes pass through",
    input: "SET k \x00\x7f\x80\xff\r\n",
    lines: ["SET k \x00\x7f\x80\xff"],
    pending: 0,
  },
  {
    name: "a line of exactly the limit with CRLF",
    input: "x".repeat(MAX_LINE_BYTES) + "\r\n",
    lines: ["x".repeat(MAX_LINE_BYTES)],
    pending: 0,
  },
  {
    name: "a line of exactly the limit with LF",
    input: "y".repeat(MAX_LINE_BYTES) + "\n",
    lines: ["y".repeat(MAX_LINE_BYTES)],
    pending: 0,
  },
  {
    name: "a line one byte over the limit",
    input: "A\r\n" + "z".repeat(MAX_LINE_BYTES + 1) + "\r\n",
    lines: ["A", LINE_TOO_LONG],
    pending: MAX_LINE_BYTES + 3,
  },
  {
    name: "a line over the limit without a line end",
    input: "B\n" + "w".repeat(MAX_LINE_BYTES + 1),
    lines: ["B", LINE_TOO_LONG],
    pending: MAX_LINE_BYTES + 1,
  },
];

/** Every line the framer has ready; stops after LINE_TOO_LONG (the connection closes). */
function drain(framer: LineFramer, into: Framed[]): void {
  for (;;) {
    const line = framer.next();
    if (line === null) return;
    into.push(line);
    if (line === LINE_TOO_LONG) return;
  }
}

function frame(chunks: readonly string[]): { lines: Framed[]; pending: number } {
  const framer = new LineFramer(MAX_LINE_BYTES);
  const lines: Framed[] = [];
  for (const chunk of chunks) {
    if (lines.at(-1) === LINE_TOO_LONG) break;
    framer.push(bytes(chunk));
    drain(framer, lines);
  }
  return { lines, pending: framer.pendingBytes };
}

for (const fixture of FIXTURES) {
  Deno.test(`LineFramer frames "${fixture.name}" pushed whole`, () => {
    const { lines, pending } = frame([fixture.input]);
    assert.deepEqual(lines, fixture.lines);
    assert.equal(pending, fixture.pending);
  });

  Deno.test(`LineFramer frames "${fixture.name}" pushed byte by byte`, () => {
    const { lines } = frame([...fixture.input]);
    assert.deepEqual(lines, fixture.lines);
  });

  Deno.test(`LineFramer frames "${fixture.name}" split at every offset`, () => {
    for (let offset = 0; offset <= fixture.input.length; offset++) {
      const chunks = [fixture.input.slice(0, offset), fixture.input.slice(offset)];
      const { lines } = frame(chunks);
      assert.deepEqual(lines, fixture.lines, `split at offset ${offset}`);
    }
  });
}

Deno.test("LineFramer reports a long line as soon as the limit is passed, before its end", () => {
  const framer = new LineFramer(MAX_LINE_BYTES);
  for (let i = 0; i < MAX_LINE_BYTES; i++) {
    framer.push(bytes("a"));
    assert.equal(framer.next(), null, `after ${i + 1} bytes`);
  }
  framer.push(bytes("a"));
  assert.equal(framer.next(), LINE_TOO_LONG);
  assert.equal(framer.pendingBytes, MAX_LINE_BYTES + 1);
});

Deno.test("LineFramer waits for the LF after a CR that ends a line of exactly the limit", () => {
  const framer = new LineFramer(MAX_LINE_BYTES);
  framer.push(bytes("q".repeat(MAX_LINE_BYTES) + "\r"));
  assert.equal(framer.next(), null);
  framer.push(bytes("\n"));
  assert.equal(framer.next(), "q".repeat(MAX_LINE_BYTES));
});

Deno.test("LineFramer returns many pipelined lines from one chunk in order", () => {
  const framer = new LineFramer(MAX_LINE_BYTES);
  const sent = Array.from({ length: 1000 }, (_, i) => `GET k${i}`);
  framer.push(bytes(sent.map((line) => line + "\r\n").join("")));
  const lines: Framed[] = [];
  drain(framer, lines);
  assert.deepEqual(lines, sent);
  assert.equal(framer.pendingBytes, 0);
});

Deno.test("LineFramer keeps a partial line across pushes and counts it as pending", () => {
  const framer = new LineFramer(MAX_LINE_BYTES);
  framer.push(bytes("PI"));
  assert.equal(framer.next(), null);
  assert.equal(framer.pendingBytes, 2);
  framer.push(bytes("NG\r\nEC"));
  assert.equal(framer.next(), "PING");
  assert.equal(framer.next(), null);
  assert.equal(framer.pendingBytes, 2);
  framer.push(bytes("HO x\n"));
  assert.equal(framer.next(), "ECHO x");
  assert.equal(framer.pendingBytes, 0);
});

Deno.test("LineFramer frames a 1 MB line that arrives in 100-byte pieces", () => {
  const framer = new LineFramer(1024 * 1024);
  const line = "SET k " + "v".repeat(1024 * 1024 - 6);
  for (let offset = 0; offset < line.length; offset += 100) {
    framer.push(bytes(line.slice(offset, offset + 100)));
    assert.equal(framer.next(), null);
  }
  assert.equal(framer.pendingBytes, line.length);
  framer.push(bytes("\r"));
  assert.equal(framer.next(), null);
  framer.push(bytes("\nPING\r\n"));
  assert.equal(framer.next(), line);
  assert.equal(framer.next(), "PING");
  assert.equal(framer.next(), null);
  assert.equal(framer.pendingBytes, 0);
});

Deno.test("LineFramer keeps lines left unread when more bytes arrive, with or without LF", () => {
  const framer = new LineFramer(MAX_LINE_BYTES);
  framer.push(bytes("A\r\nB\r\nC"));
  assert.equal(framer.next(), "A");
  // The server reads on while a reply is deferred: B was never asked for.
  framer.push(bytes("D"));
  assert.equal(framer.next(), "B");
  assert.equal(framer.next(), null);
  framer.push(bytes("\nE\n"));
  assert.equal(framer.next(), "CD");
  assert.equal(framer.next(), "E");
  assert.equal(framer.next(), null);
  assert.equal(framer.pendingBytes, 0);
});

/** Random lines in random chunks, read in random amounts between pushes (seeded). */
function checkRandomFraming(seeds: number, maxLineBytes: number, maxChunkBytes: number): void {
  for (let seed = 1; seed <= seeds; seed++) {
    const random = new SeededRandom(seed);
    const sent: string[] = [];
    let input = "";
    for (let i = random.below(20); i >= 0; i--) {
      // Every byte but LF, so that a search that slips shows as a wrong line.
      let line = "";
      for (let length = random.below(maxLineBytes + 1); length > 0; length--) {
        const byte = random.below(255);
        line += String.fromCharCode(byte >= 10 ? byte + 1 : byte);
      }
      // A CR before the line end would be taken as part of it.
      if (line.endsWith("\r")) line = line.slice(0, -1) + "x";
      sent.push(line);
      input += line + (random.below(2) === 0 ? "\r\n" : "\n");
    }
    const framer = new LineFramer(maxLineBytes);
    const received: Framed[] = [];
    for (let offset = 0; offset < input.length;) {
      const size = 1 + random.below(maxChunkBytes);
      framer.push(bytes(input.slice(offset, offset + size)));
      offset += size;
      // Read none, some or all of the lines ready, as a paused connection does.
      for (let reads = random.below(4); reads > 0; reads--) {
        const line = framer.next();
        if (line === null) break;
        received.push(line);
      }
    }
    drain(framer, received);
    assert.deepEqual(received, sent, `seed ${seed}`);
    assert.equal(framer.pendingBytes, 0, `seed ${seed}`);
  }
}

Deno.test("LineFramer returns every line for random chunks and random reads between pushes", () => {
  checkRandomFraming(300, MAX_LINE_BYTES, 12);
});

Deno.test("LineFramer returns every line of random long lines in random large chunks", () => {
  // Chunks and lines past TEXT_SEARCH_MIN_BYTES take the string search.
  checkRandomFraming(150, 5000, 9000);
});
