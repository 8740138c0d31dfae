/**
 * Store.loadBytes() of an Entry, for store tests: the entry encoded as a record holds it
 * (src/store/entry_codec.ts), and the offsets of its key and value in those bytes.
 */

import type { EntryInBytes } from "../../src/store/store_types.ts";
import type { Entry } from "../../src/store/entry.ts";
import type { Store } from "../../src/store/store.ts";
import { entryToBytes } from "../../src/store/entry_codec.ts";

/** The entry's bytes and where its fields lie (a plain entry: no counter, no causality). */
export function entryInBytes(entry: Entry): { bytes: Uint8Array; at: EntryInBytes } {
  const bytes = entryToBytes(entry);
  const keyStart = 1 + 8 + 1 + entry.node.length + 2;
  const keyEnd = keyStart + entry.key.length;
  const valueStart = entry.value === null ? -1 : keyEnd + (entry.expiresAtMs !== 0 ? 8 : 0) + 4;
  const valueEnd = entry.value === null ? -1 : valueStart + entry.value.length;
  const { hlc, node, expiresAtMs } = entry;
  return { bytes, at: { keyStart, keyEnd, valueStart, valueEnd, hlc, node, expiresAtMs } };
}

/** store.loadBytes() of the entry's bytes. */
export function loadEntryBytes(store: Store, entry: Entry): boolean {
  const { bytes, at } = entryInBytes(entry);
  return store.loadBytes(bytes, at);
}
