import assert from "node:assert/strict";
import { encodeLatin1, writeLatin1 } from "../../src/store/binary.ts";

const ALL_BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

function assertBytes(bytes: Uint8Array, text: string, offset = 0): void {
  for (let i = 0; i < text.length; i++) {
    assert.equal(bytes[offset + i], text.charCodeAt(i), `byte ${i} of ${JSON.stringify(text)}`);
  }
}

Deno.test("encodeLatin1() writes one byte per code unit, for every byte value and length", () => {
  const texts = [
    "",
    "abc",
    "\x80",
    "a\x80b",
    "abc\xff\xfe\x00z",
    ALL_BYTES,
    "x".repeat(100) + "\xe9" + "y".repeat(100),
    "\xe9".repeat(70),
  ];
  for (const text of texts) {
    const bytes = encodeLatin1(text);
    assert.equal(bytes.length, text.length);
    assertBytes(bytes, text);
  }
});

Deno.test("writeLatin1() writes at an offset and returns the end, leaving other bytes alone", () => {
  for (const text of ["short\xff", "long ".repeat(20) + "\xff\x80", ALL_BYTES]) {
    const bytes = new Uint8Array(text.length + 10).fill(7);
    assert.equal(writeLatin1(text, bytes, 5), 5 + text.length);
    assertBytes(bytes, text, 5);
    assert.deepEqual([...bytes.subarray(0, 5)], [7, 7, 7, 7, 7]);
    assert.deepEqual([...bytes.subarray(5 + text.length)], [7, 7, 7, 7, 7]);
  }
});
