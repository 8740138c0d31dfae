/**
 * HTTP Basic authentication of the operators' listener (RFC 7617; see docs/observability.md,
 * Authentication): which paths need it, the credentials of an `Authorization` header, and
 * the 401 and 403 answers. Pure: the node says who the credentials prove and what they may do.
 */

/** What a client sent in `Authorization: Basic ...`. An empty user name means `default`. */
export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The node's verdict on a request's credentials (null: none sent). */
export type HttpAccess = "allowed" | "unauthorized" | "forbidden";

/** RFC 7617 section 2.1: the realm, and UTF-8 as the charset of user names and passwords. */
export const BASIC_CHALLENGE = 'Basic realm="merklekv", charset="UTF-8"';

/**
 * The paths that show the node's data: behind credentials when client authentication is on.
 * /livez, /readyz and /health are probes (a kubelet or a load balancer sends no credentials).
 */
const PROTECTED_PATHS: ReadonlySet<string> = new Set(["/metrics", "/status", "/status.json"]);

export function needsCredentials(pathname: string): boolean {
  return PROTECTED_PATHS.has(pathname);
}

/** The credentials of a `Basic` Authorization header, or null (absent, another scheme, broken). */
export function parseBasicAuthorization(header: string | null): Credentials | null {
  if (header === null) return null;
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (match === null) return null;
  let text: string;
  try {
    const binary = atob(match[1]!);
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  // The user name cannot hold a colon; the password may (RFC 7617 section 2).
  const colon = text.indexOf(":");
  if (colon === -1) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** 401 asks for credentials (the browser prompts); 403: the user may not run INFO. */
export function refusalResponse(access: "unauthorized" | "forbidden"): Response {
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
  };
  if (access === "forbidden") {
    return new Response("forbidden: this user may not run INFO\n", { status: 403, headers });
  }
  headers["www-authenticate"] = BASIC_CHALLENGE;
  return new Response("unauthorized: credentials of a user allowed INFO are needed\n", {
    status: 401,
    headers,
  });
}
