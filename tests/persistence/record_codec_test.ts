import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  checkLogHeader,
  checksum,
  decodePayload,
  decodeSnapshotHeader,
  decodeSnapshotTrailer,
  encodedRecordsLength,
  encodeLogHeader,
  encodeRecords,
  encodeSnapshotHeader,
  encodeSnapshotTrailer,
  findValidRecord,
  LOG_HEADER_BYTES,
  readRecord,
  RECORD_HEADER_BYTES,
  RECORD_TARGET_PAYLOAD_BYTES,
  salvageRecords,
  scanRecord,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TRAILER_BYTES,
} from "../../src/persistence/record_codec.ts";
import type { Entry } from "../../src/store/entry.ts";
import { SeededRandom } from "../_support/seeded_random.ts";

const HLC = 1_700_000_000_000 * 1024;
const ENTRIES: [Entry, Entry, Entry, Entry] = [
  { key: "user:1", value: "alice", hlc: HLC + 1, node: "node-a", expiresAtMs: 0 },
  { key: "gone", value: null, hlc: HLC + 2, node: "node-b", expiresAtMs: 0 },
  {
    key: "session",
    value: "\x00\xff binary \x7f",
    hlc: HLC + 3,
    node: "node-a",
    expiresAtMs: 1_700_000_060_000,
  },
  { key: "empty", value: "", hlc: HLC + 4, node: "n", expiresAtMs: 0 },
];

function recordsOf(bytes: Buffer): Entry[][] {
  const records: Entry[][] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const record = readRecord(bytes, offset, bytes.length);
    assert.ok(record !== null, `a record at ${offset}`);
    records.push(record.entries);
    offset = record.next;
  }
  return records;
}

Deno.test("checksum() is the standard CRC32 (IEEE) of the bytes", () => {
  assert.equal(checksum(Buffer.from("123456789", "latin1")), 0xcbf43926);
  assert.equal(checksum(Buffer.alloc(0)), 0);
  assert.equal(checksum(Buffer.from("xx123456789yy", "latin1"), 2, 11), 0xcbf43926);
});

Deno.test("the log header is 16 bytes: magic, version 1, flags, CRC32", () => {
  const header = encodeLogHeader();
  assert.equal(header.length, LOG_HEADER_BYTES);
  assert.equal(header.toString("latin1", 0, 8), "MKV-LOG\n");
  assert.equal(header.readUInt16LE(8), 1);
  assert.equal(header.readUInt16LE(10), 0);
  assert.equal(header.readUInt32LE(12), checksum(header, 0, 12));
  assert.equal(checkLogHeader(header), null);
});

Deno.test("checkLogHeader() names what is wrong with a header", () => {
  const cases: [string, (bytes: Buffer) => Buffer, RegExp][] = [
    ["truncated", (bytes) => bytes.subarray(0, 10), /truncated/],
    ["bad magic", (bytes) => (bytes.write("XKV", 0, "latin1"), bytes), /bad magic/],
    [
      "flipped bit",
      (bytes) => (bytes.writeUInt8(bytes.readUInt8(10) ^ 1, 10), bytes),
      /checksum mismatch/,
    ],
    ["snapshot header", () => encodeSnapshotHeader({ createdAtMs: 1, hlc: 2 }), /bad magic/],
  ];
  for (const [name, damage, expected] of cases) {
    assert.match(checkLogHeader(damage(encodeLogHeader())) ?? "", expected, name);
  }
  const future = encodeLogHeader();
  future.writeUInt16LE(2, 8);
  future.writeUInt32LE(checksum(future, 0, 12), 12);
  assert.equal(
    checkLogHeader(future),
    "log format version 2 is not supported (this build reads 1)",
  );
});

Deno.test("the snapshot header and trailer round-trip and reject damage", () => {
  const header = encodeSnapshotHeader({ createdAtMs: 1_700_000_000_123, hlc: HLC + 77 });
  assert.equal(header.length, SNAPSHOT_HEADER_BYTES);
  assert.equal(header.toString("latin1", 0, 8), "MKV-SNP\n");
  assert.deepEqual(decodeSnapshotHeader(header), {
    ok: true,
    header: { createdAtMs: 1_700_000_000_123, hlc: HLC + 77 },
  });
  header.writeUInt8(header.readUInt8(15) ^ 4, 15);
  assert.deepEqual(decodeSnapshotHeader(header), {
    ok: false,
    error: "snapshot header checksum mismatch",
  });

  const trailer = encodeSnapshotTrailer({ entryCount: 1_000_001, recordCount: 42 });
  assert.equal(trailer.length, SNAPSHOT_TRAILER_BYTES);
  assert.equal(trailer.toString("latin1", 0, 8), "MKV-END\n");
  assert.deepEqual(decodeSnapshotTrailer(trailer), {
    ok: true,
    trailer: { entryCount: 1_000_001, recordCount: 42 },
  });
  trailer.writeUInt8(trailer.readUInt8(17) ^ 1, 17);
  assert.deepEqual(decodeSnapshotTrailer(trailer), {
    ok: false,
    error: "trailer checksum mismatch",
  });
  assert.equal(decodeSnapshotTrailer(Buffer.alloc(24)).ok, false);
});

Deno.test("encodeRecords() then readRecord() gives back every entry as written", () => {
  const { bytes, records } = encodeRecords(ENTRIES);
  assert.equal(records, 1);
  assert.equal(bytes.length, encodedRecordsLength(ENTRIES));
  assert.deepEqual(recordsOf(bytes), [ENTRIES]);
});

