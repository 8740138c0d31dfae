/**
 * Readiness and health answers from a list of checks (pure). `/readyz` follows the Kubernetes
 * convention: `ok`, or the failed checks and `readyz check failed`; `?verbose` gives one line
 * per check. A warning (the broker is down) never makes the node unready: it keeps serving.
 */

export type CheckResult =
  | { readonly name: string; readonly status: "ok" }
  | { readonly name: string; readonly status: "failed" | "warning"; readonly reason: string };

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

export const READY_STATUS = 200;
export const NOT_READY_STATUS = 503;

/** `[+]recovery ok`, `[-]log failed: <reason>`, `[!]replication warning: <reason>`. */
export function checkLine(check: CheckResult): string {
  switch (check.status) {
    case "ok":
      return `[+]${check.name} ok`;
    case "failed":
      return `[-]${check.name} failed: ${check.reason}`;
    case "warning":
      return `[!]${check.name} warning: ${check.reason}`;
  }
}

export function readyzAnswer(checks: readonly CheckResult[], verbose: boolean): HttpAnswer {
  const ready = checks.every((check) => check.status !== "failed");
  const status = ready ? READY_STATUS : NOT_READY_STATUS;
  if (verbose) {
    const lines = checks.map(checkLine);
    lines.push(ready ? "readyz check passed" : "readyz check failed");
    return { status, body: lines.join("\n") + "\n" };
  }
  if (ready) return { status, body: "ok\n" };
  const failed = checks.filter((check) => check.status === "failed").map(checkLine);
  return { status, body: [...failed, "readyz check failed"].join("\n") + "\n" };
}

export type HealthStatus = "ok" | "degraded" | "down";

/** down: a check failed; degraded: one warns; ok: all pass. */
export function healthStatus(checks: readonly CheckResult[]): HealthStatus {
  if (checks.some((check) => check.status === "failed")) return "down";
  if (checks.some((check) => check.status === "warning")) return "degraded";
  return "ok";
}

/** `{"status":"ok"|"degraded"|"down","checks":{"<name>":{"status":...,"reason"?:...}}}`. */
export function healthAnswer(checks: readonly CheckResult[]): HttpAnswer {
  const overall = healthStatus(checks);
  const byName: Record<string, { status: string; reason?: string }> = {};
  for (const check of checks) {
    byName[check.name] = check.status === "ok"
      ? { status: "ok" }
      : { status: check.status, reason: check.reason };
  }
  const status = overall === "down" ? NOT_READY_STATUS : READY_STATUS;
  return { status, body: JSON.stringify({ status: overall, checks: byName }) + "\n" };
}
