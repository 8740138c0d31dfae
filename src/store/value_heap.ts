/**
 * The value heap: stored values, and the store's keys beside them, as bytes in large slabs
 * outside the V8 heap, so that the garbage collector neither copies them out of the young
 * generation nor marks them (see docs/performance.md, Values outside the heap, and Memory, Keys
 * in slabs). The heap knows no difference between a key and a value: "value" below means either.
 * Pure: no I/O, no timers.
 *
 * Layout. A slab is SLAB_BYTES of one ArrayBuffer, cut into cells of one size class. A cell holds
 * a value as a 4-byte little-endian length and then its bytes. A value is named by a handle, a
 * small integer `slab << CELL_BITS | cell` below 2^30, which V8 keeps in an object's field as a
 * small integer (Smi) without a box. Nothing in a slab points into the JavaScript heap, so the
 * slabs could be SharedArrayBuffers read by other threads.
 *
 * Free space. Each slab has a free list of its cells (a free cell's first 4 bytes hold the next
 * free cell, -1 ends) and a bump mark below which every cell has been used once; each size class
 * has a stack of slabs with room. An empty slab is released at once. Compaction: planCompaction()
 * marks slabs that are at most a quarter full, and whose live cells fit elsewhere in their class,
 * as evacuating; no new value goes there, the owner moves each of their live values with
 * relocate() (the store does this a bounded number of entries per step), and a slab is released
 * when its last value leaves.
 */

import { Buffer } from "node:buffer";
import { assert } from "../assert.ts";
import { isLatin1Of, writeLatin1 } from "./binary.ts";

/** Bytes of one slab. */
export const SLAB_BYTES = 1 << 20;
/** The length before a value's bytes in its cell. */
const LENGTH_BYTES = 4;
const CELL_ALIGN_BYTES = 8;
/** Cells per slab are below 2^CELL_BITS (SLAB_BYTES / the smallest cell). */
const CELL_BITS = 17;
const CELL_MASK = (1 << CELL_BITS) - 1;
/** Slabs at most: handles stay below 2^30, V8's small-integer range (8 GiB of slabs). */
export const MAX_VALUE_HEAP_SLABS = 1 << 13;
/** Cell sizes step by 8 bytes up to this, then grow by a quarter. */
const FINE_CELL_MAX_BYTES = 256;
const CELL_GROWTH = 1.25;
/** The largest cell: values up to 32 KiB less the length go in the heap, longer stay strings. */
const MAX_CELL_BYTES = 32 * 1024;
/** A slab at most this full (live cells over capacity) is a candidate for evacuation. */
const SPARSE_SLAB_RATIO = 0.25;
const END = -1;
const AVAILABLE = 1;
const EVACUATING = 2;

function roundToCell(bytes: number): number {
  return Math.ceil(bytes / CELL_ALIGN_BYTES) * CELL_ALIGN_BYTES;
}

function cellSizes(): number[] {
  const sizes: number[] = [];
  for (let size = CELL_ALIGN_BYTES; size <= FINE_CELL_MAX_BYTES; size += CELL_ALIGN_BYTES) {
    sizes.push(size);
  }
  let size = FINE_CELL_MAX_BYTES;
  while (size < MAX_CELL_BYTES) {
    size = Math.min(MAX_CELL_BYTES, roundToCell(size * CELL_GROWTH));
    sizes.push(size);
  }
  return sizes;
}

/** The cell size of each size class, ascending. */
export const CELL_SIZES: readonly number[] = cellSizes();
/** The longest value the heap holds. */
export const MAX_HEAP_VALUE_BYTES = MAX_CELL_BYTES - LENGTH_BYTES;

/** The size class of a cell of `units` * 8 bytes, at units. */
const CLASS_OF_UNITS = (() => {
  const table = new Uint8Array(MAX_CELL_BYTES / CELL_ALIGN_BYTES + 1);
  let sizeClass = 0;
  for (let units = 0; units < table.length; units++) {
    while ((CELL_SIZES[sizeClass] ?? MAX_CELL_BYTES) < units * CELL_ALIGN_BYTES) sizeClass++;
    table[units] = sizeClass;
  }
  return table;
})();

/** What the heap holds, for INFO (see docs/observability.md). */
export interface ValueHeapStats {
  /** Bytes of the slabs allocated. */
  slabBytes: number;
  /** Bytes of the cells that hold values. */
  usedBytes: number;
  /** 1 - used / slab bytes: the share of the slabs not holding values (0 when there is none). */
  fragmentationRatio: number;
  /** Slabs allocated. */
  slabs: number;
  /** Slabs being emptied by compaction. */
  evacuatingSlabs: number;
}

