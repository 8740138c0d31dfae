/**
 * The store's index: entries by key, in one open-addressing table with linear probing.
 *
 * A key's home cell is given by the top bits of its 32-bit hash (the high lane the Merkle tree
 * takes its segment from), so the keys of one tree segment sit in one stretch of the table and
 * a segment is listed by scanning that stretch; no list of keys per segment is kept. Two
 * parallel arrays hold the cells: the hashes in an Int32Array, the entries in a plain array.
 * A lookup loads both at the same position (independent loads, which the CPU overlaps) and
 * compares the key string only when the hash matches. Deletion shifts the following cells
 * back (no tombstone cells), so a probe always ends at the first empty cell. Pure.
 */

/** The table never has fewer cells than 2^this. */
const MIN_CAPACITY_BITS = 6;
/** The table doubles before more than 3/4 of its cells are taken... */
const MAX_LOAD_PER_4 = 3;
/** ...and halves once fewer than 1/8 are. */
const MIN_LOAD_PER_8 = 1;

export interface Keyed {
  readonly key: string;
}

export class KeyIndex<E extends Keyed> {
  #bits = MIN_CAPACITY_BITS;
  #shift = 32 - MIN_CAPACITY_BITS;
  #mask = (1 << MIN_CAPACITY_BITS) - 1;
  #hashes = new Int32Array(1 << MIN_CAPACITY_BITS);
  #cells: (E | undefined)[] = new Array(1 << MIN_CAPACITY_BITS);
  #size = 0;
  /**
   * Where the last find() or put() of `#hintKey` ended: the key's cell, or the empty cell it
   * would be inserted in. Any removal or resize clears it, so put() after find() of the same
   * key needs no second probe.
   */
  #hint = -1;
  #hintKey: string | undefined;

  get size(): number {
    return this.#size;
  }

  /** Cells in the table (for tests and memory figures). */
  get capacity(): number {
    return this.#cells.length;
  }

  /** The entry of `key`, whose hash is `hash`; undefined if none. */
  find(key: string, hash: number): E | undefined {
    const cells = this.#cells;
    const hashes = this.#hashes;
    const mask = this.#mask;
    let position = hash >>> this.#shift;
    let cell = cells[position];
    while (cell !== undefined) {
      if (hashes[position] === hash && cell.key === key) break;
      position = (position + 1) & mask;
      cell = cells[position];
    }
    this.#hint = position;
    this.#hintKey = key;
    return cell;
  }

  /**
   * Stores `next` in place of `current`, which must be what find() returns for `next.key`
   * (undefined: the key is absent and `next` is inserted).
   */
  put(current: E | undefined, next: E, hash: number): void {
    if (current === undefined && (this.#size + 1) * 4 > this.#cells.length * MAX_LOAD_PER_4) {
      this.#resize(this.#bits + 1);
    }
    let position = this.#hint;
    if (position < 0 || this.#hintKey !== next.key || this.#cells[position] !== current) {
      if (this.find(next.key, hash) !== current) {
        throw new Error(`KeyIndex.put: the entry given as current is not the entry of its key`);
      }
      position = this.#hint;
    }
    this.#cells[position] = next;
    this.#hashes[position] = hash;
    if (current === undefined) this.#size++;
  }

  /** Removes `entry` (the stored entry of its key, whose hash is `hash`); false if absent. */
  delete(entry: E, hash: number): boolean {
    const cells = this.#cells;
    const hashes = this.#hashes;
    const mask = this.#mask;
    let hole = hash >>> this.#shift;
    for (;;) {
      const cell = cells[hole];
      if (cell === entry) break;
      if (cell === undefined) return false;
      hole = (hole + 1) & mask;
    }
    // Backward shift: move each following cell of the run into the hole unless its home lies
    // cyclically in (hole, position], where a probe from its home would no longer reach it.
    const shift = this.#shift;
    let position = hole;
    for (;;) {
      position = (position + 1) & mask;
      const cell = cells[position];
      if (cell === undefined) break;
      const home = hashes[position] >>> shift;
      const stays = hole <= position
        ? hole < home && home <= position
        : hole < home || home <= position;
      if (stays) continue;
      cells[hole] = cell;
      hashes[hole] = hashes[position];
      hole = position;
    }
    cells[hole] = undefined;
    this.#size--;
    this.#hint = -1;
    if (this.#bits > MIN_CAPACITY_BITS && this.#size * 8 < cells.length * MIN_LOAD_PER_8) {
      this.#resize(this.#bits - 1);
    }
    return true;
  }

  /**
   * Appends to `out` the entries whose hashes start with the `prefixBits` bits `prefix`
   * (1 ≤ prefixBits ≤ 32): a scan of the stretch of the table where their home cells are, and
   * of the cells that follow it up to the first empty one.
   */
  collectPrefix(prefix: number, prefixBits: number, out: E[]): void {
    const cells = this.#cells;
    const hashes = this.#hashes;
    const mask = this.#mask;
    const lowest = (prefix << (32 - prefixBits)) >>> 0;
    const highest = (lowest + (2 ** (32 - prefixBits) - 1)) >>> 0;
    const prefixShift = 32 - prefixBits;
    let position = lowest >>> this.#shift;
    let homes = (highest >>> this.#shift) - position + 1;
    for (;;) {
      const cell = cells[position];
      if (homes > 0) homes--;
      else if (cell === undefined) return;
      if (cell !== undefined && hashes[position] >>> prefixShift === prefix) out.push(cell);
      position = (position + 1) & mask;
    }
  }

  /** Every entry, in table order. Do not change the index while iterating. */
  *values(): IterableIterator<E> {
    const cells = this.#cells;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i];
      if (cell !== undefined) yield cell;
    }
  }

  clear(): void {
    this.#allocate(MIN_CAPACITY_BITS);
    this.#size = 0;
  }

  #allocate(bits: number): void {
    this.#bits = bits;
    this.#shift = 32 - bits;
    this.#mask = (1 << bits) - 1;
    this.#hashes = new Int32Array(1 << bits);
    this.#cells = new Array(1 << bits);
    this.#hint = -1;
  }

  /** Rebuilds the table with 2^bits cells: one pass over the old cells, hashes not recomputed. */
  #resize(bits: number): void {
    const oldCells = this.#cells;
    const oldHashes = this.#hashes;
    this.#allocate(bits);
    const cells = this.#cells;
    const hashes = this.#hashes;
    const shift = this.#shift;
    const mask = this.#mask;
    for (let i = 0; i < oldCells.length; i++) {
      const cell = oldCells[i];
      if (cell === undefined) continue;
      const hash = oldHashes[i];
      let position = hash >>> shift;
      while (cells[position] !== undefined) position = (position + 1) & mask;
      cells[position] = cell;
      hashes[position] = hash;
    }
  }
}
