/** One part of `deno task bench`: a table for people and results for the JSON line. */
export interface BenchSection {
  name: string;
  columns: string[];
  rows: (string | number)[][];
  results: Record<string, unknown>;
}

export interface BenchOptions {
  /**
   * Smaller data and shorter runs, for a quick look; figures for docs/performance.md use full runs.
   */
  quick: boolean;
}
