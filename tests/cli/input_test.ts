import assert from "node:assert/strict";
import { type ByteReader, InputLineTooLong, readLines } from "../../src/cli/input.ts";

/** A reader that hands out `chunks` one per read. */
function reader(chunks: (string | Uint8Array)[]): ByteReader {
  const queue = chunks.map((chunk) =>
    typeof chunk === "string" ? Uint8Array.from(chunk, (char) => char.charCodeAt(0)) : chunk
  );
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      const next = queue.shift();
      if (next === undefined) return Promise.resolve(null);
      assert.ok(next.length <= buffer.length);
      buffer.set(next);
      return Promise.resolve(next.length);
    },
  };
}

async function collect(chunks: (string | Uint8Array)[], maxLineBytes = 100): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(reader(chunks), maxLineBytes)) lines.push(line);
  return lines;
}

Deno.test("readLines() splits on LF, drops one CR before it, and keeps the last line without LF", async () => {
  assert.deepEqual(await collect(["a\nb\r\nc\r\r\n\nlast"]), ["a", "b", "c\r", "", "last"]);
  assert.deepEqual(await collect([]), []);
  assert.deepEqual(await collect(["x\n"]), ["x"]);
});

Deno.test("readLines() joins lines split across reads at every offset", async () => {
  const text = "SET k v\r\nGET k\nPING\n";
  for (let cut = 0; cut <= text.length; cut++) {
    assert.deepEqual(
      await collect([text.slice(0, cut), text.slice(cut)]),
      ["SET k v", "GET k", "PING"],
      `cut at ${cut}`,
    );
  }
});

Deno.test("readLines() keeps every byte: lines are binary strings", async () => {
  assert.deepEqual(await collect([new Uint8Array([0x53, 0x80, 0x9f, 0xff, 0x0a])]), [
    "S\x80\x9f\xff",
  ]);
});

Deno.test("readLines() refuses a line over maxLineBytes rather than buffer it", async () => {
  assert.deepEqual(await collect(["12345\n"], 5), ["12345"]);
  for (const chunks of [["ok\n123", "456\n"], ["ok\n123456\n"], ["ok\n123", "456"]]) {
    await assert.rejects(
      collect(chunks, 5),
      (error: Error) =>
        error instanceof InputLineTooLong && error.message === "line 2 of stdin is over 5 bytes",
      chunks.join("|"),
    );
  }
});
