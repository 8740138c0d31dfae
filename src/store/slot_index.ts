/**
 * The store's index: slot numbers (see entry_slots.ts) by key, in an open-addressing table
 * with linear probing.
 *
 * A key's home cell is given by the top bits of its 32-bit hash. Those bits must not follow
 * the order keys arrive in: keys that arrive sorted by them would pile up in one long run,
 * and each insert would walk it (the store therefore passes the hash lane that does not order
 * the Merkle tree's segments, see store.ts). Two parallel Int32Arrays hold the cells: the
 * hashes, and the slot numbers plus one (0: empty), so that the table holds no pointer and a
 * new table is zeroed memory. A lookup loads both at the same position (independent loads,
 * which the CPU overlaps) and compares the key of the slot only when the hash matches.
 * Deletion shifts the following cells back (no tombstone cells), so a probe always ends at the
 * first empty cell.
 *
 * Resizing is incremental, as Redis rehashes its dictionaries: a table past 3/4 full gets a
 * table twice its size, and each later call moves the keys of the next few home cells of the
 * old table into the new one, in hash order, so that no single write pays for moving every
 * key. Until the old table is empty, keys whose old home lies below the boundary `#moved` are
 * in the new table and all others in the old one. Pure.
 */

/** A table never has fewer cells than 2^this... */
const MIN_CAPACITY_BITS = 6;
/** ...and reserve() makes none larger than 2^this (8 GiB of cells). */
const MAX_RESERVED_BITS = 30;
/** A table grows before more than 3/4 of its cells are taken... */
const MAX_LOAD_PER_4 = 3;
/** ...and shrinks once fewer than 1/8 are. */
const MIN_LOAD_PER_8 = 1;
/** While keys move out of an old table, it may take new keys up to 7/8 full. */
const MAX_OLD_LOAD_PER_8 = 7;
/** Home cells of the old table moved per call while resizing. */
const DEFAULT_MOVE_STEP = 64;

/** The keys by slot number, as the index reads them (only slots it holds are asked for). */
export interface SlotKeys {
  /** Whether the key of `slot` is `key`. */
  keyEquals(slot: number, key: string): boolean;
  /** Whether the key of `slot` is the binary string of `bytes[start, end)`. */
  keyEqualsBytes(slot: number, bytes: Uint8Array, start: number, end: number): boolean;
  /** The length of the key of `slot`, read where the key is held (prefetch() loads it so). */
  keyLength(slot: number): number;
}

/** One table of 2^bits cells. A cell holds its slot number plus one; 0 is empty. */
class Table {
  readonly bits: number;
  readonly shift: number;
  readonly mask: number;
  readonly hashes: Int32Array;
  readonly cells: Int32Array;
  /** Keys held. */
  size = 0;
  /** Cells taken: `size` plus, in an old table, the cells of keys already moved out. */
  taken = 0;

  constructor(bits: number) {
    this.bits = bits;
    this.shift = 32 - bits;
    this.mask = (1 << bits) - 1;
    this.hashes = new Int32Array(1 << bits);
    this.cells = new Int32Array(1 << bits);
  }

  /** The position of `key`'s cell, or of the empty cell that ends its probe. */
  probe(keys: SlotKeys, key: string, hash: number): number {
    const cells = this.cells;
    const hashes = this.hashes;
    const mask = this.mask;
    let position = hash >>> this.shift;
    let cell = cells[position]!;
    while (cell !== 0) {
      if (hashes[position] === hash && keys.keyEquals(cell - 1, key)) break;
      position = (position + 1) & mask;
      cell = cells[position]!;
    }
    return position;
  }

  /** Puts a cell whose key is absent into the first empty cell of its probe. */
  insert(cell: number, hash: number): void {
    const cells = this.cells;
    const mask = this.mask;
    let position = hash >>> this.shift;
    while (cells[position] !== 0) position = (position + 1) & mask;
    cells[position] = cell;
    this.hashes[position] = hash;
    this.size++;
    this.taken++;
  }

