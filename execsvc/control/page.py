"""The control page served at ``GET /``: one self-contained HTML document (inline CSS and JS).

No external assets and no build step. The script takes the token from a ``?token=`` query once,
keeps it in ``sessionStorage``, removes it from the address bar and sends it as a Bearer header
on every fetch. It renders ``/status``, ``/positions`` and ``/results`` at once, then follows
``/events`` (read with ``fetch`` and a stream reader, since ``EventSource`` cannot send headers):
``result`` frames update the results table and refresh positions, ``status`` frames the header and
breakers. Every value is inserted with ``textContent``, never as HTML.
"""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>execsvc control</title>
<style>
:root { color-scheme: light dark; --ok: #2e7d32; --bad: #c62828; --muted: #888; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 1.5rem; }
header { display: flex; gap: 1.2rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 0; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
.badge { padding: .1rem .5rem; border-radius: .3rem; font-weight: 600; color: #fff; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .2rem .6rem; border-bottom: 1px solid #8884; white-space: nowrap; }
.num { text-align: right; } .pos { color: var(--ok); } .neg { color: var(--bad); }
#breakers { width: auto; } #conn { color: var(--muted); } #error { color: var(--bad); font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>execsvc</h1>
  <span>mode <b id="mode">-</b></span>
  <span id="halted" class="badge">-</span>
  <span>day <b id="day">-</b></span>
  <span id="conn">connecting</span>
</header>
<p id="error" hidden></p>
<h2>Breakers</h2>
<table id="breakers"><tbody></tbody></table>
<h2>Positions</h2>
<table id="positions"><thead><tr><th>Strategy</th><th>Symbol</th><th>Product</th>
<th class="num">Net qty</th><th class="num">Avg</th><th class="num">Last</th>
<th class="num">Realized net</th><th class="num">Unrealized</th></tr></thead><tbody></tbody></table>
<h2>Last 50 results</h2>
<table id="results"><thead><tr><th>Time</th><th>Intent</th><th>Strategy</th><th>Symbol</th>
<th>Side</th><th class="num">Qty</th><th class="num">Filled</th><th class="num">Avg</th>
<th>Status</th><th>Reason</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const KEY = "execsvc-control-token";
const params = new URLSearchParams(location.search);
if (params.has("token")) {
  sessionStorage.setItem(KEY, params.get("token"));
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
}
const token = sessionStorage.getItem(KEY);
const headers = token ? { Authorization: "Bearer " + token } : {};
const results = new Map();
const $ = (id) => document.getElementById(id);
const money = (v) => (v === null || v === undefined ? "" : Number(v).toFixed(2));

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function signed(td, v) { if (v > 0) td.classList.add("pos"); else if (v < 0) td.classList.add("neg"); }
function showError(e) {
  const p = $("error");
  p.hidden = !e;
  p.textContent = e ? String(e.message || e) : "";
}
async function get(path) {
  const r = await fetch(path, { headers, cache: "no-store" });
  if (r.status === 401) throw new Error("unauthorized: open this page as /?token=<control token>");
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
function renderStatus(s) {
  $("mode").textContent = s.mode;
  $("day").textContent = s.day;
  const b = s.breakers, h = $("halted");
  h.textContent = s.halted ? "HALTED" : "trading";
  h.className = "badge " + (s.halted ? "bad" : "ok");
  h.title = b.halted || "";
  const latched = Object.entries(b.latched).map(([k, v]) => k + ": " + v).join("; ");
  const rows = [["halted", b.halted || "no"], ["latched", latched || "none"],
    ["realized net", money(b.realized_net)], ["charges", money(b.charges)], ["equity", money(b.equity)],
    ["peak equity", money(b.peak_equity)], ["loss streak", b.loss_streak], ["trades today", b.trades_today]];
  const body = $("breakers").tBodies[0];
  body.replaceChildren();
  for (const [k, v] of rows) {
    const tr = body.insertRow(), th = document.createElement("th");
    th.textContent = k;
    tr.appendChild(th);
    cell(tr, v);
  }
}
function renderPositions(list) {
  const body = $("positions").tBodies[0];
  body.replaceChildren();
  for (const p of list) {
    const tr = body.insertRow();
    cell(tr, p.strategy_code); cell(tr, p.symbol); cell(tr, p.product || "MIS");
    cell(tr, p.net_qty || 0, "num"); cell(tr, money(p.avg_price), "num");
    cell(tr, money(p.last_price), "num");
    signed(cell(tr, money(p.realized_net), "num"), p.realized_net);
    signed(cell(tr, money(p.unrealized), "num"), p.unrealized);
  }
}
function addResult(r) {
  results.delete(r.intent_id);
  results.set(r.intent_id, r);
  while (results.size > 50) results.delete(results.keys().next().value);
}
function renderResults() {
  const body = $("results").tBodies[0];
  body.replaceChildren();
  for (const r of [...results.values()].reverse()) {
    const tr = body.insertRow();
    tr.dataset.intent = r.intent_id;
    cell(tr, (r.timestamp || "").slice(11, 19)); cell(tr, r.intent_id); cell(tr, r.strategy_code);
    cell(tr, r.symbol); cell(tr, r.side); cell(tr, r.qty, "num"); cell(tr, r.filled_qty || 0, "num");
    cell(tr, money(r.avg_price), "num");
    cell(tr, r.status, r.status === "REJECTED" ? "neg" : r.status === "FILLED" ? "pos" : "");
    cell(tr, r.reject_reason || r.message || "");
  }
}
let positionsTimer = null;
function schedulePositions() {
  if (positionsTimer !== null) return;
  positionsTimer = setTimeout(async () => {
    positionsTimer = null;
    try { renderPositions(await get("/positions")); } catch (e) { showError(e); }
  }, 250);
}
async function refresh() {
  const [s, p, rs] = await Promise.all([get("/status"), get("/positions"), get("/results?limit=50")]);
  renderStatus(s);
  renderPositions(p);
  for (const r of rs) addResult(r);
  renderResults();
}
function onFrame(text) {
  let event = "message";
  const data = [];
  for (const line of text.split("\\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return;
  const msg = JSON.parse(data.join("\\n"));
  if (event === "status") renderStatus(msg);
  else if (event === "result") { addResult(msg); renderResults(); schedulePositions(); }
}
async function stream() {
  const r = await fetch("/events", { headers, cache: "no-store" });
  if (!r.ok || !r.body) throw new Error("/events: HTTP " + r.status);
  $("conn").textContent = "live";
  const reader = r.body.getReader(), decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\\n\\n")) >= 0) { onFrame(buf.slice(0, i)); buf = buf.slice(i + 2); }
  }
}
async function main() {
  try { await refresh(); showError(null); } catch (e) { showError(e); }
  for (;;) {
    try { await stream(); } catch (e) { /* reconnect below */ }
    $("conn").textContent = "reconnecting";
    await new Promise((ok) => setTimeout(ok, 2000));
    try { await refresh(); showError(null); } catch (e) { showError(e); }
  }
}
main();
</script>
</body>
</html>
"""
