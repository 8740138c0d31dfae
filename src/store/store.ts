/**
 * The storage engine: entries indexed by key hash, kept in step with the Merkle tree on every
 * write. Pure: time comes from the Clock passed in, and nothing here does I/O.
 */

import { assert } from "../assert.ts";
import { compareEntries, type Entry, type LiveEntry } from "./entry.ts";
import type { ApplyOutcome, EntryInBytes, SegmentContents, StoreOptions } from "./store_types.ts";
import type { CounterState } from "./counter.ts";
import { CounterTable } from "./counter_table.ts";
import { type Causality, type ConflictHook, sameCausality } from "./causality.ts";
import { CausalityTable, type Sibling } from "./causality_table.ts";
import { NodeIds, OWN_NODE } from "./node_ids.ts";
import { Prefetcher } from "./prefetch.ts";
import { segmentContents } from "./segment_contents.ts";
import { counterEntry, joinEntries } from "./counter_entry.ts";
import { hlcToMs, HybridClock } from "./hlc.ts";
import { hashBytes, hashEntry, hashString, hashToHex, type Lanes } from "./hash.ts";
import { SlotIndex } from "./slot_index.ts";
import { EntrySlots, STRING_VALUE } from "./entry_slots.ts";
import { smallestLiveKeys } from "./scan_heap.ts";
import { type SlabSource, ValueHeap, type ValueHeapStats } from "./value_heap.ts";
import { Compaction } from "./compaction.ts";
import { SegmentLists } from "./segment_lists.ts";
import { change, isPurgeable, purgeSegments, storedForm, withSide } from "./stored_entry.ts";
import {
  MerkleTree,
  SEGMENT_COUNT,
  segmentOfKeyHash,
  SUB_BUCKETS,
  subBucketOfKeyHash,
} from "./merkle.ts";

const KEY_HASH_SEED = 0x4d4b5631;
export { MAX_PREFETCH_KEYS } from "./prefetch.ts";
/**
 * The low lane of a key's hash: its place in the index. Not the high lane, which orders the
 * tree's segments: snapshots, recovery and anti-entropy move entries in segment order, and an
 * index whose home cells followed that order would see them arrive bunched in one stretch.
 */
export function indexHashOfKey(key: string): number {
  return hashString(key, KEY_HASH_SEED)[0];
}

export class Store {
  readonly tree = new MerkleTree();
  readonly hlc: HybridClock;
  readonly nodeId: string;
  /**
   * Called once for each (winner, loser) pair of concurrent versions that a merge of a peer's
   * entry makes appear (needs StoreOptions.trackCausality; see causality.ts); null: none.
   */
  onConflict: ConflictHook | null = null;
  readonly #options: StoreOptions;
  /** The bytes of the stored values (see value_heap.ts). */
  readonly #values = new ValueHeap();
  readonly #nodes: NodeIds;
  /** The entries, as a record by slot number (see entry_slots.ts). */
  readonly #slots: EntrySlots;
  /** Slots by the low lane of the key's hash, computed anyway for the tree (slot_index.ts). */
  readonly #index: SlotIndex;
  #compaction = new Compaction(this.#values);
  /** Per segment, the slots of the keys that hash there (see segment_lists.ts). */
  readonly #segments: SegmentLists;
  /** Slots of live entries with an expiry, so that counting live keys does not scan every key. */
  readonly #expiring = new Set<number>();
  /**
   * Per segment, the newest version purged since start-up: an absent key's entry not newer may
   * have been deleted by a tombstone purged since (docs/anti-entropy.md, Tombstone grace).
   */
  readonly #purgedHlc = new Float64Array(SEGMENT_COUNT);
  #tombstoneCount = 0;
  /** Counter states and causalities by slot. */
  readonly #counters = new CounterTable<number>();
  readonly #causalities: CausalityTable;
  readonly #prefetcher: Prefetcher;

  constructor(options: StoreOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.hlc = new HybridClock(options.clock);
    const siblings = options.keepSiblings !== true
      ? null
      : (slot: number) => this.#slots.decoded(slot);
    this.#causalities = new CausalityTable(options.trackCausality === true, siblings);
    this.#nodes = new NodeIds(options.nodeId);
    this.#slots = new EntrySlots(this.#values, this.#nodes);
    this.#index = new SlotIndex(this.#slots);
    this.#segments = new SegmentLists(SEGMENT_COUNT, this.#slots);
    this.#prefetcher = new Prefetcher(this.#index, this.#slots, KEY_HASH_SEED);
  }

