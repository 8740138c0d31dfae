/**
 * The store's entries as one record per slot number, instead of one object per key: the key, the
 * version (HLC), value and node of each entry, and the link to the next slot of its tree segment,
 * side by side in 24 bytes of a typed page, so that a lookup reads one or two cache lines of them
 * rather than one per field. Expiries are a column of their own, since most stores have none. No
 * entry is a heap object, no key is a string and no version is a boxed number: the garbage
 * collector sees nothing per key (see docs/performance.md, Memory).
 *
 * A key is held as bytes in the store's ValueHeap, beside the values; its record holds the
 * handle plus one (0: a free slot), or KEY_STRING for a key the heap refuses (longer than
 * MAX_HEAP_VALUE_BYTES, or the heap full), held as a string in a side map. The index compares
 * keys through keyEquals() and keyEqualsBytes(), in place. A value is a handle into the heap
 * (>= 0), TOMBSTONE, or STRING_VALUE for a value the heap refuses, held as a string in a side
 * map. A node is a number of the store's NodeIds.
 *
 * The records grow a page of PAGE_SLOTS slots at a time: no page is ever copied into one twice
 * its size, which at a million keys would hold both copies at once. The expiry column's page is
 * made only when an entry of its slots first gets an expiry. Slots freed are taken again first.
 * Pure.
 */

import { assert } from "../assert.ts";
import type { Entry } from "./entry.ts";
import type { NodeIds } from "./node_ids.ts";
import type { ValueHeap } from "./value_heap.ts";
import { isLatin1Of, latin1String } from "./binary.ts";
import type { EntryInBytes } from "./store_types.ts";
import type { SlotView } from "./causality_table.ts";
import type { SlotKeys } from "./slot_index.ts";
import { hashBytes, hashString, type Lanes } from "./hash.ts";

/** The value of a tombstone (a deleted key). */
export const TOMBSTONE = -1;
/** The value is a string held in the side map (see strings()). */
export const STRING_VALUE = -2;
/** Slots per page of records (and of the expiry column): 2^PAGE_BITS. */
const PAGE_BITS = 14;
export const PAGE_SLOTS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SLOTS - 1;
/**
 * A slot's record: 24 bytes, the version (a Float64) first, then four Int32s. A record is
 * RECORD_WIDE Float64s or RECORD_NARROW Int32s; the *_AT offsets are within it, in its units.
 */
const RECORD_BYTES = 24;
const RECORD_WIDE = RECORD_BYTES / Float64Array.BYTES_PER_ELEMENT;
const RECORD_NARROW = RECORD_BYTES / Int32Array.BYTES_PER_ELEMENT;
/** The version (HLC), in Float64s. */
const VERSION_AT = 0;
/** A value handle, TOMBSTONE or STRING_VALUE, in Int32s (after the version's two). */
const VALUE_AT = 2;
/** The number of the entry's node (see NodeIds). */
const NODE_AT = 3;
/** The next slot of the same tree segment (-1: the last); see segment_lists.ts. */
const LINK_AT = 4;
/** A key's heap handle plus one, NO_KEY or KEY_STRING. */
const KEY_AT = 5;
/** In the key field: the key is a string held in the side map (see #keyStrings). */
const KEY_STRING = -1;
/** In the key field: a free slot. */
const NO_KEY = 0;

export class EntrySlots implements SlotKeys {
  readonly #heap: ValueHeap;
  readonly #nodeIds: NodeIds;
  /**
   * The records by page: each page one ArrayBuffer of PAGE_SLOTS records of RECORD_BYTES, seen
   * as Float64s (#wide: the version) and as Int32s (#narrow: value, node, link and key).
   */
  #wide: Float64Array[] = [];
  #narrow: Int32Array[] = [];
  /**
   * Expiries by page; a page no entry with an expiry has touched stays undefined and reads as
   * 0 (no expiry): a store without TTLs keeps no expiry column at all.
   */
  #expiries: (Float64Array | undefined)[] = [];
  /** Keys held as strings (KEY_STRING), by slot. */
  readonly #keyStrings = new Map<number, string>();
  /** Values held as strings (STRING_VALUE), by slot. */
  readonly #strings = new Map<number, string>();
  /** Slots given back, taken again first. */
  readonly #free: number[] = [];
  #used = 0;
  /** One past the highest slot ever taken. */
  #end = 0;