/** Where a value heap takes its new slabs from, before it allocates its own (ValueHeap.supply). */
export interface SlabSource {
  /** A fresh buffer of SLAB_BYTES, or undefined when the source has none left. */
  take(): ArrayBuffer | SharedArrayBuffer | undefined;
}

export class ValueHeap {
  readonly #maxSlabs: number;
  #source: SlabSource | null = null;
  readonly #slabs: (Buffer | undefined)[] = [];
  readonly #views: (DataView | undefined)[] = [];
  /** Per slab: its size class, or -1 when released. */
  readonly #slabClass: Int16Array;
  readonly #live: Int32Array;
  /** Per slab: cells at or past this were never used. */
  readonly #bump: Int32Array;
  /** Per slab: the first cell of its free list, or END. */
  readonly #freeHead: Int32Array;
  readonly #flags: Uint8Array;
  /** Per size class: slabs that may have room, the one to fill on top. */
  readonly #available: number[][] = CELL_SIZES.map(() => []);
  /** Per size class: live cells and slabs, for planning compaction. */
  readonly #classLive = new Float64Array(CELL_SIZES.length);
  readonly #classSlabs = new Int32Array(CELL_SIZES.length);
  /** Released slab numbers, reused before new ones. */
  readonly #releasedSlabs: number[] = [];
  #slabCount = 0;
  #usedBytes = 0;
  #evacuating = 0;

  constructor(maxSlabs = MAX_VALUE_HEAP_SLABS) {
    assert(maxSlabs > 0 && maxSlabs <= MAX_VALUE_HEAP_SLABS, "maxSlabs is within the handle");
    this.#maxSlabs = maxSlabs;
    this.#slabClass = new Int16Array(maxSlabs).fill(-1);
    this.#live = new Int32Array(maxSlabs);
    this.#bump = new Int32Array(maxSlabs);
    this.#freeHead = new Int32Array(maxSlabs).fill(END);
    this.#flags = new Uint8Array(maxSlabs);
  }

  /**
   * New slabs come from `source` while it has any, then from the heap's own allocation again;
   * null: from the heap's own only. Recovery supplies SharedArrayBuffers that another thread
   * faults in ahead of the loader (src/persistence/slab_toucher.ts); nothing in a slab refers
   * to the JavaScript heap, so a shared buffer serves as any other.
   */
  supply(source: SlabSource | null): void {
    this.#source = source;
  }

  /** A new handle holding the binary string `value`, or -1 if it is too long or the heap full. */
  storeString(value: string): number {
    const handle = this.#allocate(value.length);
    if (handle === -1) return -1;
    const offset = this.#offset(handle);
    const slab = this.#slab(handle);
    this.#view(handle).setUint32(offset, value.length, true);
    writeLatin1(value, slab, offset + LENGTH_BYTES);
    return handle;
  }

  /** storeString() of the bytes `bytes[start, end)`. */
  storeBytes(bytes: Uint8Array, start: number, end: number): number {
    const handle = this.#allocate(end - start);
    if (handle === -1) return -1;
    const offset = this.#offset(handle);
    this.#view(handle).setUint32(offset, end - start, true);
    this.#slab(handle).set(bytes.subarray(start, end), offset + LENGTH_BYTES);
    return handle;
  }

  /** The length in bytes of the value at `handle`. */
  length(handle: number): number {
    return this.#view(handle).getUint32(this.#offset(handle), true);
  }

  /** The value at `handle` as a new binary string. */
  decode(handle: number): string {
    const start = this.#offset(handle) + LENGTH_BYTES;
    return this.#slab(handle).toString("latin1", start, start + this.length(handle));
  }

