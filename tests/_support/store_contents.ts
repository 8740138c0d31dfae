import type { Entry } from "../../src/store/entry.ts";
import type { Store } from "../../src/store/store.ts";

/** Every stored entry as a plain object, sorted by key, for comparing stores. */
export function storeContents(store: Store): Entry[] {
  return [...store.entries()]
    .map(({ key, value, hlc, node, expiresAtMs }) => ({ key, value, hlc, node, expiresAtMs }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