  nowMs(): number {
    return this.#options.clock.nowMs();
  }

  /** The live entry of a key, or undefined if absent, deleted or expired. */
  read(key: string): LiveEntry | undefined {
    const slot = this.#index.find(key, indexHashOfKey(key));
    return this.#isLive(slot) ? this.#public(slot) as LiveEntry : undefined;
  }

  /** The value of a live key, decoded (no entry object); undefined as read() gives none. */
  readValue(key: string): string | undefined {
    const slot = this.#index.find(key, indexHashOfKey(key));
    return this.#isLive(slot) ? this.#slots.decoded(slot) as string : undefined;
  }

  /** Whether read() would give the key's entry; nothing is decoded. */
  has(key: string): boolean {
    return this.#isLive(this.#index.find(key, indexHashOfKey(key)));
  }

  /** read() of the key that is the binary string of `bytes[start, end)`, not decoded. */
  readBytes(bytes: Uint8Array, start: number, end: number): LiveEntry | undefined {
    const hash = hashBytes(bytes, start, end, KEY_HASH_SEED)[0];
    const slot = this.#index.findBytes(bytes, start, end, hash);
    return this.#isLive(slot) ? this.#public(slot) as LiveEntry : undefined;
  }

  /**
   * The GET path's read: the live value of the key `bytes[start, end)` as a reference into the
   * value heap (a number, for valueLength() and copyValueInto(), valid until the next write to
   * the store), or as the string when the heap does not hold it; undefined when absent, deleted
   * or expired. Nothing is decoded.
   */
  findValue(bytes: Uint8Array, start: number, end: number): number | string | undefined {
    const hash = hashBytes(bytes, start, end, KEY_HASH_SEED)[0];
    const slot = this.#index.findBytes(bytes, start, end, hash);
    if (!this.#isLive(slot)) return undefined;
    const value = this.#slots.value(slot);
    return value === STRING_VALUE ? this.#slots.string(slot) : value;
  }

  /** The length in bytes of the value that findValue() referred to. */
  valueLength(reference: number): number {
    return this.#values.length(reference);
  }

  /** Copies the bytes of the value that findValue() referred to; returns the end offset. */
  copyValueInto(reference: number, target: Uint8Array, offset: number): number {
    return this.#values.copyInto(reference, target, offset);
  }

  /** The versions of a key with siblings, winner first (CausalityTable.siblingsOf); or none. */
  siblings(key: string): Sibling[] | undefined {
    const slot = this.#index.find(key, indexHashOfKey(key));
    if (slot < 0) return undefined;
    return this.#causalities.siblingsOf(this.#slots.view(slot), this.#isLive(slot), this.nowMs());
  }

  /** Whether `slot` holds a live entry: not absent (-1), deleted or expired. */
  #isLive(slot: number): boolean {
    if (slot < 0 || this.#slots.isTombstone(slot)) return false;
    const expiresAtMs = this.#slots.expiry(slot);
    return expiresAtMs === 0 || expiresAtMs > this.nowMs();
  }

  /** The entry in a slot as the store's readers see it: an object of its own. */
  #public(slot: number): Entry {
    const entry = this.#slots.entry(slot);
    const counter = this.#counters.get(slot);
    const causality = this.#causalities.get(slot);
    return counter === undefined && causality === undefined
      ? entry
      : withSide(entry, counter, causality);
  }

  /**
   * A hint that the keys at `ranges` in `bytes` (pairs of start and end offsets, `count`
   * pairs, binary strings as the protocol reads them) are read or written next: see
   * SlotIndex.prefetch. Changes nothing.
   */
  prefetchKeys(bytes: Uint8Array, ranges: Int32Array, count: number): void {
    this.#prefetcher.keys(bytes, ranges, count);
  }

  /** prefetchKeys for the first MAX_PREFETCH_KEYS of `keys`. */
  prefetchKeyStrings(keys: readonly string[]): void {
    this.#prefetcher.strings(keys);
  }

  /** The stored entry of a key, tombstones and expired entries included. */
  entry(key: string): Entry | undefined {
    const slot = this.#index.find(key, indexHashOfKey(key));
    return slot < 0 ? undefined : this.#public(slot);
  }

