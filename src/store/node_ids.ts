/**
 * The store's node ids: one shared copy of each id string, and its hash. Entries decoded from
 * the wire or the disk carry fresh id strings; sharing one per node saves a string per stored
 * entry.
 */

import { hashString } from "./hash.ts";

const NODE_HASH_SEED = 0x6e6f6465;
/** Node ids remembered for sharing and hashing; more are hashed on each use. */
const MAX_KNOWN_NODES = 65536;

export class NodeIds {
  /** Node id -> [the one copy of the id string that entries share, its hash]. */
  readonly #nodes = new Map<string, readonly [string, number]>();
  readonly #ownId: string;
  readonly #own: readonly [string, number];

  constructor(ownId: string) {
    this.#ownId = ownId;
    this.#own = [ownId, hashString(ownId, NODE_HASH_SEED)[0]];
  }

  /** The shared copy of a node id and its hash. */
  get(node: string): readonly [string, number] {
    if (node === this.#ownId) return this.#own;
    let known = this.#nodes.get(node);
    if (known === undefined) {
      known = [node, hashString(node, NODE_HASH_SEED)[0]];
      if (this.#nodes.size < MAX_KNOWN_NODES) this.#nodes.set(node, known);
    }
    return known;
  }
}
