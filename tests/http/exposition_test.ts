import assert from "node:assert/strict";
import { formatExposition, type MetricFamily } from "../../src/http/mod.ts";

Deno.test("formatExposition() writes HELP, TYPE and one line per sample, labels in order", () => {
  const families: MetricFamily[] = [
    {
      name: "merklekv_commands_total",
      help: "Requests run",
      type: "counter",
      samples: [
        { labels: { command: "get" }, value: 3 },
        { labels: { command: "set" }, value: 0 },
      ],
    },
    { name: "merklekv_uptime_seconds", help: "Up", type: "gauge", samples: [{ value: 1.5 }] },
  ];
  assert.equal(
    formatExposition(families),
    [
      "# HELP merklekv_commands_total Requests run",
      "# TYPE merklekv_commands_total counter",
      'merklekv_commands_total{command="get"} 3',
      'merklekv_commands_total{command="set"} 0',
      "# HELP merklekv_uptime_seconds Up",
      "# TYPE merklekv_uptime_seconds gauge",
      "merklekv_uptime_seconds 1.5",
      "",
    ].join("\n"),
  );
});

Deno.test("formatExposition() escapes label values and HELP text as the format says", () => {
  const text = formatExposition([{
    name: "m",
    help: "back\\slash\nnewline",
    type: "gauge",
    samples: [{ labels: { l: 'a"b\\c\nd' }, value: NaN }, { value: Infinity }],
  }]);
  assert.equal(
    text,
    '# HELP m back\\\\slash\\nnewline\n# TYPE m gauge\nm{l="a\\"b\\\\c\\nd"} NaN\nm +Inf\n',
  );
});

Deno.test("formatExposition() writes a histogram's cumulative buckets, +Inf equal to its count", () => {
  const text = formatExposition([{
    name: "merklekv_lag_seconds",
    help: "Lag",
    type: "histogram",
    samples: [{ bounds: [0.1, 1], counts: [2, 1, 4], sum: 12.5 }],
  }]);
  assert.equal(
    text,
    [
      "# HELP merklekv_lag_seconds Lag",
      "# TYPE merklekv_lag_seconds histogram",
      'merklekv_lag_seconds_bucket{le="0.1"} 2',
      'merklekv_lag_seconds_bucket{le="1"} 3',
      'merklekv_lag_seconds_bucket{le="+Inf"} 7',
      "merklekv_lag_seconds_sum 12.5",
      "merklekv_lag_seconds_count 7",
      "",
    ].join("\n"),
  );
});

Deno.test("formatExposition() refuses a metric name the format does not allow (a bug)", () => {
  assert.throws(
    () => formatExposition([{ name: "bad-name", help: "", type: "gauge", samples: [] }]),
    /bad metric name/,
  );
});
