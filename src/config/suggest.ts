/** "Did you mean ...?" for misspelled config keys, environment variables and sections. */

import { assert } from "../assert.ts";

/**
 * Edit distance counting an insertion, deletion, substitution or swap of two neighbours
 * as one edit (optimal string alignment), so "bind_prot" is 1 away from "bind_port".
 */
export function editDistance(from: string, to: string): number {
  const columns = to.length + 1;
  // distance[row][column]: edits from the first `row` characters of `from` to the first
  // `column` of `to`; row 0 and column 0 are insertions or deletions alone.
  const distance: number[][] = Array.from(
    { length: from.length + 1 },
    (_, row) => Array.from({ length: columns }, (_, column) => row === 0 ? column : row),
  );
  /** A cell filled before: rows above, or columns to the left in this row. */
  const at = (row: number, column: number): number => {
    const cell = distance[row]?.[column];
    assert(cell !== undefined, "editDistance() reads only cells of its table");
    return cell;
  };
  for (const [row, cells] of distance.entries()) {
    if (row === 0) continue;
    for (let column = 1; column < columns; column++) {
      const cost = from[row - 1] === to[column - 1] ? 0 : 1;
      let best = Math.min(
        at(row - 1, column) + 1,
        at(row, column - 1) + 1,
        at(row - 1, column - 1) + cost,
      );
      const swapped = row > 1 && column > 1 && from[row - 1] === to[column - 2] &&
        from[row - 2] === to[column - 1];
      if (swapped) best = Math.min(best, at(row - 2, column - 2) + 1);
      cells[column] = best;
    }
  }
  return at(from.length, to.length);
}

/** The candidate closest to `name`, if it is close enough to be a likely typo. */
export function nearestName(name: string, candidates: readonly string[]): string | null {
  const allowedEdits = Math.max(2, Math.floor(name.length / 4));
  let nearest: string | null = null;
  let nearestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < nearestDistance) {
      nearest = candidate;
      nearestDistance = distance;
    }
  }
  return nearestDistance <= allowedEdits ? nearest : null;
}
