import assert from "node:assert/strict";
import {
  convergence,
  type HttpSource,
  type PeerStatus,
  route,
  STATUS_PAGE_HTML,
  type StatusReport,
} from "../../src/http/mod.ts";

function peer(address: string, root: string | null): PeerStatus {
  return {
    address,
    node_id: root === null ? null : `node-${address}`,
    merkle_root: root,
    root_seen_at_ms: root === null ? null : 1000,
    in_step: false,
    last_sync_at_ms: 1000,
    last_outcome: root === null ? "error" : "ok",
    last_error: root === null ? "connection refused" : null,
    last_ok_at_ms: root === null ? null : 1000,
  };
}

const REPORT: StatusReport = {
  node_id: "node-a",
  version: "0.1.0",
  phase: "serving",
  time_ms: 5000,
  uptime_seconds: 4,
  memory: { rss_bytes: 1, heap_used_bytes: 2, heap_total_bytes: 3 },
  keys: 7,
  tombstones: 0,
  commands_processed: 42,
  connections: 1,
  merkle_root: "ab",
  replication: null,
  anti_entropy: null,
  convergence: { converged: true, roots_known: 0, roots_differing: 0 },
};

const SOURCE: HttpSource = { metrics: () => [], checks: () => [], status: () => REPORT };

Deno.test("convergence() holds when every known peer root equals this node's", () => {
  assert.deepEqual(convergence("ab", []), { converged: true, roots_known: 0, roots_differing: 0 });
  assert.deepEqual(convergence("ab", [peer("h:1", "ab"), peer("h:2", null)]), {
    converged: true,
    roots_known: 1,
    roots_differing: 0,
  });
  assert.deepEqual(convergence("ab", [peer("h:1", "ab"), peer("h:2", "cd")]), {
    converged: false,
    roots_known: 2,
    roots_differing: 1,
  });
});

Deno.test("GET /status.json answers the report as JSON, not cached", async () => {
  const response = route(new Request("http://localhost/status.json"), SOURCE);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.deepEqual(await response.json(), REPORT);
});

Deno.test("GET /status answers one HTML page that loads nothing from elsewhere", async () => {
  const response = route(new Request("http://localhost/status"), SOURCE);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await response.text();
  assert.equal(html, STATUS_PAGE_HTML);
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /fetch\("status.json"/);
  // Self-contained: no external script, style, font or image, so it works offline.
  assert.doesNotMatch(html, /<script[^>]+src=|<link|<img|@import|url\(/i);
  assert.doesNotMatch(html, /https?:\/\//);
  // No placeholder left unfilled, and data reaches the page through textContent only.
  assert.doesNotMatch(html, /\$\{/);
  assert.doesNotMatch(html, /innerHTML/);
});

Deno.test("/status and /status.json take GET and HEAD only", () => {
  const head = route(new Request("http://localhost/status", { method: "HEAD" }), SOURCE);
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  const post = route(new Request("http://localhost/status.json", { method: "POST" }), SOURCE);
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
});
