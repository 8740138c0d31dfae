import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { LineFramer } from "../../src/protocol/framer.ts";
import {
  BYTES_VALUE_MIN_BYTES,
  nodeSetCommand,
  setCommand,
  setKeyEnd,
} from "../../src/protocol/hot_path.ts";

const LIMITS = { maxKeyBytes: 1024, maxValueBytes: 1 << 20, maxKeysPerCommand: 8 };

/** A value of `length` bytes cycling through every byte but LF, CR and NUL among them. */
function value(length: number): string {
  let text = "";
  for (let i = 0; text.length < length; i++) {
    if (i % 256 !== 10) text += String.fromCharCode(i % 256);
  }
  return text;
}

/** A framer holding `SET key <value>` after another line, as the server holds it. */
function framed(valueText: string): LineFramer {
  const framer = new LineFramer(LIMITS.maxValueBytes + 64);
  framer.push(Buffer.from(`PING\r\nSET key ${valueText}\r\nGET key\r\n`, "latin1"));
  assert.equal(framer.advance(), true);
  assert.equal(framer.advance(), true);
  return framer;
}

Deno.test("nodeSetCommand() gives a long value as a view of the line's bytes, a short one as a string", () => {
  for (const length of [0, 1, 100, BYTES_VALUE_MIN_BYTES - 1, BYTES_VALUE_MIN_BYTES, 70_000]) {
    const text = value(length);
    const framer = framed(text);
    const keyEnd = setKeyEnd(framer, LIMITS);
    assert.notEqual(keyEnd, -1);
    const command = nodeSetCommand(framer, keyEnd);
    assert.ok(command.kind === "set");
    assert.equal(command.key, "key");
    if (length < BYTES_VALUE_MIN_BYTES) {
      assert.deepEqual(command, setCommand(framer, keyEnd), `length ${length}`);
      continue;
    }
    const bytes = command.value;
    assert.ok(bytes instanceof Uint8Array, `length ${length}`);
    assert.equal(Buffer.from(bytes).toString("latin1"), text, `length ${length}`);
    // A view, not a copy: it lies in the received bytes, between the key and the line end.
    assert.equal(bytes.buffer, framer.bytes.buffer);
    assert.equal(bytes.byteOffset, framer.bytes.byteOffset + keyEnd + 1);
  }
});
