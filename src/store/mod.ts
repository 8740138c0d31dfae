/**
 * The store (see docs/consistency.md, and docs/anti-entropy.md, Merkle tree): entries with their
 * versions (hybrid logical clock) and tombstones, the LWW merge, the Merkle tree, and the binary
 * form of an entry. Pure: no I/O, no timers, no clock of its own.
 */

export { MAX_PREFETCH_KEYS, Store } from "./store.ts";
export { SLAB_BYTES, type SlabSource } from "./value_heap.ts";
export type { ApplyOutcome, EntryInBytes, SegmentContents, StoreOptions } from "./store_types.ts";
export {
  compareEntries,
  type Entry,
  hasValue,
  INVALID_KEY_BYTE,
  isLive,
  isValidKey,
  type LiveEntry,
  NODE_ID_PATTERN,
  valueProblem,
} from "./entry.ts";
export {
  decodeEntry,
  encodedEntryLength,
  encodeEntry,
  entryToBytes,
  nodeAt,
} from "./entry_codec.ts";
export { hashToHex } from "./hash.ts";
export {
  type Causality,
  causalityHash,
  causalityProblem,
  type CausalVersion,
  type ConflictHook,
  type Dot,
  MAX_CAUSAL_NODES,
} from "./causality.ts";
export type { Sibling } from "./causality_table.ts";
export { decodeCausality, encodeCausality, encodedCausalityLength } from "./causality_codec.ts";
export { type Clock, hlcFromMs, hlcToMs, isValidHlc } from "./hlc.ts";
export { BRANCH_COUNT, SEGMENT_COUNT, SEGMENTS_PER_BRANCH, SUB_BUCKETS } from "./merkle.ts";
export { encodeLatin1, writeLatin1 } from "./binary.ts";
export type { ApplyCounts, RemoteApplier } from "./remote.ts";
export {
  type Contribution,
  counterHash,
  type CounterState,
  counterValue,
  decodeCounter,
  encodeCounter,
  encodedCounterLength,
  incremented,
  MAX_COUNTER_NODES,
  mergeCounters,
  restamped,
  sameCounter,
} from "./counter.ts";
export { counterEntry, counterEntryProblem, counterOf, joinEntries } from "./counter_entry.ts";