  /** `heap` holds the values, `nodeIds` the node ids, that the records name by number. */
  constructor(heap: ValueHeap, nodeIds: NodeIds) {
    this.#heap = heap;
    this.#nodeIds = nodeIds;
  }

  /** Slots that hold an entry. */
  get used(): number {
    return this.#used;
  }

  /** One past the highest slot ever taken: every slot in use is below it. */
  get end(): number {
    return this.#end;
  }

  /** Slots in the pages of records (for memory figures). */
  get capacity(): number {
    return this.#wide.length * PAGE_SLOTS;
  }

  /** A free slot, now holding `key`; the rest of its record is the caller's to set. */
  allocate(key: string): number {
    const slot = this.#take();
    const handle = this.#heap.storeString(key);
    if (handle === -1) this.#setKeyString(slot, key);
    else this.#setKeyField(slot, handle + 1);
    return slot;
  }

  /** allocate() of the key that is the binary string of `bytes[start, end)`. */
  allocateBytes(bytes: Uint8Array, start: number, end: number): number {
    const slot = this.#take();
    const handle = this.#heap.storeBytes(bytes, start, end);
    if (handle === -1) this.#setKeyString(slot, latin1String(bytes, start, end));
    else this.#setKeyField(slot, handle + 1);
    return slot;
  }

  /** Gives a slot back, and its key's cell (its value already released by the caller). */
  free(slot: number): void {
    const key = this.#keyField(slot);
    assert(key !== NO_KEY, "EntrySlots.free() is given a slot in use");
    if (key === KEY_STRING) this.#keyStrings.delete(slot);
    else this.#heap.free(key - 1);
    this.#setKeyField(slot, NO_KEY);
    this.#strings.delete(slot);
    this.#free.push(slot);
    this.#used--;
  }

  /** Whether a slot below end() holds an entry. */
  holdsKey(slot: number): boolean {
    return this.#keyField(slot) !== NO_KEY;
  }

  /** The key of a slot in use, as a new binary string. */
  key(slot: number): string {
    const key = this.#keyField(slot);
    return key === KEY_STRING ? this.#keyStrings.get(slot)! : this.#heap.decode(key - 1);
  }

  /** Whether the key of a slot in use is `key`. */
  keyEquals(slot: number, key: string): boolean {
    const held = this.#keyField(slot);
    if (held === KEY_STRING) return this.#keyStrings.get(slot) === key;
    return this.#heap.equalsString(held - 1, key);
  }

