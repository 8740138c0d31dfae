/** Counting for metrics (see docs/observability.md): fixed-bucket histograms. Pure. */

export {
  FSYNC_BOUNDS_SECONDS,
  Histogram,
  LAG_BOUNDS_SECONDS,
  SESSION_BOUNDS_SECONDS,
} from "./histogram.ts";
export { COMMAND_BOUNDS_SECONDS, HistogramSet } from "./histogram_set.ts";
