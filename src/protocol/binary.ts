/**
 * Binary strings: the protocol's keys, values and lines are byte strings, held in JavaScript as
 * strings with one code unit (0..255) per byte (see README, Protocol v1).
 */

const encoder = new TextEncoder();

/**
 * Binary string -> bytes, one byte per code unit. TextEncoder's native loop does the ASCII
 * prefix (replies are mostly ASCII); from the first byte >= 0x80, where UTF-8 would differ,
 * a plain loop copies the rest. Buffer.from(text, "latin1") is many times slower here.
 */
export function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  const { read, written } = encoder.encodeInto(text, bytes);
  if (read !== text.length || written !== read) {
    // Bytes before the first multi-byte UTF-8 sequence are right as they are.
    let start = 0;
    while (start < written && bytes[start] < 0x80) start++;
    for (let i = start; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  }
  return bytes;
}