  /** Whether the key of a slot in use is the binary string of `bytes[start, end)`. */
  keyEqualsBytes(slot: number, bytes: Uint8Array, start: number, end: number): boolean {
    const held = this.#keyField(slot);
    if (held !== KEY_STRING) return this.#heap.equalsBytes(held - 1, bytes, start, end);
    return isLatin1Of(this.#keyStrings.get(slot)!, bytes, start, end);
  }

  /** The length of a slot's key, read where it is held (the index's prefetch loads it so). */
  keyLength(slot: number): number {
    const held = this.#keyField(slot);
    return held === KEY_STRING ? this.#keyStrings.get(slot)!.length : this.#heap.length(held - 1);
  }

  /**
   * The key of a slot in use against the binary string `text`, in byte order (negative, 0,
   * positive); `prefixOnly`: 0 when `text` is a prefix of the key.
   */
  compareKey(slot: number, text: string, prefixOnly = false): number {
    const held = this.#keyField(slot);
    if (held !== KEY_STRING) return this.#heap.compareString(held - 1, text, prefixOnly);
    const key = this.#keyStrings.get(slot)!;
    const compared = prefixOnly ? key.slice(0, text.length) : key;
    return compared < text ? -1 : compared === text ? 0 : 1;
  }

  /** hashBytes() of a slot's key with `seed`, read in place (as hashString() of its string). */
  keyHash(slot: number, seed: number): Lanes {
    const held = this.#keyField(slot);
    if (held === KEY_STRING) return hashString(this.#keyStrings.get(slot)!, seed);
    const heap = this.#heap;
    const start = heap.startOf(held - 1);
    return hashBytes(heap.slabOf(held - 1), start, start + heap.length(held - 1), seed);
  }

  version(slot: number): number {
    return this.#wide[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_WIDE + VERSION_AT]!;
  }

  setVersion(slot: number, hlc: number): void {
    this.#wide[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_WIDE + VERSION_AT] = hlc;
  }

  expiry(slot: number): number {
    return this.#expiries[slot >>> PAGE_BITS]?.[slot & PAGE_MASK] ?? 0;
  }

  setExpiry(slot: number, expiresAtMs: number): void {
    const page = slot >>> PAGE_BITS;
    let expiries = this.#expiries[page];
    if (expiries === undefined) {
      if (expiresAtMs === 0) return;
      expiries = this.#expiries[page] = new Float64Array(PAGE_SLOTS);
    }
    expiries[slot & PAGE_MASK] = expiresAtMs;
  }

  /** A value handle, TOMBSTONE or STRING_VALUE. */
  value(slot: number): number {
    return this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + VALUE_AT]!;
  }

  setValue(slot: number, value: number): void {
    this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + VALUE_AT] = value;
  }

  /** The string of a slot whose value is STRING_VALUE. */
  string(slot: number): string {
    return this.#strings.get(slot)!;
  }

  /** Makes the slot's value STRING_VALUE, holding `value`. */
  setString(slot: number, value: string): void {
    this.setValue(slot, STRING_VALUE);
    this.#strings.set(slot, value);
  }

