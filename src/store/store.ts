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
import { NodeIds } from "./node_ids.ts";
import { Prefetcher } from "./prefetch.ts";
import { segmentContents } from "./segment_contents.ts";
import { counterEntry, joinEntries } from "./counter_entry.ts";
import { hlcToMs, HybridClock } from "./hlc.ts";
import { hashBytes, hashEntry, hashString, hashToHex, type Lanes } from "./hash.ts";
import { latin1String } from "./binary.ts";
import { KeyIndex } from "./key_index.ts";
import { smallestLiveKeys } from "./scan_heap.ts";
import { ValueHeap, type ValueHeapStats } from "./value_heap.ts";
import { Compaction } from "./compaction.ts";
import {
  change,
  isPurgeable,
  publicEntry,
  purgeSegments,
  type StoredEntry,
  storedEntry,
  storedForm,
  withSide,
} from "./stored_entry.ts";
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
  /**
   * Entries by the low lane of the key's hash, which the store computes anyway for the tree
   * (a key string fresh from a socket or a file would first have to be hashed by V8 for a
   * Map); see key_index.ts.
   */
  readonly #index = new KeyIndex<StoredEntry>();
  /** The bytes of the stored values (see value_heap.ts). */
  readonly #values = new ValueHeap();
  #compaction = new Compaction(this.#values);
  /**
   * Per segment, the entries of the keys that hash there (for listing one segment without a
   * lookup per key). An overwrite changes the entry in place and leaves this untouched; only
   * new keys and purges change it.
   */
  readonly #segments: (StoredEntry[] | undefined)[] = new Array(SEGMENT_COUNT);
  /** Live entries with an expiry, so that counting live keys does not scan every key. */
  readonly #expiring = new Set<StoredEntry>();
  readonly #nodes: NodeIds;
  /**
   * Per segment, the newest version (HLC) of the entries purged from it since start-up: an
   * entry of a key absent here whose version is not newer may have been deleted by a tombstone
   * purged since (see docs/anti-entropy.md, Tombstone grace and resurrection).
   */
  readonly #purgedHlc = new Float64Array(SEGMENT_COUNT);
  #tombstoneCount = 0;
  readonly #counters = new CounterTable<StoredEntry>();
  readonly #causalities: CausalityTable;
  readonly #prefetcher = new Prefetcher(this.#index, KEY_HASH_SEED);

  constructor(options: StoreOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.hlc = new HybridClock(options.clock);
    const siblings = options.keepSiblings !== true ? null : (entry: StoredEntry) => {
      return typeof entry.value === "number" ? this.#values.decode(entry.value) : entry.value;
    };
    this.#causalities = new CausalityTable(options.trackCausality === true, siblings);
    this.#nodes = new NodeIds(options.nodeId);
  }

  nowMs(): number {
    return this.#options.clock.nowMs();
  }

  /** The live entry of a key, or undefined if absent, deleted or expired. */
  read(key: string): LiveEntry | undefined {
    const entry = this.#live(this.#index.find(key, indexHashOfKey(key)));
    return entry === undefined ? undefined : this.#public(entry) as LiveEntry;
  }

  /** The value of a live key, decoded (no entry object); undefined as read() gives none. */
  readValue(key: string): string | undefined {
    const value = this.#live(this.#index.find(key, indexHashOfKey(key)))?.value;
    return typeof value === "number" ? this.#values.decode(value) : value ?? undefined;
  }

  /** Whether read() would give the key's entry; nothing is decoded. */
  has(key: string): boolean {
    return this.#live(this.#index.find(key, indexHashOfKey(key))) !== undefined;
  }

  /** read() of the key that is the binary string of `bytes[start, end)`, not decoded. */
  readBytes(bytes: Uint8Array, start: number, end: number): LiveEntry | undefined {
    const hash = hashBytes(bytes, start, end, KEY_HASH_SEED)[0];
    const entry = this.#live(this.#index.findBytes(bytes, start, end, hash));
    return entry === undefined ? undefined : this.#public(entry) as LiveEntry;
  }

  /**
   * The GET path's read: the live value of the key `bytes[start, end)` as a reference into the
   * value heap (a number, for valueLength() and copyValueInto(), valid until the next write to
   * the store), or as the string when the heap does not hold it; undefined when absent, deleted
   * or expired. Nothing is decoded.
   */
  findValue(bytes: Uint8Array, start: number, end: number): number | string | undefined {
    const hash = hashBytes(bytes, start, end, KEY_HASH_SEED)[0];
    const value = this.#live(this.#index.findBytes(bytes, start, end, hash))?.value;
    return value ?? undefined;
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
    const entry = this.#index.find(key, indexHashOfKey(key));
    const live = this.#live(entry) !== undefined;
    return entry && this.#causalities.siblingsOf(entry, live, this.nowMs());
  }

  /** `entry` if it is live: not absent, deleted or expired. */
  #live(entry: StoredEntry | undefined): StoredEntry | undefined {
    if (entry === undefined || entry.value === null) return undefined;
    // Only an entry with an expiry needs the clock.
    if (entry.expiresAtMs !== 0 && entry.expiresAtMs <= this.nowMs()) return undefined;
    return entry;
  }

  /**
   * The entry as the store's readers see it: the stored object itself when its value is a
   * string or a tombstone, else a copy with the value decoded from the heap.
   */
  #public(entry: StoredEntry): Entry {
    const counter = this.#counters.get(entry);
    const causality = this.#causalities.get(entry);
    const result = publicEntry(entry, this.#values);
    return counter === undefined && causality === undefined
      ? result
      : withSide(result, counter, causality);
  }

  /** What an entry holds for `value`: a heap handle, or the string when the heap refuses it. */
  #hold(value: string | null): string | number | null {
    if (value === null) return null;
    const handle = this.#values.storeString(value);
    return handle === -1 ? value : handle;
  }

  /**
   * A hint that the keys at `ranges` in `bytes` (pairs of start and end offsets, `count`
   * pairs, binary strings as the protocol reads them) are read or written next: see
   * KeyIndex.prefetch. Changes nothing.
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
    const entry = this.#index.find(key, indexHashOfKey(key));
    return entry === undefined ? undefined : this.#public(entry);
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
    const current = this.#index.find(key, keyLow);
    if (current === undefined) {
      // Two objects of the same state: the stored one changes in place with later writes.
      this.#insert(storedEntry(key, this.#hold(value), hlc, node, expiry), keyLow, keyHigh);
      return change(key, value, hlc, node, expiry);
    }
    const causality = this.#causalities.forWrite(current, node, hlc);
    this.#overwrite(current, this.#hold(value), hlc, node, expiry, keyLow, keyHigh);
    this.#setSide(current, undefined, causality, keyLow, keyHigh);
    // The change carries the stored copy of the key: the request's copy then dies young, and
    // the garbage collector has one string less to move per write.
    return change(current.key, value, hlc, node, expiry, causality);
  }

  /** A local write of a counter's new state (versions of this store's clock; counter.ts). */
  writeCounter(key: string, state: CounterState, expiresAtMs: number): Entry {
    const entry = counterEntry(key, state, expiresAtMs);
    const current = this.#index.find(key, indexHashOfKey(key));
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

  // Bulk loading (recovery): the one method that reads entries from a file's bytes. ----------
  /**
   * Recovery's fast path: stores the entry of a key not held yet from a record's bytes, the value
   * copied into the value heap without a string, as load() would store it. The caller has checked
   * the entry as decodeEntry() does; it holds no counter or causality. Returns false, storing
   * nothing, when the key is held: the caller then merges the decoded entry with load().
   */
  loadBytes(bytes: Uint8Array, at: EntryInBytes): boolean {
    const keyHash = hashBytes(bytes, at.keyStart, at.keyEnd, KEY_HASH_SEED);
    const [keyLow, keyHigh] = [keyHash[0], keyHash[1]];
    const key = latin1String(bytes, at.keyStart, at.keyEnd);
    if (this.#index.find(key, keyLow) !== undefined) return false;
    this.hlc.observe(at.hlc);
    const { valueStart, valueEnd } = at;
    const handle = valueStart === -1 ? null : this.#values.storeBytes(bytes, valueStart, valueEnd);
    const value = handle !== -1 ? handle : latin1String(bytes, valueStart, valueEnd);
    const expiry = value === null ? 0 : at.expiresAtMs;
    const entry = storedEntry(key, value, at.hlc, this.#nodes.get(at.node)[0], expiry);
    this.#insert(entry, keyLow, keyHigh);
    // Only a tombstone or an entry with an expiry can be due: the clock is read for those alone.
    if (value !== null && expiry === 0) return true;
    if (isPurgeable(entry, this.nowMs(), this.#options.tombstoneGraceMs)) this.#purgeEntry(entry);
    return true;
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
    const current = this.#index.find(remote.key, keyLow);
    let entry: StoredEntry;
    if (current === undefined) {
      const { key, value, hlc, expiresAtMs } = remote;
      const node = this.#nodes.get(remote.node)[0];
      entry = storedEntry(key, this.#hold(value), hlc, node, expiresAtMs);
      this.#insert(entry, keyLow, keyHigh, remote);
      if (detect) {
        this.#causalities.detect(entry.key, undefined, entry, remote.causality, this.onConflict);
      }
    } else {
      const before = this.#causalities.before(current);
      const next = this.#winner(current, remote);
      const counter = this.#counters.get(current);
      const causality = this.#causalities.settled(current, counter, remote, next);
      if (next === null && sameCausality(before?.causality, causality)) return "stale";
      entry = current;
      if (next !== null) {
        const node = this.#nodes.get(next.node)[0];
        const value = this.#hold(next.value);
        this.#overwrite(entry, value, next.hlc, node, next.expiresAtMs, keyLow, keyHigh);
      }
      this.#setSide(entry, next === null ? counter : next.counter, causality, keyLow, keyHigh);
      if (detect) this.#causalities.detect(entry.key, before, entry, causality, this.onConflict);
    }
    // Adopt, then purge at once if already past its grace period: the same end state as a
    // peer that purged it, and an older version can no longer win (see docs/consistency.md,
    // Tombstones).
    if (isPurgeable(entry, nowMs, this.#options.tombstoneGraceMs)) this.#purgeEntry(entry);
    return "applied";
  }

  /** The entry that replaces the key's `current` one after the merge of `remote`; null: none. */
  #winner(current: StoredEntry, remote: Entry): Entry | null {
    if ((remote.counter ?? this.#counters.get(current)) !== undefined) {
      // A counter on either side: merged per epoch and per node (see counter_entry.ts).
      return joinEntries(this.#public(current), remote);
    }
    // Entries of different versions are ordered by the version alone, and compareEntries reads
    // no more of a value than whether it is null: the stored form may go as it is.
    const same = remote.hlc === current.hlc && remote.node === current.node;
    return compareEntries(remote, same ? this.#public(current) : current as Entry) > 0
      ? remote
      : null;
  }

  /** The tree segment a key belongs to (whether or not the key is stored). */
  segmentOfKey(key: string): number {
    return this.#segmentOf(key);
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
    const entry = this.#index.find(key, indexHashOfKey(key));
    if (entry === undefined || entry.hlc !== hlc || entry.node !== node) return false;
    this.#remove(entry);
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
    for (const entry of this.#expiring) if (entry.expiresAtMs <= nowMs) expired++;
    return this.#index.size - this.#tombstoneCount - expired;
  }

  rootHex(): string {
    return hashToHex(this.tree.rootLow, this.tree.rootHigh);
  }

  /** The entries whose keys fall in one segment of the tree, in no particular order. */
  segmentEntries(segment: number): Entry[] {
    return this.#segments[segment]?.map((entry) => this.#public(entry)) ?? [];
  }

  /** How many entries (tombstones included) one segment holds. */
  segmentSize(segment: number): number {
    return this.#segments[segment]?.length ?? 0;
  }

  /**
   * One segment's entries with the sub-bucket of each, and the hash of every sub-bucket (the
   * XOR of its entry hashes, as the tree hashes a segment). O(entries in the segment).
   */
  segmentContents(segment: number): SegmentContents {
    return segmentContents(
      this.#segments[segment] ?? [],
      (entry) => this.#public(entry),
      (key) => hashString(key, KEY_HASH_SEED),
      (entry, keyLow, keyHigh) => this.#entryHash(entry, keyLow, keyHigh),
    );
  }

  /** The longest distance of a key from its home cell in the index (for tests; O(n)). */
  indexMaxDisplacement(): number {
    return this.#index.maxDisplacement();
  }

  /** Every entry, in no particular order. Do not write to the store while iterating. */
  *entries(): IterableIterator<Entry> {
    for (const entry of this.#index.values()) yield this.#public(entry);
  }

  /** What the value heap holds (for INFO). */
  valueHeapStats(): ValueHeapStats {
    return this.#values.stats();
  }

  /**
   * One step of compaction of the value heap: moves the values of the next `maxEntries` entries
   * that lie in slabs being emptied (see value_heap.ts), going on from where the last step
   * stopped, a segment at a time, as the index resizes a few cells per write. Returns how many
   * entries it visited; 0 when the heap has nothing to empty.
   */
  compact(maxEntries: number): number {
    return this.#compaction.step(this.#segments, maxEntries);
  }

  /**
   * Removes tombstones and expired entries past the grace period in `segmentCount` segments
   * starting at `firstSegment`; returns how many were removed. Called a slice at a time.
   */
  purge(firstSegment: number, segmentCount: number): number {
    const nowMs = this.nowMs();
    const graceMs = this.#options.tombstoneGraceMs;
    const due = (entry: StoredEntry) => isPurgeable(entry, nowMs, graceMs);
    return purgeSegments(
      this.#segments,
      firstSegment,
      segmentCount,
      due,
      (x) => this.#purgeEntry(x),
    );
  }

  /** Live keys starting with `prefix`, sorting after `after`, in byte order, at most `limit`. */
  scan(prefix: string, after: string | null, limit: number): string[] {
    return smallestLiveKeys(this.#index.values(), this.nowMs(), prefix, after, limit);
  }

  /** Removes every entry without versions: for recovery and tests only, never for TRUNCATE. */
  reset(): void {
    this.#index.clear();
    this.#values.clear();
    this.#compaction = new Compaction(this.#values);
    this.#segments.fill(undefined);
    this.#expiring.clear();
    this.#counters.clear();
    this.#causalities.clear();
    this.#purgedHlc.fill(0);
    this.#tombstoneCount = 0;
    this.tree.clear();
  }

  /**
   * Removes an entry past its grace period and remembers its version in the horizon; not one
   * that holds siblings, which stay until a write resolves them. Returns whether it went.
   */
  #purgeEntry(entry: StoredEntry): boolean {
    if (this.#causalities.holdsSiblings(entry)) return false;
    const segment = this.#segmentOf(entry.key);
    if (entry.hlc > this.purgeHorizon(segment)) this.#purgedHlc[segment] = entry.hlc;
    this.#remove(entry);
    return true;
  }

  /**
   * Puts the entry of a key not held yet in the index, its segment and the tree. `keyLow` and
   * `keyHigh`: the key's hash, computed once per write for all three.
   */
  #insert(entry: StoredEntry, keyLow: number, keyHigh: number, side?: Entry): void {
    if (side?.counter !== undefined) this.#counters.set(entry, side.counter);
    if (side?.causality !== undefined) this.#causalities.set(entry, side.causality);
    (this.#segments[segmentOfKeyHash(keyHigh)] ??= []).push(entry);
    this.#index.put(undefined, entry, keyLow);
    this.#count(entry, 1);
    const hash = this.#entryHash(entry, keyLow, keyHigh);
    this.tree.toggle(segmentOfKeyHash(keyHigh), hash[0], hash[1]);
  }

  /**
   * Gives a held key's entry a new state in place (the index and the segment's key list stay
   * as they are) and moves the tree by the difference, as one XOR of the old and new hashes.
   */
  #overwrite(
    entry: StoredEntry,
    value: string | number | null,
    hlc: number,
    node: string,
    expiresAtMs: number,
    keyLow: number,
    keyHigh: number,
  ): void {
    this.#count(entry, -1);
    const old = this.#entryHash(entry, keyLow, keyHigh);
    const low = old[0];
    const high = old[1];
    this.#release(entry.value);
    entry.value = value;
    entry.hlc = hlc;
    entry.node = node;
    entry.expiresAtMs = expiresAtMs;
    this.#count(entry, 1);
    const hash = this.#entryHash(entry, keyLow, keyHigh);
    this.tree.toggle(segmentOfKeyHash(keyHigh), low ^ hash[0], high ^ hash[1]);
  }

  #remove(entry: StoredEntry): void {
    const keyHash = hashString(entry.key, KEY_HASH_SEED);
    const keyLow = keyHash[0];
    const keyHigh = keyHash[1];
    this.#count(entry, -1);
    const hash = this.#entryHash(entry, keyLow, keyHigh);
    this.tree.toggle(segmentOfKeyHash(keyHigh), hash[0], hash[1]);
    this.#index.delete(entry, keyLow);
    this.#counters.set(entry, undefined);
    this.#causalities.set(entry, undefined);
    this.#release(entry.value);
    // Linear in the segment's size (n / 65536 keys on average); purges only, never writes.
    const entries = this.#segments[segmentOfKeyHash(keyHigh)] as StoredEntry[];
    const last = entries.pop() as StoredEntry;
    if (last !== entry) entries[entries.indexOf(entry)] = last;
  }

  /** Gives a value's cell back to the heap if it has one. */
  #release(value: string | number | null): void {
    if (typeof value === "number") this.#values.free(value);
  }

  #segmentOf(key: string): number {
    return segmentOfKeyHash(hashString(key, KEY_HASH_SEED)[1]);
  }

  /** Keeps the tombstone count and the set of expiring entries as an entry comes or goes. */
  #count(entry: StoredEntry, direction: 1 | -1): void {
    if (entry.value === null) this.#tombstoneCount += direction;
    else if (entry.expiresAtMs !== 0) {
      if (direction === 1) this.#expiring.add(entry);
      else this.#expiring.delete(entry);
    }
  }

  /**
   * Gives an entry its counter state and causality (or none), moving the tree by the change of
   * its hash.
   */
  #setSide(
    entry: StoredEntry,
    counter: CounterState | undefined,
    causality: Causality | undefined,
    low: number,
    high: number,
  ) {
    if (this.#counters.get(entry) === counter && this.#causalities.get(entry) === causality) return;
    const before = this.#entryHash(entry, low, high);
    const [beforeLow, beforeHigh] = [before[0], before[1]];
    this.#counters.set(entry, counter);
    this.#causalities.set(entry, causality);
    const after = this.#entryHash(entry, low, high);
    this.tree.toggle(segmentOfKeyHash(high), beforeLow ^ after[0], beforeHigh ^ after[1]);
  }

  #entryHash(entry: StoredEntry, keyLow: number, keyHigh: number): Lanes {
    const nodeHash = this.#nodes.get(entry.node)[1];
    const tombstone = entry.value === null;
    const hash = hashEntry(keyLow, keyHigh, entry.hlc, nodeHash, tombstone, entry.expiresAtMs);
    return this.#causalities.mix(entry, this.#counters.mix(entry, hash));
  }
}