  /**
   * A local write: stamps a new version and stores it. `value` null writes a tombstone.
   * Returns the new entry: the change to replicate and log.
   */
  write(key: string, value: string | null, expiresAtMs: number): Entry {
    const hlc = this.hlc.tick();
    const keyHash = hashString(key, KEY_HASH_SEED);
    const keyLow = keyHash[0];
    const keyHigh = keyHash[1];
    const expiry = value === null ? 0 : expiresAtMs;
    const node = this.nodeId;
    const slot = this.#index.find(key, keyLow);
    if (slot < 0) {
      const entry = change(key, value, hlc, node, expiry);
      this.#insert(entry, OWN_NODE, keyLow, keyHigh);
      return entry;
    }
    const causality = this.#causalities.tracking
      ? this.#causalities.forWrite(this.#slots.view(slot), node, hlc)
      : undefined;
    const entry = change(key, value, hlc, node, expiry, causality);
    this.#overwrite(slot, entry, OWN_NODE, keyLow, keyHigh);
    this.#setSide(slot, undefined, causality, keyLow, keyHigh);
    return entry;
  }

  /** A local write of a counter's new state (versions of this store's clock; counter.ts). */
  writeCounter(key: string, state: CounterState, expiresAtMs: number): Entry {
    const entry = counterEntry(key, state, expiresAtMs);
    const slot = this.#index.find(key, indexHashOfKey(key));
    const current = slot < 0 || !this.#causalities.tracking ? undefined : this.#slots.view(slot);
    const causality = this.#causalities.forWrite(current, this.nodeId, entry.hlc);
    if (causality !== undefined) entry.causality = causality;
    this.#merge(entry, this.nowMs(), false);
    return entry;
  }

  /** Conflicts detected (see onConflict) and keys holding siblings, since start-up. */
  get causality(): { readonly conflictsDetected: number; readonly siblingKeys: number } {
    return this.#causalities;
  }

  /** Counter keys held. */
  get counterKeys(): number {
    return this.#counters.size;
  }