  /** Removes `cell`; false if it is not here. */
  delete(cell: number, hash: number): boolean {
    const cells = this.cells;
    const hashes = this.hashes;
    const mask = this.mask;
    let hole = hash >>> this.shift;
    for (;;) {
      const found = cells[hole];
      if (found === cell) break;
      if (found === 0) return false;
      hole = (hole + 1) & mask;
    }
    // Backward shift: move each following cell of the run into the hole unless its home lies
    // cyclically in (hole, position], where a probe from its home would no longer reach it.
    const shift = this.shift;
    let position = hole;
    for (;;) {
      position = (position + 1) & mask;
      const next = cells[position]!;
      if (next === 0) break;
      // position is masked into the table, and hashes has a slot per cell.
      const home = hashes[position]! >>> shift;
      const stays = hole <= position
        ? hole < home && home <= position
        : hole < home || home <= position;
      if (stays) continue;
      cells[hole] = next;
      hashes[hole] = hashes[position]!;
      hole = position;
    }
    cells[hole] = 0;
    this.size--;
    this.taken--;
    return true;
  }

  /**
   * Calls `visit` for each cell whose home lies in [firstHome, lastHome]: a scan of those
   * cells and of the ones that follow up to the first empty cell.
   */
  scanHomes(firstHome: number, lastHome: number, visit: (cell: number, hash: number) => void) {
    const cells = this.cells;
    const hashes = this.hashes;
    const mask = this.mask;
    let position = firstHome;
    let homes = lastHome - firstHome + 1;
    // A scan of every home would come round to its start again: stop after one lap.
    for (let visited = 0; visited < cells.length; visited++) {
      const cell = cells[position]!;
      if (homes > 0) homes--;
      else if (cell === 0) return;
      if (cell !== 0) {
        const hash = hashes[position]!;
        const home = hash >>> this.shift;
        if (home >= firstHome && home <= lastHome) visit(cell, hash);
      }
      position = (position + 1) & mask;
    }
  }
}

export interface SlotIndexOptions {
  /** Home cells of the old table moved per call while resizing (tests use 1). */
  moveStep?: number;
}

export class SlotIndex {
  readonly #keys: SlotKeys;
  readonly #moveStep: number;
  #table = new Table(MIN_CAPACITY_BITS);
  /** #table's arrays and shape, read straight from here on the lookup path. */
  #cells = this.#table.cells;
  #hashes = this.#table.hashes;
  #shift = this.#table.shift;
  #mask = this.#table.mask;
  /** While resizing, the table keys are moving out of; null otherwise. */
  #old: Table | null = null;
  /** While resizing: the old table's home cells below this have been moved. */
  #moved = 0;
  /**
   * Where the last find() or findBytes() of a key of hash `#hintHash` ended (in `#hintTable`):
   * the key's cell, or the empty cell it would be inserted in. Any change clears it. An absent
   * key's probe ends at the first empty cell from its home, the same for every key of its hash
   * while nothing changes: so insert() of a key of that hash, after a find() of it that found
   * nothing, needs no second probe.
   */
  #hint = -1;
  #hintTable: Table = this.#table;
  #hintHash = 0;
  /** The table never shrinks below 2^this cells (see reserve()). */
  #reservedBits = MIN_CAPACITY_BITS;

  /** `keys`: the key of each slot, read by lookups. */
  constructor(keys: SlotKeys, options: SlotIndexOptions = {}) {
    this.#keys = keys;
    this.#moveStep = options.moveStep ?? DEFAULT_MOVE_STEP;
  }

  get size(): number {
    return this.#table.size + (this.#old === null ? 0 : this.#old.size);
  }

  /** Cells in the table(s), for tests and memory figures. */
  get capacity(): number {
    return this.#table.cells.length + (this.#old === null ? 0 : this.#old.cells.length);
  }

  /** True while keys are moving from an old table to a new one. */
  get resizing(): boolean {
    return this.#old !== null;
  }

