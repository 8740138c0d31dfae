/**
 * What the operators' HTTP listener reads (see docs/observability.md): the node's metrics, its
 * readiness checks and the status page's report, from the moment the process starts loading its data directory. Reads
 * counters at scrape time; nothing here runs on the request path.
 */

import type { Config } from "../config/mod.ts";
import { COMMAND_KINDS } from "../protocol/mod.ts";
import type { ServerHandle } from "../server/mod.ts";
import type {
  CheckResult,
  Credentials,
  HistogramSample,
  HttpAccess,
  HttpSource,
  MetricFamily,
  NodePhase,
  Sample,
  StatusReport,
} from "../http/mod.ts";
import { type AuthParts, INVALID_INDEX, type NodeCore, VERSION } from "./core.ts";
import { Sessions } from "./sessions.ts";
import { infoMetricFamilies } from "./info_metrics.ts";
import { statusReport } from "./status_report.ts";

/** The label a line that named no command is counted under. */
const INVALID_COMMAND = "invalid";

export class NodeObserver implements HttpSource {
  readonly #config: Config;
  readonly #startedAtMs: number;
  readonly #nowMs: () => number;
  #phase: NodePhase = "recovering";
  #core: NodeCore | null = null;
  #server: ServerHandle | null = null;
  /** Checks HTTP Basic credentials against the node's users; null: no users (open). */
  readonly #httpSessions: Sessions | null;