  /** The merge used by replication and anti-entropy: idempotent, order-free. */
  applyRemote(received: Entry): ApplyOutcome {
    const nowMs = this.nowMs();
    if (hlcToMs(received.hlc) > nowMs + this.#options.maxClockSkewMs) return "future";
    return this.#merge(received, nowMs, true);
  }

  /**
   * Recovery from this node's own disk: the same merge without the clock-skew check, since
   * these versions were accepted before (a wall clock that went back must not drop them), and
   * without conflict detection: the pairs it restores were detected when they first arrived.
   */
  load(entry: Entry): Exclude<ApplyOutcome, "future"> {
    return this.#merge(entry, this.nowMs(), false);
  }

  /**
   * Recovery's fast path: stores the entry of a key not held yet from a record's bytes, the value
   * copied into the value heap without a string, as load() would store it. The caller has checked
   * the entry as decodeEntry() does; it holds no counter or causality. Returns false, storing
   * nothing, when the key is held: the caller then merges the decoded entry with load().
   */
  loadBytes(bytes: Uint8Array, at: EntryInBytes): boolean {
    const keyHash = hashBytes(bytes, at.keyStart, at.keyEnd, KEY_HASH_SEED);
    // Copied out of the shared lanes before NodeIds.hold() hashes a new node id.
    const keyLow = keyHash[0];
    const keyHigh = keyHash[1];
    if (this.#index.findBytes(bytes, at.keyStart, at.keyEnd, keyLow) >= 0) return false;
    this.hlc.observe(at.hlc);
    const slot = this.#slots.allocateFromBytes(bytes, at, this.#nodes.hold(at.node));
    this.#place(slot, keyLow, keyHigh);
    // Only a tombstone or an entry with an expiry can be due: the clock is read for those alone.
    const due = at.valueStart === -1 || at.expiresAtMs !== 0;
    if (due && this.#isPurgeable(slot, this.nowMs())) this.#purgeSlot(slot);
    return true;
  }

  /** Until the next call, room for `keys` keys and new value slabs from `slabs` (recovery). */
  reserve(keys: number, slabs: SlabSource | null = null): void {
    this.#index.reserve(keys);
    this.#values.supply(slabs);
  }

  /**
   * The merge of an entry into the store: LWW by version, counters per epoch and node
   * (counter_entry.ts), and, when tracked, the versions' causality (settle() in causality.ts).
   * `detect`: report the pairs of concurrent versions it makes appear (not for local writes and
   * recovery).
   */
  #merge(received: Entry, nowMs: number, detect: boolean): Exclude<ApplyOutcome, "future"> {
    this.hlc.observe(received.hlc);
    const remote = storedForm(received, this.#causalities.tracking);
    const keyHash = hashString(remote.key, KEY_HASH_SEED);
    const keyLow = keyHash[0];
    const keyHigh = keyHash[1];
    let slot = this.#index.find(remote.key, keyLow);
    if (slot < 0) {
      slot = this.#insert(remote, this.#nodes.hold(remote.node), keyLow, keyHigh);
      if (detect && remote.causality !== undefined) {
        this.#causalities.detect(remote.key, undefined, remote, remote.causality, this.onConflict);
      }
    } else if (!this.#mergeInto(slot, remote, keyLow, keyHigh, detect)) return "stale";
    // Adopt, then purge at once if already past its grace period: the end state of a peer that
    // purged it, and an older version can no longer win (docs/consistency.md, Tombstones).
    if (this.#isPurgeable(slot, nowMs)) this.#purgeSlot(slot);
    return "applied";
  }

  /** The merge of `remote` into the entry its key holds in `slot`; false: nothing changed. */
  #mergeInto(slot: number, remote: Entry, keyLow: number, keyHigh: number, detect: boolean) {
    const current = this.#causalities.tracking ? this.#slots.view(slot) : undefined;
    const before = current === undefined ? undefined : this.#causalities.before(current);
    const next = this.#winner(slot, remote);
    const counter = this.#counters.get(slot);
    const causality = current === undefined
      ? undefined
      : this.#causalities.settled(current, counter, remote, next);
    if (next === null && sameCausality(before?.causality, causality)) return false;
    if (next !== null) {
      this.#overwrite(slot, next, this.#nodes.hold(next.node), keyLow, keyHigh);
    }
    this.#setSide(slot, next === null ? counter : next.counter, causality, keyLow, keyHigh);
    if (detect && causality !== undefined) {
      const after = this.#slots.view(slot);
      this.#causalities.detect(remote.key, before, after, causality, this.onConflict);
    }
    return true;
  }

  /** The entry that replaces the one in `slot` after the merge of `remote`; null: none. */
  #winner(slot: number, remote: Entry): Entry | null {
    if ((remote.counter ?? this.#counters.get(slot)) !== undefined) {
      // A counter on either side: merged per epoch and per node (see counter_entry.ts).
      return joinEntries(this.#public(slot), remote);
    }
    // Entries of different versions are ordered by the version alone (as compareEntries orders
    // them): the stored entry is built only when the versions are equal.
    const hlc = this.#slots.version(slot);
    if (remote.hlc !== hlc) return remote.hlc > hlc ? remote : null;
    const node = this.#slots.nodeName(slot);
    if (remote.node !== node) return remote.node > node ? remote : null;
    return compareEntries(remote, this.#public(slot)) > 0 ? remote : null;
  }

  /** The tree segment a key belongs to (whether or not the key is stored). */
  segmentOfKey(key: string): number {
    return segmentOfKeyHash(hashString(key, KEY_HASH_SEED)[1]);
  }

  /** The segment and sub-bucket a key belongs to, as `segment * SUB_BUCKETS + subBucket`. */
  placeOfKey(key: string): number {
    const keyHigh = hashString(key, KEY_HASH_SEED)[1];
    return segmentOfKeyHash(keyHigh) * SUB_BUCKETS + subBucketOfKeyHash(keyHigh);
  }

  /** The newest version (HLC) purged from `segment` since start-up; 0 when none. */
  purgeHorizon(segment: number): number {
    const horizon = this.#purgedHlc[segment];
    assert(horizon !== undefined, "purgeHorizon() is given a segment below SEGMENT_COUNT");
    return horizon;
  }

  /**
   * Drops a key's entry without writing a tombstone, if its version is still `hlc` by `node`.
   * Used by anti-entropy for an entry that a peer has shown to be deleted and purged (see
   * docs/anti-entropy.md, Tombstone grace and resurrection); returns whether it was dropped.
   */
  discard(key: string, hlc: number, node: string): boolean {
    const slot = this.#index.find(key, indexHashOfKey(key));
    if (slot < 0 || this.#slots.version(slot) !== hlc) return false;
    if (this.#slots.nodeName(slot) !== node) return false;
    this.#remove(slot);
    return true;
  }

  get size(): number {
    return this.#index.size;
  }

  get tombstoneCount(): number {
    return this.#tombstoneCount;
  }

  /** Keys that read as present now (not deleted, not expired). */
  countLive(): number {
    const nowMs = this.nowMs();
    let expired = 0;
    for (const slot of this.#expiring) if (this.#slots.expiry(slot) <= nowMs) expired++;
    return this.#index.size - this.#tombstoneCount - expired;
  }

  rootHex(): string {
    return hashToHex(this.tree.rootLow, this.tree.rootHigh);
  }

  /** The entries whose keys fall in one segment of the tree, in no particular order. */
  segmentEntries(segment: number): Entry[] {
    return this.#segments.slotsOf(segment).map((slot) => this.#public(slot));
  }

  /** How many entries (tombstones included) one segment holds. */
  segmentSize(segment: number): number {
    return this.#segments.size(segment);
  }

  /**
   * One segment's entries with the sub-bucket of each, and the hash of every sub-bucket (the
   * XOR of its entry hashes, as the tree hashes a segment). O(entries in the segment).
   */
  segmentContents(segment: number): SegmentContents {
    return segmentContents(
      this.#segments.slotsOf(segment),
      (slot) => this.#public(slot),
      (slot) => this.#slots.keyHash(slot, KEY_HASH_SEED),
      (slot, keyLow, keyHigh) => this.#entryHash(slot, keyLow, keyHigh),
    );
  }

  /** The longest distance of a key from its home cell in the index (for tests; O(n)). */
  indexMaxDisplacement(): number {
    return this.#index.maxDisplacement();
  }

  /** Every entry, in no particular order. Do not write to the store while iterating. */
  *entries(): IterableIterator<Entry> {
    for (const slot of this.#slots.taken()) yield this.#public(slot);
  }

  /** What the value heap holds (for INFO). */
  valueHeapStats(): ValueHeapStats {
    return this.#values.stats();
  }

  /**
   * One step of compaction of the value heap: moves the values of the next `maxEntries` entries
   * that lie in slabs being emptied (see value_heap.ts), going on from where the last step
   * stopped, slot by slot, as the index resizes a few cells per write. Returns how many slots it
   * visited; 0 when the heap has nothing to empty.
   */
  compact(maxEntries: number): number {
    return this.#compaction.step(this.#slots, maxEntries);
  }

  /**
   * Removes tombstones and expired entries past the grace period in `segmentCount` segments
   * starting at `firstSegment`; returns how many were removed. Called a slice at a time.
   */
  purge(firstSegment: number, segmentCount: number): number {
    const nowMs = this.nowMs();
    return purgeSegments(
      this.#segments,
      this.#slots,
      firstSegment,
      segmentCount,
      (slot) => this.#isPurgeable(slot, nowMs),
      (slot) => this.#purgeSlot(slot),
    );
  }

  /** Live keys starting with `prefix`, sorting after `after`, in byte order, at most `limit`. */
  scan(prefix: string, after: string | null, limit: number): string[] {
    const nowMs = this.nowMs();
    const isLive = (slot: number) => this.#slots.isLive(slot, nowMs);
    return smallestLiveKeys(this.#slots, isLive, prefix, after, limit);
  }

  /** Removes every entry without versions: for recovery and tests only, never for TRUNCATE. */
  reset(): void {
    this.#index.clear();
    this.#slots.clear();
    this.#nodes.clear();
    this.#values.clear();
    this.#compaction = new Compaction(this.#values);
    this.#segments.clear();
    this.#expiring.clear();
    this.#counters.clear();
    this.#causalities.clear();
    this.#purgedHlc.fill(0);
    this.#tombstoneCount = 0;
    this.tree.clear();
  }

  /** Purgeable: a tombstone, or an expired entry, past the grace period at `nowMs`. */
  #isPurgeable(slot: number, nowMs: number): boolean {
    const slots = this.#slots;
    const tombstone = slots.isTombstone(slot);
    const graceMs = this.#options.tombstoneGraceMs;
    return isPurgeable(tombstone, slots.version(slot), slots.expiry(slot), nowMs, graceMs);
  }

  /**
   * Removes an entry past its grace period and remembers its version in the horizon; not one
   * that holds siblings, which stay until a write resolves them. Returns whether it went.
   */
  #purgeSlot(slot: number): boolean {
    if (this.#causalities.holdsSiblings(slot)) return false;
    const segment = segmentOfKeyHash(this.#slots.keyHash(slot, KEY_HASH_SEED)[1]);
    const hlc = this.#slots.version(slot);
    if (hlc > this.purgeHorizon(segment)) this.#purgedHlc[segment] = hlc;
    this.#remove(slot);
    return true;
  }

  /**
   * Puts the entry of a key not held yet (in the form the store keeps, see storedForm) in a
   * new slot, the index, its segment and the tree; returns the slot. `node`: its node's number,
   * held for it (NodeIds.hold). `keyLow` and `keyHigh`: the key's hash, computed once per write
   * for all three.
   */
  #insert(entry: Entry, node: number, keyLow: number, keyHigh: number): number {
    const slots = this.#slots;
    const slot = slots.allocate(entry.key);
    slots.set(slot, entry.value, entry.hlc, node, entry.expiresAtMs);
    if (entry.counter !== undefined) this.#counters.set(slot, entry.counter);
    if (entry.causality !== undefined) this.#causalities.set(slot, entry.causality);
    this.#place(slot, keyLow, keyHigh);
    return slot;
  }

  /** Puts a slot just given its entry in its segment, the index and the tree. */
  #place(slot: number, keyLow: number, keyHigh: number): void {
    this.#segments.add(segmentOfKeyHash(keyHigh), slot);
    this.#index.insert(slot, keyLow);
    this.#count(slot, 1);
    const hash = this.#entryHash(slot, keyLow, keyHigh);
    this.tree.toggle(segmentOfKeyHash(keyHigh), hash[0], hash[1]);
  }

  /**
   * Gives a held key's slot a new state (the index and the segment's list stay as they are)
   * and moves the tree by the difference, as one XOR of the old and new hashes. `node`: a
   * number held for it (NodeIds.hold); the old one is released.
   */
  #overwrite(slot: number, entry: Entry, node: number, keyLow: number, keyHigh: number): void {
    const slots = this.#slots;
    this.#count(slot, -1);
    const old = this.#entryHash(slot, keyLow, keyHigh);
    const low = old[0];
    const high = old[1];
    slots.release(slot);
    slots.set(slot, entry.value, entry.hlc, node, entry.expiresAtMs);
    this.#count(slot, 1);
    const hash = this.#entryHash(slot, keyLow, keyHigh);
    this.tree.toggle(segmentOfKeyHash(keyHigh), low ^ hash[0], high ^ hash[1]);
  }

  #remove(slot: number): void {
    const keyHash = this.#slots.keyHash(slot, KEY_HASH_SEED);
    const keyLow = keyHash[0];
    const keyHigh = keyHash[1];
    this.#count(slot, -1);
    const hash = this.#entryHash(slot, keyLow, keyHigh);
    this.tree.toggle(segmentOfKeyHash(keyHigh), hash[0], hash[1]);
    this.#index.delete(slot, keyLow);
    this.#counters.set(slot, undefined);
    this.#causalities.set(slot, undefined);
    // Linear in the segment's size (n / 65536 keys on average); purges only, never writes.
    this.#segments.remove(segmentOfKeyHash(keyHigh), slot);
    this.#slots.release(slot);
    this.#slots.free(slot);
  }

  /** Keeps the tombstone count and the set of expiring slots as an entry comes or goes. */
  #count(slot: number, direction: 1 | -1): void {
    if (this.#slots.isTombstone(slot)) this.#tombstoneCount += direction;
    else if (this.#slots.expiry(slot) !== 0) {
      if (direction === 1) this.#expiring.add(slot);
      else this.#expiring.delete(slot);
    }
  }

  /**
   * Gives a slot's entry its counter state and causality (or none), moving the tree by the
   * change of its hash.
   */
  #setSide(
    slot: number,
    counter: CounterState | undefined,
    causality: Causality | undefined,
    low: number,
    high: number,
  ) {
    if (this.#counters.get(slot) === counter && this.#causalities.get(slot) === causality) return;
    const before = this.#entryHash(slot, low, high);
    const [beforeLow, beforeHigh] = [before[0], before[1]];
    this.#counters.set(slot, counter);
    this.#causalities.set(slot, causality);
    const after = this.#entryHash(slot, low, high);
    this.tree.toggle(segmentOfKeyHash(high), beforeLow ^ after[0], beforeHigh ^ after[1]);
  }

  #entryHash(slot: number, keyLow: number, keyHigh: number): Lanes {
    const slots = this.#slots;
    const nodeHash = this.#nodes.hash(slots.node(slot));
    const tombstone = slots.isTombstone(slot);
    const hlc = slots.version(slot);
    const hash = hashEntry(keyLow, keyHigh, hlc, nodeHash, tombstone, slots.expiry(slot));
    return this.#causalities.mix(slot, this.#counters.mix(slot, hash));
  }
}
