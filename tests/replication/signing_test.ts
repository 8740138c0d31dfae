/**
 * Signed batches and announcements (formats 2): the bytes, both ways, and the tag checked by
 * Signer: every tampered byte, another key, a missing tag (see docs/replication-security.md).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  type ChangeBatch,
  compareOrders,
  decodeBatch,
  decodeSignedAnnouncement,
  encodeBatch,
  encodedBatchLength,
  encodeSignedAnnouncement,
  KEY_ID_BYTES,
  SIGNED_ANNOUNCEMENT_FIRST_BYTE,
  SIGNED_BATCH_FORMAT_VERSION,
  signedParts,
  TAG_BYTES,
} from "../../src/replication/codec.ts";
import { hex, keyIdOf, Signer, type SigningKey } from "../../src/replication/signing.ts";
import type { Entry } from "../../src/store/entry.ts";

const encoder = new TextEncoder();
const SET: Entry = {
  key: "user:1",
  value: "alice",
  hlc: 1_700_000_000_000 * 1024 + 3,
  node: "node-a",
  expiresAtMs: 0,
};
const BATCH: ChangeBatch = {
  origin: "node-a",
  incarnation: 0xdeadbeef,
  firstSequence: 42,
  entries: [SET, { ...SET, key: "gone", value: null }],
};

function key(text: string): SigningKey {
  const secret = encoder.encode(text);
  return { id: keyIdOf(secret), secret };
}

const OLD = key("0123456789abcdef0123456789abcdef-old");
const NEW = key("fedcba9876543210fedcba9876543210-new");
const OTHER = key("an attacker's key, 32 characters or more");

async function signedBatch(signer: Signer, batch = BATCH): Promise<Buffer> {
  const bytes = encodeBatch(batch, signer.keyId);
  await signer.sign(bytes);
  return bytes;
}

async function check(signer: Signer, bytes: Uint8Array, firstByte: number): Promise<string | null> {
  const parts = signedParts(bytes, firstByte);
  if (parts === null) return "not signed";
  return await signer.verify(parts);
}

Deno.test("keyIdOf() is the first 8 bytes of SHA-256 of the key", () => {
  // printf 'abc' | sha256sum -> ba7816bf8f01cfea414140de5dae2223...
  assert.equal(hex(keyIdOf(encoder.encode("abc"))), "ba7816bf8f01cfea");
  assert.equal(OLD.id.length, KEY_ID_BYTES);
});

Deno.test("encodeBatch() with a key id writes format 2: version, key id, the fields, a tag", async () => {
  const signer = new Signer([OLD]);
  const unsigned = encodeBatch(BATCH);
  const bytes = encodeBatch(BATCH, signer.keyId);
  assert.equal(bytes.length, encodedBatchLength(BATCH.origin, BATCH.entries) + 8 + 32);
  assert.equal(bytes[0], SIGNED_BATCH_FORMAT_VERSION);
  assert.deepEqual([...bytes.subarray(1, 9)], [...OLD.id]);
  assert.deepEqual(bytes.subarray(9, bytes.length - TAG_BYTES), unsigned.subarray(1));
  assert.deepEqual([...bytes.subarray(bytes.length - TAG_BYTES)], new Array(32).fill(0));
  await signer.sign(bytes);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  // The same HMAC, computed another way.
  const expected = createHmac("sha256", OLD.secret)
    .update(bytes.subarray(0, bytes.length - TAG_BYTES))
    .digest();
  assert.deepEqual([...tag], [...expected]);
});

Deno.test("decodeBatch() reads format 2 as the same batch as format 1", async () => {
  const bytes = await signedBatch(new Signer([OLD]));
  const decoded = decodeBatch(bytes);
  assert.deepEqual(decoded, { ok: true, batch: BATCH });
  assert.deepEqual(decodeBatch(bytes.subarray(0, 40)), {
    ok: false,
    error: "batch truncated in signature",
  });
});

Deno.test("signedParts() finds the key id, the signed bytes and the tag, or null when unsigned", async () => {
  const bytes = await signedBatch(new Signer([OLD]));
  const parts = signedParts(bytes, SIGNED_BATCH_FORMAT_VERSION);
  assert.ok(parts !== null);
  assert.deepEqual([...parts.keyId], [...OLD.id]);
  assert.equal(parts.signed.length, bytes.length - TAG_BYTES);
  assert.equal(parts.tag.length, TAG_BYTES);
  assert.equal(signedParts(encodeBatch(BATCH), SIGNED_BATCH_FORMAT_VERSION), null);
  assert.equal(signedParts(bytes.subarray(0, 40), SIGNED_BATCH_FORMAT_VERSION), null);
  assert.equal(signedParts(bytes, SIGNED_ANNOUNCEMENT_FIRST_BYTE), null);
});

Deno.test("Signer.verify() accepts its own tag and any key of the file, the first signing", async () => {
  const rotated = new Signer([NEW, OLD]);
  const old = new Signer([OLD]);
  assert.equal(await check(rotated, await signedBatch(old), SIGNED_BATCH_FORMAT_VERSION), null);
  assert.equal(await check(old, await signedBatch(old), SIGNED_BATCH_FORMAT_VERSION), null);
  const byRotated = await signedBatch(rotated);
  assert.deepEqual([...byRotated.subarray(1, 9)], [...NEW.id]);
  assert.match(
    String(await check(old, byRotated, SIGNED_BATCH_FORMAT_VERSION)),
    new RegExp(`signed with key id ${hex(NEW.id)}, which this node does not have`),
  );
});

Deno.test("Signer.verify() rejects a batch with any single byte changed, at every offset", async () => {
  const signer = new Signer([OLD]);
  const good = await signedBatch(signer);
  for (let offset = 0; offset < good.length; offset++) {
    const copy = Buffer.from(good);
    copy[offset] = (copy[offset] ?? 0) ^ 0x01;
    const problem = await check(signer, copy, SIGNED_BATCH_FORMAT_VERSION);
    assert.notEqual(problem, null, `byte ${offset} changed, still accepted`);
  }
});

Deno.test("Signer.verify() rejects another key's tag under our key id, and a tag moved to other bytes", async () => {
  const signer = new Signer([OLD]);
  const forged = encodeBatch(BATCH, OLD.id);
  await new Signer([OTHER]).sign(forged); // the attacker's tag, our key id
  assert.match(String(await check(signer, forged, SIGNED_BATCH_FORMAT_VERSION)), /wrong tag/);
  // A real tag replayed on altered bytes.
  const real = await signedBatch(signer);
  const altered = encodeBatch({ ...BATCH, entries: [{ ...SET, value: "mallory" }] }, OLD.id);
  altered.set(real.subarray(real.length - TAG_BYTES), altered.length - TAG_BYTES);
  assert.match(String(await check(signer, altered, SIGNED_BATCH_FORMAT_VERSION)), /wrong tag/);
});

Deno.test("encodeSignedAnnouncement() then decodeSignedAnnouncement() returns it, gone or not", async () => {
  const signer = new Signer([OLD]);
  for (const address of ["127.0.0.1:7878", "[::1]:1", null]) {
    const announcement = {
      nodeId: "node-a",
      address,
      order: { epochMs: 1_700_000_000_000, connection: 3 },
    };
    const bytes = encodeSignedAnnouncement(announcement, signer.keyId);
    assert.equal(bytes[0], 0x82);
    await signer.sign(bytes);
    assert.deepEqual(decodeSignedAnnouncement(bytes), { ok: true, announcement });
    assert.equal(await check(signer, bytes, SIGNED_ANNOUNCEMENT_FIRST_BYTE), null);
    const json = new TextDecoder().decode(bytes.subarray(9, bytes.length - 32));
    assert.equal(
      json,
      `{"format":2,"node_id":"node-a","address":${JSON.stringify(address)},` +
        `"epoch_ms":1700000000000,"connection":3}`,
    );
  }
});

Deno.test("Signer.verify() rejects an announcement with any single byte changed", async () => {
  const signer = new Signer([OLD]);
  const good = encodeSignedAnnouncement(
    { nodeId: "node-a", address: "10.0.0.5:7878", order: { epochMs: 5, connection: 1 } },
    signer.keyId,
  );
  await signer.sign(good);
  for (let offset = 0; offset < good.length; offset++) {
    const copy = new Uint8Array(good);
    copy[offset] = (copy[offset] ?? 0) ^ 0x20;
    const problem = await check(signer, copy, SIGNED_ANNOUNCEMENT_FIRST_BYTE);
    assert.notEqual(problem, null, `byte ${offset} changed, still accepted`);
  }
});

Deno.test("decodeSignedAnnouncement() returns an error for every malformed announcement", () => {
  const frame = (json: string) => {
    const body = encoder.encode(json);
    const bytes = new Uint8Array(9 + body.length + 32);
    bytes[0] = SIGNED_ANNOUNCEMENT_FIRST_BYTE;
    bytes.set(body, 9);
    return bytes;
  };
  const valid = { format: 2, node_id: "a", address: "h:1", epoch_ms: 1, connection: 1 };
  const cases: [string, Uint8Array, RegExp][] = [
    ["format 1 JSON", encoder.encode('{"format":1}'), /not a signed announcement/],
    ["too short", new Uint8Array([0x82, 1, 2]), /truncated in signature/],
    ["not JSON", frame("hello"), /not UTF-8 JSON/],
    ["an array", frame("[1]"), /not an object/],
    ["format 1 inside", frame(JSON.stringify({ ...valid, format: 1 })), /unknown .* format 1/],
    ["bad node id", frame(JSON.stringify({ ...valid, node_id: "a b" })), /invalid node_id/],
    ["bad address", frame(JSON.stringify({ ...valid, address: "h" })), /invalid address/],
    ["no epoch", frame(JSON.stringify({ ...valid, epoch_ms: undefined })), /invalid epoch_ms/],
    ["epoch -1", frame(JSON.stringify({ ...valid, epoch_ms: -1 })), /invalid epoch_ms/],
    ["connection 0", frame(JSON.stringify({ ...valid, connection: 0 })), /invalid connection/],
    ["connection 1.5", frame(JSON.stringify({ ...valid, connection: 1.5 })), /invalid connection/],
    ["too long", frame(JSON.stringify({ ...valid, x: "x".repeat(5000) })), /too long/],
  ];
  for (const [name, bytes, expected] of cases) {
    const result = decodeSignedAnnouncement(bytes);
    assert.equal(result.ok, false, `${name}: decoded`);
    if (!result.ok) assert.match(result.error, expected, name);
  }
  assert.equal(decodeSignedAnnouncement(frame(JSON.stringify(valid))).ok, true);
});

Deno.test("compareOrders() orders by process start, then by connection", () => {
  assert.ok(compareOrders({ epochMs: 2, connection: 1 }, { epochMs: 1, connection: 9 }) > 0);
  assert.ok(compareOrders({ epochMs: 1, connection: 2 }, { epochMs: 1, connection: 3 }) < 0);
  assert.equal(compareOrders({ epochMs: 1, connection: 2 }, { epochMs: 1, connection: 2 }), 0);
});