  /**
   * Loads the home cells of `count` hashes and the keys of their slots, writes the slot
   * of each (-1: an empty cell) to `slots`, and changes nothing: a hint that those keys come
   * next, so that the caller can load what the slots point to as well. One lookup waits for
   * several cache misses in a row (the cell, the key, the slot's record); the loads of
   * independent lookups, issued from one short loop, wait together instead (measured: see
   * docs/performance.md). Returns a sum of what it loaded, so that the loads are not optimized
   * away.
   */
  prefetch(hashes: Int32Array, count: number, slots: Int32Array): number {
    // While resizing, a key may be in either table: no hint then (resizes are short).
    if (this.#old !== null) return 0;
    const cells = this.#cells;
    const cellHashes = this.#hashes;
    const keys = this.#keys;
    const shift = this.#shift;
    let sum = 0;
    // count <= hashes.length and slots.length (the caller's contract), and a hash shifted right
    // by #shift is a position in the table: no check per key.
    for (let i = 0; i < count; i++) {
      const position = hashes[i]! >>> shift;
      sum += cellHashes[position]!;
      const slot = cells[position]! - 1;
      slots[i] = slot;
      if (slot >= 0) sum += keys.keyLength(slot);
    }
    return sum;
  }

  /** The slot of `key`, whose hash is `hash`; -1 if none. */
  find(key: string, hash: number): number {
    if (this.#old !== null) return this.#findWhileResizing(key, hash);
    const cells = this.#cells;
    const hashes = this.#hashes;
    const keys = this.#keys;
    const mask = this.#mask;
    let position = hash >>> this.#shift;
    let cell = cells[position]!;
    while (cell !== 0) {
      if (hashes[position] === hash && keys.keyEquals(cell - 1, key)) break;
      position = (position + 1) & mask;
      cell = cells[position]!;
    }
    // #hintTable is #table whenever no resize is under way.
    this.#hint = position;
    this.#hintHash = hash;
    return cell - 1;
  }

  /**
   * The slot whose key is the binary string of `bytes[start, end)`, whose hash is `hash`; -1 if
   * none. As find(), without decoding the key.
   */
  findBytes(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const table = this.#old === null ? this.#table : this.#tableOf(hash);
    const cells = table.cells;
    const hashes = table.hashes;
    const keys = this.#keys;
    const mask = table.mask;
    let position = hash >>> table.shift;
    let cell = cells[position]!;
    while (cell !== 0) {
      if (hashes[position] === hash && keys.keyEqualsBytes(cell - 1, bytes, start, end)) break;
      position = (position + 1) & mask;
      cell = cells[position]!;
    }
    this.#hint = position;
    this.#hintTable = table;
    this.#hintHash = hash;
    return cell - 1;
  }

  #findWhileResizing(key: string, hash: number): number {
    this.#moveSome();
    const table = this.#tableOf(hash);
    const position = table.probe(this.#keys, key, hash);
    this.#hint = position;
    this.#hintTable = table;
    this.#hintHash = hash;
    return table.cells[position]! - 1;
  }

  /**
   * Adds `slot`, whose key (in `keys`) is absent from the index and whose hash is `hash`: the
   * caller has looked it up, and it was not found.
   */
  insert(slot: number, hash: number): void {
    this.#makeRoom(hash);
    const table = this.#hintTable;
    const position = this.#hint;
    if (position < 0 || this.#hintHash !== hash || table.cells[position] !== 0) {
      // An absent key's probe ends at the first empty cell from its home: Table.insert's.
      this.#tableOf(hash).insert(slot + 1, hash);
    } else {
      table.cells[position] = slot + 1;
      table.hashes[position] = hash;
      table.size++;
      table.taken++;
    }
    this.#hint = -1;
  }

  /**
   * Before an insert: starts a resize if the table would pass 3/4 full. Keys keep arriving in
   * the old table while it empties (moved keys still take their cells): if it would pass 7/8,
   * or the new table 3/4, before the move ends, the move ends at once.
   */
  #makeRoom(hash: number): void {
    const old = this.#old;
    if (old !== null && this.#tableOf(hash) === old) {
      if ((old.taken + 1) * 8 > old.cells.length * MAX_OLD_LOAD_PER_8) this.#moveAll();
    }
    const table = this.#table;
    if ((table.taken + 1) * 4 > table.cells.length * MAX_LOAD_PER_4) {
      if (this.#old !== null) this.#moveAll();
      if ((table.taken + 1) * 4 > table.cells.length * MAX_LOAD_PER_4) this.#resize(table.bits + 1);
    }
  }

  /**
   * Keeps room for `keys` keys until the next call: an empty index gets a table that holds them
   * at most 3/4 full at once, so that inserting that many starts no resize and moves no key, and
   * deletes do not shrink the table below it meanwhile (recovery reserves a snapshot's entry
   * count, then 0). An index that holds keys keeps its table and grows as usual; so does one
   * given fewer keys than it then receives. reserve(0) lets the table shrink again.
   */
  reserve(keys: number): void {
    let bits = MIN_CAPACITY_BITS;
    while (bits < MAX_RESERVED_BITS && keys * 4 > 2 ** bits * MAX_LOAD_PER_4) bits++;
    this.#reservedBits = bits;
    if (this.size === 0 && this.#old === null && bits > this.#table.bits) {
      this.#setTable(new Table(bits));
    }
  }

  /** Removes `slot` (whose key's hash is `hash`); false if absent. */
  delete(slot: number, hash: number): boolean {
    this.#hint = -1;
    if (!this.#tableOf(hash).delete(slot + 1, hash)) return false;
    if (this.#old !== null) this.#moveSome();
    else {
      const table = this.#table;
      const shrinks = table.bits > this.#reservedBits &&
        table.size * 8 < table.cells.length * MIN_LOAD_PER_8;
      if (shrinks) {
        this.#resize(table.bits - 1);
      }
    }
    return true;
  }

  /** The longest distance of a key from its home cell, in cells (for tests; O(capacity)). */
  maxDisplacement(): number {
    let longest = 0;
    for (const table of this.#old === null ? [this.#table] : [this.#table, this.#old]) {
      const { cells, hashes, shift, mask } = table;
      for (const [i, hash] of hashes.entries()) {
        if (cells[i] === 0) continue;
        longest = Math.max(longest, (i - (hash >>> shift)) & mask);
      }
    }
    return longest;
  }

  /** Every slot. Do not change the index while iterating. */
  *slots(): IterableIterator<number> {
    const old = this.#old;
    const moved = this.#moved;
    for (const table of old === null ? [this.#table] : [this.#table, old]) {
      const { cells, hashes } = table;
      for (let i = 0; i < cells.length; i++) {
        const cell = cells[i]!;
        if (cell === 0) continue;
        // A moved key's cell in the old table is left behind; its slot is in the new table.
        // i < cells.length === hashes.length.
        if (table === old && hashes[i]! >>> old.shift < moved) continue;
        yield cell - 1;
      }
    }
  }

  /** Removes every key, and any room reserve() kept. */
  clear(): void {
    this.#setTable(new Table(MIN_CAPACITY_BITS));
    this.#old = null;
    this.#reservedBits = MIN_CAPACITY_BITS;
  }

  #setTable(table: Table): void {
    this.#table = table;
    this.#cells = table.cells;
    this.#hashes = table.hashes;
    this.#shift = table.shift;
    this.#mask = table.mask;
    this.#hint = -1;
    this.#hintTable = table;
  }

  /** The table that holds, or would hold, a key of this hash. */
  #tableOf(hash: number): Table {
    const old = this.#old;
    return old === null || hash >>> old.shift < this.#moved ? this.#table : old;
  }

  /** Starts moving every key into a table of 2^bits cells. */
  #resize(bits: number): void {
    this.#old = this.#table;
    this.#setTable(new Table(bits));
    this.#moved = 0;
    this.#moveSome();
  }

  /**
   * Moves the keys of the old table's next `#moveStep` home cells into the new table. Keys
   * moved stay in the old table's cells, unreachable (every lookup of their hashes goes to the
   * new table), so that the old table's runs, and its probes, stay as they were.
   */
  #moveSome(cells = this.#moveStep): void {
    const old = this.#old as Table;
    const table = this.#table;
    const first = this.#moved;
    const last = Math.min(first + cells, old.cells.length) - 1;
    old.scanHomes(first, last, (cell, hash) => {
      table.insert(cell, hash);
      old.size--;
    });
    this.#moved = last + 1;
    this.#hint = -1;
    if (this.#moved === old.cells.length) {
      this.#old = null;
      this.#hintTable = table;
    }
  }

  #moveAll(): void {
    const old = this.#old as Table;
    this.#moveSome(old.cells.length - this.#moved);
  }
}
