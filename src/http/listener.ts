/**
 * The operators' HTTP listener (I/O edge): `/metrics`, `/livez`, `/readyz`, `/health`,
 * `/status` and `/status.json` (see
 * docs/observability.md). It reads what the node counts when asked and never touches the
 * client port; Deno.serve runs it on the same event loop, so a scrape costs one short turn.
 */

import type { Logger } from "../log.ts";
import { EXPOSITION_CONTENT_TYPE, formatExposition, type MetricFamily } from "./exposition.ts";
import { type CheckResult, healthAnswer, type HttpAnswer, readyzAnswer } from "./health.ts";
import type { StatusReport } from "./status.ts";
import { STATUS_PAGE_HTML } from "./status_page.ts";

/** What the listener asks the node at each request. */
export interface HttpSource {
  metrics(): MetricFamily[];
  checks(): CheckResult[];
  status(): StatusReport;
}

export interface HttpListenerOptions {
  hostname: string;
  /** 0 picks any free port. */
  port: number;
  /** PEM certificate chain and key (tls.cert_file, tls.key_file): HTTPS only; unset: HTTP. */
  cert?: string;
  key?: string;
}

export interface HttpListener {
  /** The bound port. */
  readonly port: number;
  /** Stops accepting and waits for requests in flight. */
  close(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";
const HTML = "text/html; charset=utf-8";
const ALLOWED_METHODS = "GET, HEAD";

export function startHttpListener(
  options: HttpListenerOptions,
  source: HttpSource,
  log: Logger,
): HttpListener {
  const certificate = options.cert === undefined || options.key === undefined
    ? {}
    : { cert: options.cert, key: options.key };
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    ...certificate,
    onListen: () => {},
    onError: (error) => {
      log.error("http_request_failed", { message: String(error) });
      return new Response("internal error\n", { status: 500, headers: { "content-type": TEXT } });
    },
  }, (request) => route(request, source));
  const port = server.addr.port;
  log.info("http_listening", {
    address: `${options.hostname}:${port}`,
    tls: options.cert !== undefined,
  });
  let closed: Promise<void> | null = null;
  return {
    port,
    close: () => closed ??= server.shutdown(),
  };
}

/** One request: the path picks the answer; only GET and HEAD are served. */
export function route(request: Request, source: HttpSource): Response {
  const url = new URL(request.url);
  const answer = pathAnswer(url, source);
  if (answer === null) return textResponse(404, "not found\n", TEXT, request);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", {
      status: 405,
      headers: { "content-type": TEXT, allow: ALLOWED_METHODS },
    });
  }
  return textResponse(answer.status, answer.body, answer.contentType, request);
}

function pathAnswer(
  url: URL,
  source: HttpSource,
): (HttpAnswer & { contentType: string }) | null {
  switch (url.pathname) {
    case "/metrics":
      return {
        status: 200,
        body: formatExposition(source.metrics()),
        contentType: EXPOSITION_CONTENT_TYPE,
      };
    case "/livez":
      return { status: 200, body: "ok\n", contentType: TEXT };
    case "/readyz":
      return {
        ...readyzAnswer(source.checks(), url.searchParams.has("verbose")),
        contentType: TEXT,
      };
    case "/health":
      return { ...healthAnswer(source.checks()), contentType: JSON_TYPE };
    case "/status":
      return { status: 200, body: STATUS_PAGE_HTML, contentType: HTML };
    case "/status.json":
      return { status: 200, body: JSON.stringify(source.status()) + "\n", contentType: JSON_TYPE };
    default:
      return null;
  }
}

function textResponse(
  status: number,
  body: string,
  contentType: string,
  request: Request,
): Response {
  const headers = { "content-type": contentType, "cache-control": "no-store" };
  return new Response(request.method === "HEAD" ? null : body, { status, headers });
}
