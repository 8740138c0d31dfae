/**
 * `GET /status`: one self-contained HTML page (inline CSS and JS, nothing fetched but
 * `status.json`, so it works offline and behind a firewall) that reads `status.json` every
 * second and draws commands/s over the last STATUS_HISTORY_POINTS seconds on a canvas (see
 * docs/observability.md, Status page). Values reach the page through textContent only: a
 * peer's node id or error text is never parsed as HTML.
 *
 * The script avoids template literals so that this file can hold it in one.
 */

/** Seconds of commands/s the page keeps and draws (one point per refresh). */
export const STATUS_HISTORY_POINTS = 300;
export const STATUS_REFRESH_MS = 1000;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MerkleKV status</title>
<style>
  :root { --ink: #1d2330; --muted: #667085; --line: #d8dde6; --ok: #1a7f37; --bad: #c4320a;
    --accent: #2f6fdb; --card: #ffffff; --back: #f3f5f8; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
    color: var(--ink); background: var(--back); }
  header { display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap;
    padding: 14px 20px; background: var(--ink); color: #fff; }
  header h1 { font-size: 18px; margin: 0; }
  header .sub { color: #c8cfdb; }
  #banner { margin-left: auto; font-weight: 600; }
  main { padding: 16px 20px; display: grid; gap: 16px;
    grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
    padding: 12px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
    margin: 0 0 8px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
  dt { color: var(--muted); }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
  .big { font-size: 28px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .ok { color: var(--ok); }
  .bad { color: var(--bad); }
  code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 12px; }
  table { width: 100%; border-collapse: collapse; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }
  th { color: var(--muted); font-weight: 500; }
  canvas { width: 100%; height: 160px; display: block; }
</style>
</head>
<body>
<header>
  <h1>MerkleKV <span id="node-id">…</span></h1>
  <span class="sub">version <span id="version">…</span>, up <span id="uptime">…</span>,
    <span id="phase">…</span></span>
  <span id="banner">connecting…</span>
</header>
<main>
  <section>
    <h2>Cluster</h2>
    <div class="big" id="converged">…</div>
    <dl>
      <dt>Peer roots known</dt><dd id="roots-known">–</dd>
      <dt>This node's root</dt><dd><code id="merkle-root">–</code></dd>
    </dl>
  </section>
  <section>
    <h2>Store</h2>
    <dl>
      <dt>Keys</dt><dd id="keys" class="big">–</dd>
      <dt>Tombstones</dt><dd id="tombstones">–</dd>
      <dt>Memory (RSS)</dt><dd id="rss">–</dd>
      <dt>Heap used / total</dt><dd id="heap">–</dd>
      <dt>Connections</dt><dd id="connections">–</dd>
    </dl>
  </section>
  <section>
    <h2>Replication</h2>
    <dl>
      <dt>Broker</dt><dd id="replication-state">–</dd>
      <dt>Lag (last / avg / max)</dt><dd id="replication-lag">–</dd>
      <dt>Outbox</dt><dd id="replication-outbox">–</dd>
      <dt>Published / applied</dt><dd id="replication-counts">–</dd>
    </dl>
  </section>
  <section class="wide">
    <h2>Commands per second: <span id="commands-rate">–</span>
      <span class="sub" id="chart-range"></span></h2>
    <canvas id="chart" width="900" height="160" data-points="0"></canvas>
  </section>
  <section class="wide">
    <h2>Anti-entropy peers <span id="anti-entropy-session" class="sub"></span></h2>
    <table>
      <thead><tr><th>Peer</th><th>Node</th><th>Root as last seen</th><th>Root seen</th>
        <th>Last sync</th><th>Outcome</th></tr></thead>
      <tbody id="peers"><tr><td colspan="6">–</td></tr></tbody>
    </table>
  </section>
</main>
<script>
(function () {
"use strict";
// Inside a function: top-level names would meet window's (window.history is read-only).
var HISTORY_POINTS = ${STATUS_HISTORY_POINTS};
var REFRESH_MS = ${STATUS_REFRESH_MS};
// One point per report: {timeMs, rate}; at most HISTORY_POINTS are kept.
var points = [];
var previous = null;

function byId(id) { return document.getElementById(id); }
function show(id, text, className) {
  var element = byId(id);
  element.textContent = text;
  if (className !== undefined) element.className = className;
}
function orDash(value) { return value === null || value === undefined ? "–" : String(value); }
function bytes(value) {
  if (value === null || value === undefined) return "–";
  var units = ["B", "KiB", "MiB", "GiB", "TiB"];
  var unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return value.toFixed(unit === 0 ? 0 : 1) + " " + units[unit];
}
function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return "–";
  seconds = Math.floor(seconds);
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  if (seconds < 86400) return Math.floor(seconds / 3600) + " h " + Math.floor(seconds % 3600 / 60) + " min";
  return Math.floor(seconds / 86400) + " d " + Math.floor(seconds % 86400 / 3600) + " h";
}
function ago(nowMs, thenMs) {
  return thenMs === null ? "never" : duration((nowMs - thenMs) / 1000) + " ago";
}

function record(report) {
  var count = report.commands_processed;
  if (count === null) return;
  if (previous !== null && report.time_ms > previous.timeMs && count >= previous.count) {
    var rate = (count - previous.count) * 1000 / (report.time_ms - previous.timeMs);
    points.push({ timeMs: report.time_ms, rate: rate });
    if (points.length > HISTORY_POINTS) points.splice(0, points.length - HISTORY_POINTS);
    show("commands-rate", rate < 10 ? rate.toFixed(1) : Math.round(rate).toLocaleString("en"));
  }
  previous = { timeMs: report.time_ms, count: count };
}

function drawChart() {
  var canvas = byId("chart");
  var width = canvas.clientWidth || canvas.width;
  var ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(160 * ratio);
  var context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, 160);
  var top = 8, bottom = 140, left = 48;
  var max = 1;
  points.forEach(function (point) { if (point.rate > max) max = point.rate; });
  context.font = "11px system-ui, sans-serif";
  context.fillStyle = "#667085";
  context.strokeStyle = "#d8dde6";
  context.beginPath();
  context.moveTo(left, bottom + 0.5); context.lineTo(width, bottom + 0.5);
  context.moveTo(left, top + 0.5); context.lineTo(width, top + 0.5);
  context.stroke();
  context.fillText(Math.round(max).toLocaleString("en"), 4, top + 8);
  context.fillText("0", 4, bottom);
  context.fillText("-" + Math.round(HISTORY_POINTS / 60) + " min", left, 156);
  context.fillText("now", width - 24, 156);
  canvas.dataset.points = String(points.length);
  if (points.length === 0) return;
  var step = (width - left) / (HISTORY_POINTS - 1);
  var offset = HISTORY_POINTS - points.length;
  context.beginPath();
  points.forEach(function (point, index) {
    var x = left + (offset + index) * step;
    var y = bottom - (bottom - top) * point.rate / max;
    if (index === 0) context.moveTo(x, y); else context.lineTo(x, y);
  });
  context.strokeStyle = "#2f6fdb";
  context.lineWidth = 2;
  context.stroke();
  show("chart-range", "(last " + duration(points.length * REFRESH_MS / 1000) + ", peak " +
    Math.round(max).toLocaleString("en") + "/s)");
}

function renderPeers(report) {
  var body = byId("peers");
  var antiEntropy = report.anti_entropy;
  body.textContent = "";
  show("anti-entropy-session", antiEntropy === null ? "(off)" : "(every " +
    antiEntropy.interval_ms + " ms; " + antiEntropy.session + "; sessions ok " +
    antiEntropy.sessions_ok + ", failed " + antiEntropy.sessions_failed + ")");
  var peers = antiEntropy === null ? [] : antiEntropy.peers;
  if (peers.length === 0) {
    var row = body.insertRow();
    var cell = row.insertCell();
    cell.colSpan = 6;
    cell.textContent = antiEntropy === null ? "anti-entropy is off" : "no session yet";
    return;
  }
  peers.forEach(function (peer) {
    var row = body.insertRow();
    row.dataset.address = peer.address;
    var cells = [peer.address, orDash(peer.node_id), orDash(peer.merkle_root),
      peer.root_seen_at_ms === null ? "–" : ago(report.time_ms, peer.root_seen_at_ms),
      ago(report.time_ms, peer.last_sync_at_ms),
      peer.last_outcome === "ok" ? "ok" : "error: " + peer.last_error];
    cells.forEach(function (text, index) {
      var cell = row.insertCell();
      cell.textContent = text;
      if (index === 2) cell.className = "mono " + (peer.in_step ? "ok" : "bad");
      if (index === 5) cell.className = peer.last_outcome === "ok" ? "ok" : "bad";
    });
  });
}

function renderReplication(replication) {
  if (replication === null) {
    show("replication-state", "off");
    ["replication-lag", "replication-outbox", "replication-counts"].forEach(function (id) {
      show(id, "–");
    });
    return;
  }
  show("replication-state", replication.state + " (" + replication.broker_address + ")",
    replication.connected ? "ok" : "bad");
  show("replication-lag", replication.lag_ms + " / " + replication.lag_avg_ms + " / " +
    replication.lag_max_ms + " ms");
  show("replication-outbox", replication.outbox_changes + " changes");
  show("replication-counts", replication.published + " / " + replication.applied);
}

function render(report) {
  show("node-id", report.node_id);
  document.title = "MerkleKV " + report.node_id;
  show("version", report.version);
  show("uptime", duration(report.uptime_seconds));
  show("phase", report.phase, report.phase === "serving" ? "ok" : "bad");
  show("keys", orDash(report.keys));
  show("tombstones", orDash(report.tombstones));
  show("rss", bytes(report.memory.rss_bytes));
  show("heap", bytes(report.memory.heap_used_bytes) + " / " + bytes(report.memory.heap_total_bytes));
  show("connections", orDash(report.connections));
  show("merkle-root", orDash(report.merkle_root));
  var convergence = report.convergence;
  if (convergence === null) {
    show("converged", "–", "big");
    show("roots-known", "–");
  } else {
    show("converged", convergence.converged ? "converged" : "not converged",
      "big " + (convergence.converged ? "ok" : "bad"));
    show("roots-known", convergence.roots_known === 0 ? "none yet" :
      convergence.roots_known + " (" + convergence.roots_differing + " differ from this node's)");
  }
  renderReplication(report.replication);
  renderPeers(report);
  record(report);
  drawChart();
}

function refresh() {
  fetch("status.json", { cache: "no-store" })
    .then(function (response) {
      if (!response.ok) throw new Error("status.json answered " + response.status);
      return response.json();
    })
    .then(function (report) {
      render(report);
      show("banner", "live", "ok");
    })
    .catch(function (error) { show("banner", "unreachable: " + error.message, "bad"); })
    .then(function () { setTimeout(refresh, REFRESH_MS); });
}
refresh();
})();
</script>
</body>
</html>
`;
