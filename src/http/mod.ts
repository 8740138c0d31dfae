/**
 * The operators' HTTP edge (see docs/observability.md): Prometheus exposition and health
 * answers (pure), and the listener that serves them.
 */

export {
  EXPOSITION_CONTENT_TYPE,
  formatExposition,
  type HistogramSample,
  type Labels,
  type MetricFamily,
  type Sample,
} from "./exposition.ts";
export {
  checkLine,
  type CheckResult,
  healthAnswer,
  healthStatus,
  type HttpAnswer,
  readyzAnswer,
} from "./health.ts";
export {
  type HttpListener,
  type HttpListenerOptions,
  type HttpSource,
  route,
  startHttpListener,
} from "./listener.ts";
