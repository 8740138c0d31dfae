import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { hashBytes, hashString } from "../../src/store/hash.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

Deno.test("hashBytes() of bytes is hashString() of the binary string of those bytes", () => {
  const random = new SeededRandom(7);
  for (let round = 0; round < 500; round++) {
    let text = "";
    for (let i = random.below(40); i > 0; i--) text += String.fromCharCode(random.below(256));
    const before = random.below(5);
    const bytes = Buffer.from("x".repeat(before) + text + "y", "latin1");
    const seed = random.below(0x7fffffff);
    const expected = [...hashString(text, seed)];
    assert.deepEqual(
      [...hashBytes(bytes, before, before + text.length, seed)],
      expected,
      JSON.stringify(text),
    );
  }
});
