/**
 * One rule for what a value may hold (src/store/entry.ts, valueProblem): any byte but LF.
 * Every reader and writer agrees: the protocol parser, the entry codec under the log, snapshots
 * and replication, and the sync codec. A property test sends random values through each.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Entry, valueProblem } from "../../src/store/entry.ts";
import { decodeEntry, entryToBytes } from "../../src/store/entry_codec.ts";
import { hlcFromMs } from "../../src/store/hlc.ts";
import { LineFramer } from "../../src/protocol/framer.ts";
import { parseFramed } from "../../src/protocol/hot_path.ts";
import {
  encodeRecords,
  readRecord,
  salvagePayload,
  scanRecord,
} from "../../src/persistence/record_codec.ts";
import { decodeBatch, encodeBatch } from "../../src/replication/codec.ts";
import { formatEntry, parseEntryLine } from "../../src/anti_entropy/codec.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const LIMITS = { maxKeyBytes: 256, maxValueBytes: 4096, maxKeysPerCommand: 100 };
const HLC = hlcFromMs(1_700_000_000_000);

function entry(key: string, value: string | null): Entry {
  return { key, value, hlc: HLC, node: "node-a", expiresAtMs: 0 };
}

/** A value of up to 40 bytes: any byte but LF, CR one time in four. */
function randomValue(random: SeededRandom): string {
  let value = "";
  const length = random.below(41);
  while (value.length < length) {
    const byte = random.below(4) === 0 ? 13 : random.below(256);
    if (byte !== 10) value += String.fromCharCode(byte);
  }
  return value;
}

/** The value a client's `SET k <value><lineEnd>` stores, read by the framer and the parser. */
function throughProtocol(value: string, lineEnd = "\r\n"): string | null {
  const framer = new LineFramer(LIMITS.maxValueBytes + 64);
  framer.push(Buffer.from(`SET k ${value}${lineEnd}`, "latin1"));
  assert.equal(framer.advance(), true);
  const command = parseFramed(framer, LIMITS);
  return "kind" in command && command.kind === "set" ? command.value : null;
}

Deno.test("valueProblem() accepts every byte but LF and states the length limit", () => {
  for (let byte = 0; byte < 256; byte++) {
    const value = `a${String.fromCharCode(byte)}b`;
    assert.equal(valueProblem(value, 3), byte === 10 ? "value contains LF" : null, `${byte}`);
  }
  assert.equal(valueProblem("abcd", 3), "value too long: 4 bytes, max 3");
});

Deno.test("random values round-trip through the parser, the entry, record, batch and sync codecs", () => {
  const random = new SeededRandom(0xc0ffee);
  for (let round = 0; round < 2000; round++) {
    const value = randomValue(random);
    const written = entry(`key-${round}`, value);
    assert.equal(throughProtocol(value), value, JSON.stringify(value));
    const decoded = decodeEntry(entryToBytes(written), 0, entryToBytes(written).length);
    assert.ok(decoded.ok && decoded.entry.value === value, JSON.stringify(value));
    const { bytes } = encodeRecords([written]);
    assert.deepEqual(readRecord(bytes, 0, bytes.length)?.entries, [written]);
    const batch = decodeBatch(
      encodeBatch({ origin: "node-a", incarnation: 1, firstSequence: 1, entries: [written] }),
    );
    assert.ok(batch.ok && batch.batch.entries[0]?.value === value);
    const line = parseEntryLine(formatEntry(written), LIMITS);
    assert.ok(line.ok && line.value.value === value, JSON.stringify(value));
  }
});

Deno.test("a line ends with LF and at most one CR before it: a value may end in CR", () => {
  assert.equal(throughProtocol("x\r"), "x\r");
  assert.equal(throughProtocol("\r"), "\r");
  // With a bare LF as the line end, one CR before it is taken as part of the line end.
  assert.equal(throughProtocol("x\r", "\n"), "x");
  assert.equal(throughProtocol("x\r\r", "\n"), "x\r");
});

Deno.test("decodeEntry() refuses a value with LF, naming the key and where the entry ends", () => {
  const bytes = entryToBytes(entry("evil", "a\nb"));
  const decoded = decodeEntry(bytes, 0, bytes.length);
  assert.deepEqual(decoded, {
    ok: false,
    error: 'key "evil": value contains LF',
    end: bytes.length,
  });
  const cut = decodeEntry(bytes, 0, bytes.length - 1);
  assert.deepEqual(cut, { ok: false, error: "entry truncated in value", end: null });
});

Deno.test("salvagePayload() keeps every entry around a refused one", () => {
  const { bytes } = encodeRecords([entry("a", "1"), entry("evil", "\n"), entry("b", "2")]);
  const record = scanRecord(bytes, 0, bytes.length);
  assert.equal(record.kind, "record");
  if (record.kind !== "record") return;
  assert.deepEqual(salvagePayload(bytes, record.payloadStart, record.payloadEnd), {
    entries: [entry("a", "1"), entry("b", "2")],
    refused: ['entry 1: key "evil": value contains LF'],
  });
  assert.equal(readRecord(bytes, 0, bytes.length), null);
});
