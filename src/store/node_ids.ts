/**
 * The store's node ids: a small number for each node id that some entry holds, the one copy of
 * its string, and its hash. An entry's record holds the number (see entry_slots.ts); each
 * number counts the entries that hold it and is given back when none does, so the table holds
 * no more ids than the store holds entries, whatever ids peers send.
 */

import { assert } from "../assert.ts";
import { hashString } from "./hash.ts";

const NODE_HASH_SEED = 0x6e6f6465;
/** The number of this store's own node id, held for good. */
export const OWN_NODE = 0;

export class NodeIds {
  /** Node id -> its number. */
  readonly #numbers = new Map<string, number>();
  /** By number: the id string, its hash, and how many entries hold it. */
  readonly #names: string[] = [];
  readonly #hashes: number[] = [];
  readonly #holders: number[] = [];
  /** Numbers no entry holds, taken again first. */
  readonly #free: number[] = [];

  constructor(ownId: string) {
    this.#add(ownId);
  }

  /** The id string of `number`. */
  name(number: number): string {
    return this.#names[number]!;
  }

  /** The hash of the id of `number`. */
  hash(number: number): number {
    return this.#hashes[number]!;
  }

  /**
   * The number of `node`, held once more (by an entry that now holds it). OWN_NODE is held
   * for good: it needs neither hold() nor release().
   */
  hold(node: string): number {
    const number = this.#numbers.get(node) ?? this.#add(node);
    if (number !== OWN_NODE) this.#holders[number]!++;
    return number;
  }

  /** An entry no longer holds `number`. */
  release(number: number): void {
    if (number === OWN_NODE) return;
    const holders = --this.#holders[number]!;
    assert(holders >= 0, "NodeIds.release() is given a number that some entry holds");
    if (holders > 0) return;
    this.#numbers.delete(this.#names[number]!);
    this.#names[number] = "";
    this.#free.push(number);
  }

  /** Forgets every id but the own one (the store holds no entry any more). */
  clear(): void {
    const own = this.#names[OWN_NODE]!;
    this.#numbers.clear();
    this.#names.length = 0;
    this.#hashes.length = 0;
    this.#holders.length = 0;
    this.#free.length = 0;
    this.#add(own);
  }

  #add(node: string): number {
    const number = this.#free.pop() ?? this.#names.length;
    this.#numbers.set(node, number);
    this.#names[number] = node;
    this.#hashes[number] = hashString(node, NODE_HASH_SEED)[0];
    this.#holders[number] = 0;
    return number;
  }
}
