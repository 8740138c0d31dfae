/**
 * The operators' HTTP edge (see docs/observability.md): Prometheus exposition, health answers
 * and the status report's shape (pure), the status page, and the listener that serves them.
 */

export {
  BASIC_CHALLENGE,
  type Credentials,
  type HttpAccess,
  needsCredentials,
  parseBasicAuthorization,
  refusalResponse,
} from "./basic_auth.ts";
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
export {
  type AntiEntropyStatus,
  type Convergence,
  convergence,
  type NodePhase,
  type PeerStatus,
  type ReplicationStatus,
  type StatusReport,
} from "./status.ts";
export { STATUS_HISTORY_POINTS, STATUS_PAGE_HTML, STATUS_REFRESH_MS } from "./status_page.ts";
