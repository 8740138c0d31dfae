/**
 * The store's entries as columns by slot number, instead of one object per key: the key
 * strings in a plain array, and the version (HLC), expiry, value and node of each entry, and the
 * link to the next slot of its tree segment, in typed arrays. No entry is a heap object, and no version is a boxed number: the garbage
 * collector sees the key strings and nothing else per key (see docs/performance.md, Memory).
 *
 * A value is a handle into the store's ValueHeap (>= 0), TOMBSTONE, or STRING_VALUE for a
 * value the heap refuses (longer than MAX_HEAP_VALUE_BYTES, or the heap full), held as a string
 * in a side map. A node is a number of the store's NodeIds.
 *
 * The typed columns grow a page of PAGE_SLOTS slots at a time: no column is ever copied into
 * one twice its size, which at a million keys would hold both copies at once. Slots freed are
 * taken again first. Pure.
 */

import { assert } from "../assert.ts";
import type { Entry } from "./entry.ts";
import type { NodeIds } from "./node_ids.ts";
import type { ValueHeap } from "./value_heap.ts";
import { latin1String } from "./binary.ts";
import type { EntryInBytes } from "./store_types.ts";
import type { SlotView } from "./causality_table.ts";

/** The value of a tombstone (a deleted key). */
export const TOMBSTONE = -1;
/** The value is a string held in the side map (see strings()). */
export const STRING_VALUE = -2;
/** Slots per page of each typed column: 2^PAGE_BITS. */
const PAGE_BITS = 14;
export const PAGE_SLOTS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SLOTS - 1;
/** reserve() sizes the key array up to this; V8 keeps a longer one as a dictionary. */
const MAX_RESERVED_SLOTS = 1 << 24;

export class EntrySlots {
  /** The key of each slot; undefined: a free slot. Read by the index (slot_index.ts). */
  readonly keys: (string | undefined)[] = [];
  readonly #heap: ValueHeap;
  readonly #nodeIds: NodeIds;
  #versions: Float64Array[] = [];
  #expiries: Float64Array[] = [];
  #values: Int32Array[] = [];
  #nodes: Int32Array[] = [];
  /** The next slot of the same tree segment (-1: the last); see segment_lists.ts. */
  #links: Int32Array[] = [];
  /** Values held as strings (STRING_VALUE), by slot. */
  readonly #strings = new Map<number, string>();
  /** Slots given back, taken again first. */
  readonly #free: number[] = [];
  #used = 0;
  /** One past the highest slot ever taken. */
  #end = 0;

  /** `heap` holds the values, `nodeIds` the node ids, that the columns name by number. */
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

  /** Slots in the pages of the typed columns (for memory figures). */
  get capacity(): number {
    return this.#versions.length * PAGE_SLOTS;
  }

  /** A free slot, now holding `key`; its other columns are the caller's to set. */
  allocate(key: string): number {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#end++;
      if ((slot & PAGE_MASK) === 0) this.#addPage();
    }
    this.keys[slot] = key;
    this.#used++;
    return slot;
  }

  /**
   * Sizes the key array for `slots` slots before the first is taken (recovery: a snapshot's
   * entry count), so that it is allocated once instead of grown by copies: measured 40 ms and
   * 2,000 page faults for 1M keys against 145 ms and 7,400 appended one at a time. The slots
   * past end() read as undefined; more than `slots` grow the array as usual.
   */
  reserve(slots: number): void {
    if (this.#end === 0 && slots > this.keys.length && slots <= MAX_RESERVED_SLOTS) {
      this.keys.length = slots;
    }
  }

  /** Gives a slot back (its value already released by the caller). */
  free(slot: number): void {
    assert(this.keys[slot] !== undefined, "EntrySlots.free() is given a slot in use");
    this.keys[slot] = undefined;
    this.#strings.delete(slot);
    this.#free.push(slot);
    this.#used--;
  }

  key(slot: number): string {
    return this.keys[slot]!;
  }

  version(slot: number): number {
    return this.#versions[slot >>> PAGE_BITS]![slot & PAGE_MASK]!;
  }

  setVersion(slot: number, hlc: number): void {
    this.#versions[slot >>> PAGE_BITS]![slot & PAGE_MASK] = hlc;
  }

  expiry(slot: number): number {
    return this.#expiries[slot >>> PAGE_BITS]![slot & PAGE_MASK]!;
  }

  setExpiry(slot: number, expiresAtMs: number): void {
    this.#expiries[slot >>> PAGE_BITS]![slot & PAGE_MASK] = expiresAtMs;
  }

  /** A value handle, TOMBSTONE or STRING_VALUE. */
  value(slot: number): number {
    return this.#values[slot >>> PAGE_BITS]![slot & PAGE_MASK]!;
  }

  setValue(slot: number, value: number): void {
    this.#values[slot >>> PAGE_BITS]![slot & PAGE_MASK] = value;
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
    return this.#nodes[slot >>> PAGE_BITS]![slot & PAGE_MASK]!;
  }

  setNode(slot: number, node: number): void {
    this.#nodes[slot >>> PAGE_BITS]![slot & PAGE_MASK] = node;
  }

  link(slot: number): number {
    return this.#links[slot >>> PAGE_BITS]![slot & PAGE_MASK]!;
  }

  setLink(slot: number, next: number): void {
    this.#links[slot >>> PAGE_BITS]![slot & PAGE_MASK] = next;
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
   * A new slot for `key` holding the entry of a record's bytes (see Store.loadBytes), its value
   * copied into the heap without a string; `node`: a number held for it (NodeIds.hold).
   */
  allocateFromBytes(key: string, bytes: Uint8Array, at: EntryInBytes, node: number): number {
    const slot = this.allocate(key);
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

  /** Every slot that holds an entry, in slot order. Do not allocate or free while iterating. */
  *taken(): IterableIterator<number> {
    const keys = this.keys;
    for (let slot = 0; slot < this.#end; slot++) if (keys[slot] !== undefined) yield slot;
  }

  clear(): void {
    this.keys.length = 0;
    this.#end = 0;
    this.#versions = [];
    this.#expiries = [];
    this.#values = [];
    this.#nodes = [];
    this.#links = [];
    this.#strings.clear();
    this.#free.length = 0;
    this.#used = 0;
  }

  #addPage(): void {
    this.#versions.push(new Float64Array(PAGE_SLOTS));
    this.#expiries.push(new Float64Array(PAGE_SLOTS));
    this.#values.push(new Int32Array(PAGE_SLOTS));
    this.#nodes.push(new Int32Array(PAGE_SLOTS));
    this.#links.push(new Int32Array(PAGE_SLOTS));
  }
}
