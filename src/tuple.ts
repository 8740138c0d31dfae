/**
 * Length checks the compiler understands. With noUncheckedIndexedAccess every element read
 * from an array may be undefined; after hasLength(words, 3) the three words are strings.
 */

/** A tuple of `N` elements of type `T`. */
export type Tuple<T, N extends number, Built extends T[] = []> = Built["length"] extends N ? Built
  : Tuple<T, N, [...Built, T]>;

/** Whether `items` has exactly `length` elements; narrows it to a tuple of that length. */
export function hasLength<T, N extends number>(
  items: readonly T[],
  length: N,
): items is Tuple<T, N> {
  return items.length === length;
}
