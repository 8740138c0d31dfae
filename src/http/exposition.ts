/**
 * Prometheus text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * `# HELP`, `# TYPE`, then one `name{labels} value` line per sample. Pure: the node hands in
 * numbers it read at scrape time, this turns them into text.
 */

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram";

/** Label values come from small fixed sets (command kinds, reasons), never from keys. */
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** Cumulative buckets as Prometheus wants them: counts[i] observations <= bounds[i]. */
export interface HistogramSample {
  readonly labels?: Labels;
  /** Upper bounds, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative), one more than bounds: the last is above them. */
  readonly counts: ArrayLike<number>;
  readonly sum: number;
}

export type MetricFamily =
  | {
    readonly name: string;
    readonly help: string;
    readonly type: "counter" | "gauge";
    readonly samples: readonly Sample[];
  }
  | {
    readonly name: string;
    readonly help: string;
    readonly type: "histogram";
    readonly samples: readonly HistogramSample[];
  };

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The whole exposition: families in the order given, a line feed after every line. */
export function formatExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`bug: bad metric name ${family.name}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    if (family.type === "histogram") {
      for (const sample of family.samples) pushHistogram(lines, family.name, sample);
    } else {
      for (const sample of family.samples) {
        lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
      }
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

function pushHistogram(lines: string[], name: string, sample: HistogramSample): void {
  const { bounds, counts } = sample;
  if (counts.length !== bounds.length + 1) throw new Error(`bug: ${name} bucket count`);
  let cumulative = 0;
  for (let i = 0; i <= bounds.length; i++) {
    cumulative += counts[i] ?? 0;
    const le = i === bounds.length ? "+Inf" : formatValue(bounds[i] ?? 0);
    lines.push(`${name}_bucket${formatLabels({ ...sample.labels, le })} ${cumulative}`);
  }
  const labels = formatLabels(sample.labels);
  lines.push(`${name}_sum${labels} ${formatValue(sample.sum)}`);
  lines.push(`${name}_count${labels} ${cumulative}`);
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return "";
  return "{" + pairs.map(([name, value]) => {
    if (!LABEL_NAME.test(name)) throw new Error(`bug: bad label name ${name}`);
    return `${name}="${escapeLabelValue(value)}"`;
  }).join(",") + "}";
}

/** Go's ParseFloat forms: integers as digits, NaN, +Inf, -Inf. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** In HELP text a backslash and a line feed are escaped. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** In label values a backslash, a double quote and a line feed are escaped. */
function escapeLabelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