  node(slot: number): number {
    return this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + NODE_AT]!;
  }

  setNode(slot: number, node: number): void {
    this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + NODE_AT] = node;
  }

  link(slot: number): number {
    return this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + LINK_AT]!;
  }

  setLink(slot: number, next: number): void {
    this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + LINK_AT] = next;
  }

  /** The id string of the node of a slot's entry. */
  nodeName(slot: number): string {
    return this.#nodeIds.name(this.node(slot));
  }

  /** Whether a slot holds a tombstone. */
  isTombstone(slot: number): boolean {
    return this.value(slot) === TOMBSTONE;
  }

  /** Whether `slot` holds a live entry at `nowMs`: not absent (-1), deleted or expired. */
  isLive(slot: number, nowMs: number): boolean {
    if (slot < 0 || this.value(slot) === TOMBSTONE) return false;
    const expiresAtMs = this.expiry(slot);
    return expiresAtMs === 0 || expiresAtMs > nowMs;
  }

  /** The value of a slot's entry, decoded from the heap; null for a tombstone. */
  decoded(slot: number): string | null {
    const value = this.value(slot);
    if (value >= 0) return this.#heap.decode(value);
    return value === TOMBSTONE ? null : this.string(slot);
  }

  /** A slot's entry as an object of its own (without its counter state and causality). */
  entry(slot: number): Entry {
    return {
      key: this.key(slot),
      value: this.decoded(slot),
      hlc: this.version(slot),
      node: this.nodeName(slot),
      expiresAtMs: this.expiry(slot),
    };
  }

  /** What the causality table reads of a slot's entry, as it is now. */
  view(slot: number): SlotView {
    return {
      slot,
      node: this.nodeName(slot),
      hlc: this.version(slot),
      expiresAtMs: this.expiry(slot),
    };
  }

  /**
   * Gives a slot its entry's state. `value`: held in the heap, or as a string when the heap
   * refuses it; null: a tombstone. `node`: a number held for it (NodeIds.hold).
   */
  set(slot: number, value: string | null, hlc: number, node: number, expiresAtMs: number): void {
    if (value === null) this.setValue(slot, TOMBSTONE);
    else {
      const handle = this.#heap.storeString(value);
      if (handle === -1) this.setString(slot, value);
      else this.setValue(slot, handle);
    }
    this.setVersion(slot, hlc);
    this.setNode(slot, node);
    this.setExpiry(slot, expiresAtMs);
  }

  /**
   * A new slot holding the entry of a record's bytes (see Store.loadBytes), its key and value
   * copied into the heap without a string; `node`: a number held for it (NodeIds.hold).
   */
  allocateFromBytes(bytes: Uint8Array, at: EntryInBytes, node: number): number {
    const slot = this.allocateBytes(bytes, at.keyStart, at.keyEnd);
    const { valueStart, valueEnd } = at;
    if (valueStart === -1) this.setValue(slot, TOMBSTONE);
    else {
      const handle = this.#heap.storeBytes(bytes, valueStart, valueEnd);
      if (handle === -1) this.setString(slot, latin1String(bytes, valueStart, valueEnd));
      else this.setValue(slot, handle);
    }
    this.setVersion(slot, at.hlc);
    this.setNode(slot, node);
    // A tombstone keeps no expiry (see storedForm).
    this.setExpiry(slot, valueStart === -1 ? 0 : at.expiresAtMs);
    return slot;
  }

  /** Gives back what a slot's entry holds: its value's cell or string, and its node number. */
  release(slot: number): void {
    const value = this.value(slot);
    if (value >= 0) this.#heap.free(value);
    else if (value === STRING_VALUE) this.#strings.delete(slot);
    this.#nodeIds.release(this.node(slot));
  }

  /**
   * Moves the slot's key and value out of slabs that compaction is emptying (see
   * value_heap.ts), where the heap has room for them elsewhere.
   */
  relocate(slot: number): void {
    const heap = this.#heap;
    const key = this.#keyField(slot);
    if (key > 0 && heap.isEvacuating(key - 1)) {
      this.#setKeyField(slot, heap.relocate(key - 1) + 1);
    }
    const value = this.value(slot);
    if (value >= 0 && heap.isEvacuating(value)) this.setValue(slot, heap.relocate(value));
  }

  /** Every slot that holds an entry, in slot order. Do not allocate or free while iterating. */
  *taken(): IterableIterator<number> {
    for (let slot = 0; slot < this.#end; slot++) if (this.holdsKey(slot)) yield slot;
  }

  clear(): void {
    this.#wide = [];
    this.#narrow = [];
    this.#keyStrings.clear();
    this.#end = 0;
    this.#expiries = [];
    this.#strings.clear();
    this.#free.length = 0;
    this.#used = 0;
  }

  /** A free slot: one given back, else the next one past end(). */
  #take(): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#end++;
      if ((slot & PAGE_MASK) === 0) this.#addPage();
    }
    this.#used++;
    return slot;
  }

  /** A key's heap handle plus one, NO_KEY or KEY_STRING. */
  #keyField(slot: number): number {
    return this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + KEY_AT]!;
  }

  #setKeyField(slot: number, key: number): void {
    this.#narrow[slot >>> PAGE_BITS]![(slot & PAGE_MASK) * RECORD_NARROW + KEY_AT] = key;
  }

  #setKeyString(slot: number, key: string): void {
    this.#setKeyField(slot, KEY_STRING);
    this.#keyStrings.set(slot, key);
  }

  #addPage(): void {
    const page = new ArrayBuffer(PAGE_SLOTS * RECORD_BYTES);
    this.#wide.push(new Float64Array(page));
    this.#narrow.push(new Int32Array(page));
    this.#expiries.push(undefined);
  }
}