Deno.test("a record is length, CRC32 of the payload, entry count, entries", () => {
  const { bytes } = encodeRecords([ENTRIES[0]]);
  const length = bytes.readUInt32LE(0);
  assert.equal(bytes.length, RECORD_HEADER_BYTES + length);
  assert.equal(bytes.readUInt32LE(4), checksum(bytes, 8, bytes.length));
  assert.equal(bytes.readUInt32LE(8), 1);
  // The entry itself is the shared entry codec's: flags, hlc, node, key, value.
  assert.equal(bytes[12], 0);
  assert.equal(bytes.readDoubleLE(13), HLC + 1);
});

Deno.test("encodeRecords() starts a new record once a payload reaches the target size", () => {
  const value = "v".repeat(300 * 1024);
  const entries: Entry[] = [];
  for (let i = 0; i < 7; i++) {
    entries.push({ key: `big:${i}`, value, hlc: HLC + i, node: "n", expiresAtMs: 0 });
  }
  const { bytes, records } = encodeRecords(entries);
  const decoded = recordsOf(bytes);
  assert.equal(records, decoded.length);
  assert.deepEqual(decoded.map((record) => record.length), [4, 3]);
  assert.deepEqual(decoded.flat(), entries);
  // A single entry larger than the target still gets a record of its own.
  const huge = { key: "huge", value: "x".repeat(RECORD_TARGET_PAYLOAD_BYTES + 10), hlc: HLC };
  const single = encodeRecords([{ ...huge, node: "n", expiresAtMs: 0 }]);
  assert.equal(single.records, 1);
  assert.equal(recordsOf(single.bytes)[0]?.[0]?.value, huge.value);
  assert.equal(encodeRecords([]).bytes.length, 0);
});

Deno.test("scanRecord() calls every strict prefix of a record incomplete", () => {
  const { bytes } = encodeRecords(ENTRIES);
  for (let end = 0; end < bytes.length; end++) {
    assert.equal(scanRecord(bytes, 0, end).kind, "incomplete", `cut at ${end}`);
  }
  assert.equal(scanRecord(bytes, 0, bytes.length).kind, "record");
});

Deno.test("a flipped bit anywhere in a record is detected", () => {
  const { bytes } = encodeRecords(ENTRIES);
  for (let offset = 0; offset < bytes.length; offset++) {
    for (const bit of [0, 3, 7]) {
      const damaged = Buffer.from(bytes);
      damaged.writeUInt8(damaged.readUInt8(offset) ^ (1 << bit), offset);
      assert.equal(readRecord(damaged, 0, damaged.length), null, `byte ${offset} bit ${bit}`);
    }
  }
});

Deno.test("decodePayload() rejects malformed payloads with a reason", () => {
  const valid = encodeRecords([ENTRIES[0]]).bytes.subarray(RECORD_HEADER_BYTES);
  const withCount = (count: number, rest: Buffer) => {
    const payload = Buffer.alloc(4 + rest.length);
    payload.writeUInt32LE(count, 0);
    rest.copy(payload, 4);
    return payload;
  };
  const entryBytes = valid.subarray(4);
  const cases: [string, Buffer, RegExp][] = [
    ["too short", Buffer.alloc(3), /payload truncated/],
    ["no entries", withCount(0, Buffer.alloc(0)), /without entries/],
    ["count too high", withCount(2, entryBytes), /entry 1: entry truncated/],
    ["trailing bytes", withCount(1, Buffer.concat([entryBytes, Buffer.alloc(2)])), /2 bytes after/],
    [
      "bad flags",
      withCount(1, Buffer.concat([Buffer.from([17]), entryBytes.subarray(1)])),
      /flags/,
    ],
  ];
  for (const [name, payload, expected] of cases) {
    const decoded = decodePayload(payload, 0, payload.length);
    assert.equal(decoded.ok, false, name);
    assert.match((decoded as { error: string }).error, expected, name);
  }
});

Deno.test("scanRecord() rejects lengths below the entry count or above the maximum", () => {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32LE(3, 0);
  assert.deepEqual(scanRecord(bytes, 0, 16), {
    kind: "corrupt",
    reason: "invalid record length 3",
  });
  bytes.writeUInt32LE(0xffffffff, 0);
  assert.equal(scanRecord(bytes, 0, 16).kind, "corrupt");
});

Deno.test("findValidRecord() finds the next record after garbage, or -1", () => {
  const first = encodeRecords([ENTRIES[0]]).bytes;
  const second = encodeRecords([ENTRIES[1]]).bytes;
  const garbage = Buffer.from("garbage\x00\x01\x02", "latin1");
  const bytes = Buffer.concat([first, garbage, second]);
  assert.equal(findValidRecord(bytes, 1, bytes.length), first.length + garbage.length);
  assert.equal(findValidRecord(bytes, first.length + garbage.length + 1, bytes.length), -1);
});

Deno.test("salvageRecords() keeps every valid record around damaged ranges", () => {
  const random = new SeededRandom(7);
  const [first, second, third, fourth] = ENTRIES.map((entry) => encodeRecords([entry]).bytes);
  assert.ok(
    first !== undefined && second !== undefined && third !== undefined && fourth !== undefined,
    "a record per entry",
  );
  const damagedPart = Buffer.from(second);
  const flipAt = RECORD_HEADER_BYTES + random.below(damagedPart.length - RECORD_HEADER_BYTES);
  damagedPart.writeUInt8(damagedPart.readUInt8(flipAt) ^ 0x10, flipAt);
  const bytes = Buffer.concat([first, damagedPart, third, fourth]);
  const salvage = salvageRecords(bytes, 0, bytes.length);
  assert.equal(salvage.entryCount, 3);
  assert.deepEqual(salvage.damaged, [[first.length, first.length + damagedPart.length]]);
  assert.deepEqual(
    salvage.records.map(([start, end]) => readRecord(bytes, start, end)?.entries[0]?.key),
    ["user:1", "session", "empty"],
  );
});