  /** Copies the value's bytes into `target` at `offset`; returns the end offset. */
  copyInto(handle: number, target: Uint8Array, offset: number): number {
    const start = this.#offset(handle) + LENGTH_BYTES;
    const length = this.length(handle);
    target.set(this.#slab(handle).subarray(start, start + length), offset);
    return offset + length;
  }

  /** Whether the bytes at `handle` are the binary string `text` (see binary.ts). */
  equalsString(handle: number, text: string): boolean {
    const start = this.#offset(handle) + LENGTH_BYTES;
    return isLatin1Of(text, this.#slab(handle), start, start + this.length(handle));
  }

  /** Whether the bytes at `handle` are `bytes[start, end)`. */
  equalsBytes(handle: number, bytes: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    if (this.length(handle) !== length) return false;
    const slab = this.#slab(handle);
    const from = this.#offset(handle) + LENGTH_BYTES;
    for (let i = 0; i < length; i++) if (slab[from + i] !== bytes[start + i]) return false;
    return true;
  }

  /**
   * The bytes at `handle` against the binary string `text`, in byte order: negative, 0 or
   * positive as they sort before, equal to or after it; `prefixOnly`: compares only the first
   * `text.length` bytes (0: `text` is a prefix of them).
   */
  compareString(handle: number, text: string, prefixOnly = false): number {
    const length = this.length(handle);
    const slab = this.#slab(handle);
    const start = this.#offset(handle) + LENGTH_BYTES;
    const common = Math.min(length, text.length);
    for (let i = 0; i < common; i++) {
      const difference = slab[start + i]! - text.charCodeAt(i);
      if (difference !== 0) return difference;
    }
    return prefixOnly && length >= text.length ? 0 : length - text.length;
  }

  /**
   * The slab holding the bytes at `handle` and where they start in it (their length is
   * length(handle)); for reading them in place, e.g. to hash them. Valid until the next change.
   */
  slabOf(handle: number): Uint8Array {
    return this.#slab(handle);
  }

  /** Where the bytes at `handle` start in slabOf(handle). */
  startOf(handle: number): number {
    return this.#offset(handle) + LENGTH_BYTES;
  }

  /** Gives the cell back; the handle must not be used again. */
  free(handle: number): void {
    const slabNumber = handle >>> CELL_BITS;
    const sizeClass = this.#slabClass[slabNumber]!;
    assert(sizeClass >= 0, "free() is given a handle of a slab in use");
    const cell = handle & CELL_MASK;
    const cellBytes = CELL_SIZES[sizeClass]!;
    this.#views[slabNumber]!.setInt32(cell * cellBytes, this.#freeHead[slabNumber]!, true);
    this.#freeHead[slabNumber] = cell;
    this.#live[slabNumber]!--;
    this.#classLive[sizeClass]!--;
    this.#usedBytes -= cellBytes;
    const flags = this.#flags[slabNumber]!;
    if (this.#live[slabNumber] === 0 && (flags & EVACUATING || this.#classSlabs[sizeClass]! > 1)) {
      this.#release(slabNumber);
    } else if ((flags & (AVAILABLE | EVACUATING)) === 0) {
      this.#flags[slabNumber] = flags | AVAILABLE;
      this.#available[sizeClass]!.push(slabNumber);
    }
  }

  /** Whether compaction is moving the value at `handle` out of its slab. */
  isEvacuating(handle: number): boolean {
    return (this.#flags[handle >>> CELL_BITS]! & EVACUATING) !== 0;
  }

  /** Moves a value out of an evacuating slab; returns its new handle (-1: no room, kept). */
  relocate(handle: number): number {
    const length = this.length(handle);
    const moved = this.#allocate(length);
    if (moved === -1) return handle;
    const from = this.#offset(handle);
    const to = this.#offset(moved);
    this.#slab(moved).set(this.#slab(handle).subarray(from, from + LENGTH_BYTES + length), to);
    this.free(handle);
    return moved;
  }

  /** Slabs being emptied; while any is, planCompaction() marks no more. */
  get evacuatingSlabs(): number {
    return this.#evacuating;
  }

  /**
   * Marks for evacuation each slab at most SPARSE_SLAB_RATIO full whose live cells fit in the
   * free cells of the other slabs of its class; returns how many it marked.
   */
  planCompaction(): number {
    if (this.#evacuating > 0) return 0;
    for (let sizeClass = 0; sizeClass < CELL_SIZES.length; sizeClass++) {
      const capacity = this.#capacity(sizeClass);
      let room = this.#classSlabs[sizeClass]! * capacity - this.#classLive[sizeClass]!;
      for (const slabNumber of this.#available[sizeClass]!) {
        const live = this.#live[slabNumber]!;
        const free = capacity - live;
        // Moving `live` cells out takes them from the room the slab's own free cells leave.
        if (live > capacity * SPARSE_SLAB_RATIO || live > room - free) continue;
        room -= capacity;
        this.#flags[slabNumber] = this.#flags[slabNumber]! | EVACUATING;
        this.#evacuating++;
      }
      // Evacuating slabs stay in the stack, marked; #allocate() drops them when it meets them.
    }
    return this.#evacuating;
  }

  stats(): ValueHeapStats {
    const slabBytes = this.slabCount * SLAB_BYTES;
    return {
      slabBytes,
      usedBytes: this.#usedBytes,
      fragmentationRatio: slabBytes === 0 ? 0 : 1 - this.#usedBytes / slabBytes,
      slabs: this.slabCount,
      evacuatingSlabs: this.#evacuating,
    };
  }

  /** Slabs allocated now. */
  get slabCount(): number {
    return this.#slabCount - this.#releasedSlabs.length;
  }

  /** Releases every slab. Handles given out before are invalid. */
  clear(): void {
    this.#slabs.length = 0;
    this.#views.length = 0;
    this.#slabClass.fill(-1);
    this.#live.fill(0);
    this.#bump.fill(0);
    this.#freeHead.fill(END);
    this.#flags.fill(0);
    for (const stack of this.#available) stack.length = 0;
    this.#classLive.fill(0);
    this.#classSlabs.fill(0);
    this.#releasedSlabs.length = 0;
    this.#slabCount = 0;
    this.#usedBytes = 0;
    this.#evacuating = 0;
  }

  #capacity(sizeClass: number): number {
    return Math.floor(SLAB_BYTES / CELL_SIZES[sizeClass]!);
  }

  #allocate(length: number): number {
    if (length > MAX_HEAP_VALUE_BYTES) return -1;
    const sizeClass = CLASS_OF_UNITS[(length + LENGTH_BYTES + CELL_ALIGN_BYTES - 1) >>> 3]!;
    const stack = this.#available[sizeClass]!;
    const capacity = this.#capacity(sizeClass);
    for (;;) {
      const slabNumber = stack[stack.length - 1];
      if (slabNumber === undefined) break;
      const flags = this.#flags[slabNumber]!;
      if ((flags & EVACUATING) === 0 && this.#live[slabNumber]! < capacity) {
        return this.#take(slabNumber, sizeClass);
      }
      stack.pop();
      this.#flags[slabNumber] = flags & ~AVAILABLE;
    }
    const slabNumber = this.#newSlab(sizeClass);
    if (slabNumber === -1) return -1;
    this.#flags[slabNumber] = AVAILABLE;
    stack.push(slabNumber);
    return this.#take(slabNumber, sizeClass);
  }

  /** A cell of a slab with room: from its free list, else past its bump mark. */
  #take(slabNumber: number, sizeClass: number): number {
    const cellBytes = CELL_SIZES[sizeClass]!;
    let cell = this.#freeHead[slabNumber]!;
    if (cell !== END) {
      this.#freeHead[slabNumber] = this.#views[slabNumber]!.getInt32(cell * cellBytes, true);
    } else {
      cell = this.#bump[slabNumber]!;
      this.#bump[slabNumber] = cell + 1;
    }
    this.#live[slabNumber]!++;
    this.#classLive[sizeClass]!++;
    this.#usedBytes += cellBytes;
    return (slabNumber << CELL_BITS) | cell;
  }

  #newSlab(sizeClass: number): number {
    let slabNumber = this.#releasedSlabs.pop();
    if (slabNumber === undefined) {
      if (this.#slabCount >= this.#maxSlabs) return -1;
      slabNumber = this.#slabCount++;
    }
    // An untouched ArrayBuffer is zero pages: memory is taken as cells are first written.
    const buffer = this.#source?.take() ?? new ArrayBuffer(SLAB_BYTES);
    assert(buffer.byteLength === SLAB_BYTES, "a slab source gives buffers of SLAB_BYTES");
    this.#slabs[slabNumber] = Buffer.from(buffer);
    this.#views[slabNumber] = new DataView(buffer);
    this.#slabClass[slabNumber] = sizeClass;
    this.#live[slabNumber] = 0;
    this.#bump[slabNumber] = 0;
    this.#freeHead[slabNumber] = END;
    this.#classSlabs[sizeClass]!++;
    return slabNumber;
  }

  #release(slabNumber: number): void {
    const sizeClass = this.#slabClass[slabNumber]!;
    const flags = this.#flags[slabNumber]!;
    if (flags & EVACUATING) this.#evacuating--;
    if (flags & AVAILABLE) {
      const stack = this.#available[sizeClass]!;
      stack.splice(stack.lastIndexOf(slabNumber), 1);
    }
    this.#flags[slabNumber] = 0;
    this.#slabs[slabNumber] = undefined;
    this.#views[slabNumber] = undefined;
    this.#slabClass[slabNumber] = -1;
    this.#classSlabs[sizeClass]!--;
    this.#releasedSlabs.push(slabNumber);
  }

  #slab(handle: number): Buffer {
    const slab = this.#slabs[handle >>> CELL_BITS];
    assert(slab !== undefined, "a handle names a slab in use");
    return slab;
  }

  #view(handle: number): DataView {
    return this.#views[handle >>> CELL_BITS]!;
  }

  #offset(handle: number): number {
    return (handle & CELL_MASK) * CELL_SIZES[this.#slabClass[handle >>> CELL_BITS]!]!;
  }
}
