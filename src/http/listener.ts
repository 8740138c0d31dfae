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
import {
  type Credentials,
  type HttpAccess,
  needsCredentials,
  parseBasicAuthorization,
  refusalResponse,
} from "./basic_auth.ts";

/** What the listener asks the node at each request. */
export interface HttpSource {
  metrics(): MetricFamily[];
  checks(): CheckResult[];
  status(): StatusReport;
  /**
   * Whether credentials (null: none sent) may see /metrics, /status and /status.json
   * (basic_auth.ts); absent: open to all.
   */
  authorize?(credentials: Credentials | null, remoteAddress: string): HttpAccess;
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
  /**
   * HTTPS with a new certificate: the server on the port finishes its requests in flight and
   * a new one takes the same port (Deno.serve cannot swap a certificate while it listens).
   */
  replaceCertificate(cert: string, key: string): Promise<void>;
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
  let server = serve(options, source, log);
  const port = server.addr.port;
  let closed: Promise<void> | null = null;
  // One change at a time; close() waits for a swap in progress.
  let swapping: Promise<void> = Promise.resolve();
  return {
    port,
    close: () => closed ??= swapping.then(() => server.shutdown()),
    replaceCertificate: (cert, key) =>
      swapping = swapping.then(async () => {
        if (closed !== null) return;
        await server.shutdown();
        server = serve({ ...options, port, cert, key }, source, log);
      }),
  };
}

function serve(
  options: HttpListenerOptions,
  source: HttpSource,
  log: Logger,
): Deno.HttpServer<Deno.NetAddr> {
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
  }, (request, info) => route(request, source, info.remoteAddr.hostname));
  log.info("http_listening", {
    address: `${options.hostname}:${server.addr.port}`,
    tls: options.cert !== undefined,
  });
  return server;
}

/** One request: the path picks the answer; only GET and HEAD are served. */
export function route(request: Request, source: HttpSource, remoteAddress = ""): Response {
  const url = new URL(request.url);
  if (request.method === "GET" || request.method === "HEAD") {
    const refusal = accessRefusal(request, url, source, remoteAddress);
    if (refusal !== null) return refusal;
  }
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

/** The 401 or 403 of a request for a protected path, or null when it may go on. */
function accessRefusal(
  request: Request,
  url: URL,
  source: HttpSource,
  remoteAddress: string,
): Response | null {
  if (source.authorize === undefined || !needsCredentials(url.pathname)) return null;
  const credentials = parseBasicAuthorization(request.headers.get("authorization"));
  const access = source.authorize(credentials, remoteAddress);
  return access === "allowed" ? null : refusalResponse(access);
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
