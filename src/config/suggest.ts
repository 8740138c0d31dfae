/** "Did you mean ...?" for misspelled config keys, environment variables and sections. */

/**
 * Edit distance counting an insertion, deletion, substitution or swap of two neighbours
 * as one edit (optimal string alignment), so "bind_prot" is 1 away from "bind_port".
 */
export function editDistance(from: string, to: string): number {
  const rows = from.length + 1;
  const columns = to.length + 1;
  const distance: number[][] = Array.from({ length: rows }, () => new Array(columns).fill(0));
  for (let row = 0; row < rows; row++) distance[row][0] = row;
  for (let column = 0; column < columns; column++) distance[0][column] = column;
  for (let row = 1; row < rows; row++) {
    for (let column = 1; column < columns; column++) {
      const cost = from[row - 1] === to[column - 1] ? 0 : 1;
      let best = Math.min(
        distance[row - 1][column] + 1,
        distance[row][column - 1] + 1,
        distance[row - 1][column - 1] + cost,
      );
      const swapped = row > 1 && column > 1 && from[row - 1] === to[column - 2] &&
        from[row - 2] === to[column - 1];
      if (swapped) best = Math.min(best, distance[row - 2][column - 2] + 1);
      distance[row][column] = best;
    }
  }
  return distance[rows - 1][columns - 1];
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
