import assert from "node:assert/strict";

/**
 * `items[index]`, asserted to be there: for tests that index into lists they built
 * themselves (noUncheckedIndexedAccess types every such read as possibly undefined).
 */
export function nth<T>(items: ArrayLike<T>, index: number): T {
  const item = items[index];
  assert.ok(item !== undefined, `no item ${index} among ${items.length}`);
  return item;
}