  constructor(config: Config, nowMs: () => number, auth: AuthParts | null = null) {
    this.#config = config;
    this.#nowMs = nowMs;
    this.#startedAtMs = nowMs();
    this.#httpSessions = auth === null ? null : new Sessions(auth.access, {
      log: auth.log,
      nowMs,
      maxLineBytes: config.limits.maxLineBytes,
      read: auth.read,
      auth: config.auth,
    });
  }

  /** HTTP Basic credentials refused so far (INFO's auth_failures adds them). */
  get authFailures(): number {
    return this.#httpSessions?.authFailures ?? 0;
  }

  /**
   * /metrics, /status and /status.json: open when client authentication is off; else the
   * user the credentials prove (or `default` without a password, as on the client port) must
   * be allowed INFO. An empty user name is `default`, as `AUTH <password>` is.
   */
  authorize(credentials: Credentials | null, remoteAddress: string): HttpAccess {
    const sessions = this.#httpSessions;
    if (sessions === null || !sessions.access.enforced) return "allowed";
    const user = credentials === null ? sessions.access.userAtConnect() : sessions.verify(
      { remoteAddress, isLoopback: false },
      credentials.user === "" ? null : credentials.user,
      credentials.password,
    );
    if (user === null) return "unauthorized";
    return user.commands.has("info") ? "allowed" : "forbidden";
  }

  /** Recovery is over and the client port takes clients. */
  serving(core: NodeCore, server: ServerHandle): void {
    this.#core = core;
    this.#server = server;
    this.#phase = "serving";
  }

  closing(): void {
    this.#phase = "closing";
  }

  checks(): CheckResult[] {
    const checks: CheckResult[] = [];
    if (this.#phase === "recovering") {
      checks.push({ name: "recovery", status: "failed", reason: "loading the data directory" });
    } else checks.push({ name: "recovery", status: "ok" });
    if (this.#phase === "serving") checks.push({ name: "clients", status: "ok" });
    else {
      const reason = this.#phase === "closing" ? "shutting down" : "client port not serving yet";
      checks.push({ name: "clients", status: "failed", reason });
    }
    const parts = this.#core?.parts;
    const writeError = parts?.changeLog?.writeError() ?? null;
    if (writeError !== null) {
      checks.push({ name: "log", status: "failed", reason: `log refuses writes: ${writeError}` });
    } else if (parts?.changeLog) checks.push({ name: "log", status: "ok" });
    const replicator = parts?.replicator ?? null;
    if (replicator !== null) {
      const fields = new Map(replicator.infoFields());
      const state = String(fields.get("replication_broker"));
      checks.push(
        state === "connected" ? { name: "replication", status: "ok" } : {
          name: "replication",
          status: "warning",
          reason: `broker ${fields.get("replication_broker_address")} is ${state}`,
        },
      );
    }
    return checks;
  }

  status(): StatusReport {
    return statusReport({
      config: this.#config,
      phase: this.#phase,
      nowMs: this.#nowMs(),
      startedAtMs: this.#startedAtMs,
      core: this.#core,
    });
  }

  metrics(): MetricFamily[] {
    const families: MetricFamily[] = [
      {
        name: "merklekv_build_info",
        help: "Always 1; the labels name the version and the node",
        type: "gauge",
        samples: [{ labels: { version: VERSION, node_id: this.#config.nodeId }, value: 1 }],
      },
      {
        name: "merklekv_uptime_seconds",
        help: "Seconds since the process started the node",
        type: "gauge",
        samples: [{ value: (this.#nowMs() - this.#startedAtMs) / 1000 }],
      },
      {
        name: "merklekv_ready",
        help: "1 when /readyz answers 200",
        type: "gauge",
        samples: [{ value: this.checks().every((check) => check.status !== "failed") ? 1 : 0 }],
      },
    ];
    const core = this.#core;
    const server = this.#server;
    if (core === null || server === null) return families;
    families.push(...commandFamilies(core), ...serverFamilies(server));
    families.push(...infoMetricFamilies(core.infoFields()), ...histogramFamilies(core));
    families.push(...convergenceFamilies(core, this.#nowMs()));
    return families;
  }
}

function commandFamilies(core: NodeCore): MetricFamily[] {
  const { commands, errors, invalid } = core.counters;
  const commandSamples: Sample[] = [];
  const errorSamples: Sample[] = [];
  COMMAND_KINDS.forEach((kind, index) => {
    commandSamples.push({ labels: { command: kind }, value: commands[index] ?? 0 });
    errorSamples.push({ labels: { command: kind }, value: errors[index] ?? 0 });
  });
  commandSamples.push({ labels: { command: INVALID_COMMAND }, value: invalid });
  errorSamples.push({ labels: { command: INVALID_COMMAND }, value: invalid });
  return [
    commandDurationFamily(core),
    {
      name: "merklekv_commands_total",
      help: "Requests run, by command (lower case, aliases folded; invalid: no command parsed)",
      type: "counter",
      samples: commandSamples,
    },
    {
      name: "merklekv_command_errors_total",
      help: "Requests answered with an ERROR line, by command",
      type: "counter",
      samples: errorSamples,
    },
  ];
}

/**
 * One histogram per command that ran at least once (unused commands would add 20 series each);
 * `invalid` for lines that named no command.
 */
function commandDurationFamily(core: NodeCore): MetricFamily {
  const { durations } = core.counters;
  const samples: HistogramSample[] = [];
  for (let index = 0; index <= INVALID_INDEX; index++) {
    if (durations.countOf(index) === 0) continue;
    samples.push({
      labels: { command: COMMAND_KINDS[index] ?? INVALID_COMMAND },
      bounds: durations.bounds,
      counts: durations.bucketsOf(index),
      sum: durations.sums[index] ?? 0,
    });
  }
  return {
    name: "merklekv_command_duration_seconds",
    help: "From a line's arrival to its reply queued, by command (an upper bound; see docs)",
    type: "histogram",
    samples,
  };
}

/**
 * Whether this node agrees with its peers (docs/observability.md, Convergence): the roots it
 * last saw (as the status page), and the sessions that keep finding something to repair.
 */
function convergenceFamilies(core: NodeCore, nowMs: number): MetricFamily[] {
  const antiEntropy = core.parts.antiEntropy;
  if (antiEntropy === null) return [];
  const root = core.store.rootHex();
  let differing = 0;
  let diverged = 0;
  let longestMs = 0;
  for (const peer of antiEntropy.peers()) {
    if (peer.rootHex !== null && peer.rootHex !== root) differing++;
    if (peer.divergedSinceMs === null) continue;
    diverged++;
    longestMs = Math.max(longestMs, nowMs - peer.divergedSinceMs);
  }
  const gauge = (name: string, help: string, value: number): MetricFamily => ({
    name: `merklekv_anti_entropy_${name}`,
    help,
    type: "gauge",
    samples: [{ value }],
  });
  return [
    gauge(
      "converged",
      "1 when every peer root this node last saw equals its own",
      differing === 0 ? 1 : 0,
    ),
    gauge("peer_roots_differing", "Peers whose root as last seen differs from ours", differing),
    gauge("peers_diverged", "Peers whose sessions since the last in step all repaired", diverged),
    gauge(
      "diverged_seconds",
      "How long the longest-diverged peer has gone without a session that found nothing to repair",
      longestMs / 1000,
    ),
  ];
}

function serverFamilies(server: ServerHandle): MetricFamily[] {
  const counters = server.counters();
  const counter = (name: string, help: string, value: number): MetricFamily => ({
    name: `merklekv_${name}`,
    help,
    type: "counter",
    samples: [{ value }],
  });
  return [
    counter(
      "connections_total",
      "Connections accepted on the client port",
      counters.connectionsAccepted,
    ),
    counter(
      "rejected_connections_total",
      "Connections refused at a connection limit",
      counters.connectionsRejected,
    ),
    counter(
      "net_input_bytes_total",
      "Bytes read from client connections",
      counters.closedBytesRead,
    ),
    counter(
      "net_output_bytes_total",
      "Bytes written to client connections",
      counters.closedBytesWritten,
    ),
  ];
}

/** The parts' histograms, for the parts that run. */
function histogramFamilies(core: NodeCore): MetricFamily[] {
  const { changeLog, replicator, antiEntropy } = core.parts;
  const families: MetricFamily[] = [];
  const histogram = (name: string, help: string, sample: HistogramSample) =>
    families.push({ name: `merklekv_${name}`, help, type: "histogram", samples: [sample] });
  if (changeLog !== null) {
    histogram(
      "persistence_fsync_duration_seconds",
      "fdatasync rounds of the log, start to end",
      changeLog.fsyncDurationHistogram,
    );
  }
  if (replicator !== null) {
    histogram(
      "replication_lag_seconds",
      "Local clock at apply minus the newest HLC time of each applied batch",
      replicator.lagHistogram,
    );
  }
  if (antiEntropy !== null) {
    histogram(
      "anti_entropy_session_duration_seconds",
      "Anti-entropy sessions, start to end, whatever the outcome",
      antiEntropy.sessionDurationHistogram,
    );
  }
  return families;
}
