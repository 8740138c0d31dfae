/**
 * Causality of versions (see docs/architecture.md, Version vectors): the dot that names a
 * version, the version vector of what its writer had seen, and the set of concurrent versions a
 * key's winner beat by LWW. Pure.
 */

/** The name of one version: the node that wrote it and its HLC there (unique). */
export interface Dot {
  readonly node: string;
  readonly hlc: number;
}

/** What a store calls when a merge makes a pair of concurrent versions appear (see store.ts). */
export type ConflictHook = (key: string, winner: Dot, loser: Dot) => void;
