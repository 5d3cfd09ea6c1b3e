// Sextant dashboard: plain JavaScript over the gateway's public APIs.
// Live data comes from the watch API's event streams (/discovery/v1/…);
// the rest is fetched when those streams say something changed.
"use strict";

const state = { vips: [], netVips: {}, figures: {}, vipMeta: {}, services: {}, edge: null, components: null, records: [], mesos: null, overlay: null, overlayErr: "" };
const streams = {};
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// A token in the URL (#token=…, as the banner prints it) becomes the
// login cookie, and leaves the address bar.
function takeTokenFromURL() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (!m) return;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + "#/vips");
}

function setToken(tok) {
  document.cookie = "dcos-acs-auth-cookie=" + tok + "; path=/; SameSite=Strict";
}

class Unauthorized extends Error {}

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json" } }, opts || {}));
  if (r.status === 401) throw new Unauthorized(path);
  if (!r.ok) {
    const body = await r.text();
    const e = new Error(body.trim() || r.status + " " + r.statusText);
    e.status = r.status;
    throw e;
  }
  const ct = r.headers.get("Content-Type") || "";
  return ct.includes("json") ? r.json() : r.text();
}

function setLive() {
  const n = Object.values(streams).filter((s) => s.readyState === 1).length;
  const el = $("live");
  el.textContent = n ? "live" : "offline";
  el.className = "live " + (n ? "on" : "off");
}

// watch follows one discovery document over server-sent events.
function watch(name, path, onData) {
  if (streams[name]) streams[name].close();
  const es = new EventSource(path);
  streams[name] = es;
  const handler = (ev) => {
    try { onData(JSON.parse(ev.data)); } catch (e) { status("bad event from " + path + ": " + e); }
    setLive();
  };
  for (const t of ["vips", "services", "edge", "endpoints", "message"]) es.addEventListener(t, handler);
  es.onopen = setLive;
  es.onerror = async () => {
    setLive();
    // EventSource hides the status: find out whether we were logged out.
    try { await api("/gateway/v1/components"); } catch (e) { if (e instanceof Unauthorized) showLogin(); }
  };
}

function status(msg) { $("status").textContent = msg; }

// ---------- Service Addresses ----------

const baseBackendKeys = new Set(["ip", "port", "weight", "agent_ip", "task_id", "state", "target"]);

// Known per-backend figures of /net/v1/vips, in display order, with
// their headings; others are shown after them under their own names.
const knownFigures = [
  ["connections", "Connections"], ["connections_per_s", "Conns/s"], ["failures", "Failures"], ["failure_pct", "Failure %"],
  ["active", "Active"], ["p99_latency_ms", "P99 Latency"], ["bytes_to_backend", "Bytes in"], ["bytes_from_backend", "Bytes out"],
];
const prevSample = {};

// figures returns the extra per-backend fields /net/v1/vips reports
// (counters, latencies), flattened one level, with the connection rate
// since the last sample and the failure share added.
function figures(b, key) {
  const out = {};
  if (!b) return out;
  if (typeof b.connections === "number") {
    const now = Date.now();
    const p = prevSample[key];
    if (p && now > p.at && b.connections >= p.connections) out.connections_per_s = (b.connections - p.connections) * 1000 / (now - p.at);
    prevSample[key] = { at: now, connections: b.connections };
    if (typeof b.failures === "number" && b.connections + b.failures > 0) out.failure_pct = (100 * b.failures / (b.connections + b.failures)).toFixed(4);
  }
  for (const [k, v] of Object.entries(b)) {
    if (baseBackendKeys.has(k)) continue;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) if (typeof v2 !== "object") out[k + "." + k2] = v2;
    } else if (typeof v !== "object") {
      out[k] = v;
    }
  }
  return out;
}

function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2);
  return esc(v);
}

async function refreshNetVips() {
  try {
    const list = await api("/net/v1/vips");
    const m = {};
    state.vipMeta = {};
    for (const v of list || []) {
      state.vipMeta[v.vip + "|" + v.protocol] = v;
      for (const b of v.backend || []) m[v.vip + "|" + v.protocol + "|" + b.ip + ":" + b.port] = b;
    }
    state.netVips = m;
    state.figures = {};
    for (const [k, b] of Object.entries(m)) state.figures[k] = figures(b, k);
    renderVips();
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    status("/net/v1/vips: " + e.message);
  }
}

function renderVips() {
  const q = $("vips-filter").value.trim().toLowerCase();
  const list = state.vips.filter((v) => !q || (v.vip + " " + (v.labels || []).join(" ") + " " + v.addrs.join(" ")).toLowerCase().includes(q));
  $("vips-count").textContent = list.length + " of " + state.vips.length + " VIPs";
  if (!state.vips.length) {
    $("vips").innerHTML = '<div class="empty">No Service Addresses detected. Give an app port a <code>VIP_0</code> label such as <code>/myapp:80</code>.</div>';
    return;
  }
  $("vips").innerHTML = list.map((v) => {
    const rows = v.backend.map((b) => {
      const key = v.vip + "|" + v.protocol + "|" + b.ip + ":" + b.port;
      return { b, n: state.netVips[key], f: state.figures[key] || {} };
    });
    const present = new Set(rows.flatMap((r) => Object.keys(r.f)));
    const cols = knownFigures.filter(([k]) => present.has(k)).concat([...present].filter((k) => !knownFigures.some(([kk]) => kk === k)).sort().map((k) => [k, k]));
    const serving = v.backend.filter((b) => b.weight > 0).length;
    return `<div class="card" data-vip="${esc(v.vip)}">
      <h3>${esc(v.vip)} <span class="pill">${esc(v.protocol)}</span></h3>
      <div class="sub">${v.addrs.length ? "address " + v.addrs.map(esc).join(", ") + " · " : ""}declared by ${v.labels.map((l) => "<code>" + esc(l) + "</code>").join(", ")}
        · <span class="${serving ? "ok" : "bad"}">${serving} of ${v.backend.length} backends serving</span>${vipPlane(state.vipMeta[v.vip + "|" + v.protocol])}</div>
      ${v.backend.length ? `<table><thead><tr><th>Backend</th><th>Task</th><th>Agent</th><th>State</th>${cols.map(([, h]) => `<th class="num">${esc(h)}</th>`).join("")}</tr></thead><tbody>
      ${rows.map(({ b, n, f }) => `<tr data-backend="${esc(b.ip + ":" + b.port)}"><td class="mono">${esc(b.ip)}:${b.port}${n && n.target ? ' <span class="hint">→ ' + esc(n.target) + "</span>" : ""}</td><td class="mono">${esc(b.task_id)}</td>
        <td class="mono">${esc(b.agent_ip)}</td><td>${backendState(b, n)}</td>
        ${cols.map(([c]) => `<td class="num" data-figure="${esc(c)}">${c in f ? fmt(f[c]) : ""}</td>`).join("")}</tr>`).join("")}
      </tbody></table>` : '<div class="empty">No backends: no task of this VIP is running.</div>'}
    </div>`;
  }).join("");
}

// vipPlane describes how this node's load balancer serves a VIP, when
// /net/v1/vips says.
function vipPlane(m) {
  if (!m || !m.plane) return "";
  let s = " · load balancer: " + esc(m.plane) + (m.mode ? " (" + esc(m.mode) + ")" : "");
  if (m.listen && m.listen.length) s += ", clients here connect to <code>" + m.listen.map(esc).join("</code>, <code>") + "</code>";
  if (m.refused) s += ', <span class="bad">' + fmt(m.refused) + " refused (no backend)</span>";
  return s;
}

// backendState is the load balancer's view of a backend when it reports
// one (up, draining, unreachable), else the model's (its weight).
function backendState(b, n) {
  const st = n && n.state;
  if (st === "up" || (!st && b.weight > 0)) return '<span class="ok">serving</span>';
  if (st === "unreachable") return '<span class="pill drain">unreachable</span>';
  return '<span class="pill drain" title="weight 0: killing, unhealthy, or its health check has no result yet">not serving</span>';
}

// ---------- Services ----------

function renderServices() {
  const q = $("services-filter").value.trim().toLowerCase();
  const names = Object.keys(state.services).sort();
  const shown = names.filter((n) => !q || n.toLowerCase().includes(q) || Object.keys(state.services[n]).some((p) => p.toLowerCase().includes(q)));
  $("services-count").textContent = shown.length + " of " + names.length;
  $("services").innerHTML = shown.map((n) => {
    const eps = state.services[n];
    const ports = Object.keys(eps).sort();
    return `<div class="card" data-service="${esc(n)}"><h3>${esc(n)}</h3>
      <div class="sub">GET <code>/service/${esc(n)}/v1/endpoints</code></div>
      ${ports.length ? `<table><thead><tr><th>Endpoint</th><th>Address</th><th>DNS</th><th>VIP</th></tr></thead><tbody>
      ${ports.map((p) => `<tr><td>${esc(p)}</td><td class="mono">${eps[p].address.map(esc).join("<br>") || '<span class="bad">no serving task</span>'}</td>
        <td class="mono">${eps[p].dns.map(esc).join("<br>")}</td><td class="mono">${esc(eps[p].vip || "Not Enabled")}</td></tr>`).join("")}
      </tbody></table>` : '<div class="empty">No named ports.</div>'}</div>`;
  }).join("") || '<div class="empty">No services.</div>';
}

// parseMetrics reads the gateway's Prometheus text: per upstream the
// requests by status class and the summed latency.
function parseMetrics(text) {
  const out = {};
  const row = (u) => (out[u] = out[u] || { n: 0, c: { 2: 0, 3: 0, 4: 0, 5: 0 }, sum: 0, count: 0 });
  for (const line of text.split("\n")) {
    let m = line.match(/^sextant_gateway_requests_total\{(.*)\} ([0-9.e+]+)$/);
    if (m) {
      const u = (m[1].match(/upstream="([^"]*)"/) || [])[1];
      const code = (m[1].match(/code="(\d)/) || [])[1];
      if (u === undefined) continue;
      const r = row(u);
      r.n += Number(m[2]);
      if (code in r.c) r.c[code] += Number(m[2]);
      continue;
    }
    m = line.match(/^sextant_gateway_request_duration_seconds_(sum|count)\{upstream="([^"]*)"\} ([0-9.e+]+)$/);
    if (m) row(m[2])[m[1]] = Number(m[3]);
  }
  return out;
}

async function refreshRoutes() {
  try {
    const text = await api("/nginx/metrics");
    const rows = parseMetrics(String(text));
    const names = Object.keys(rows).filter((u) => !["metrics", "ui", "discovery", "components", "unauthorized"].includes(u)).sort();
    $("routes-table").tBodies[0].innerHTML = names.map((u) => {
      const r = rows[u];
      return `<tr data-upstream="${esc(u)}"><td class="mono">${esc(u)}</td><td class="num">${fmt(r.n)}</td>${[2, 3, 4, 5].map((c) => `<td class="num${c === 5 && r.c[c] ? " bad" : ""}">${fmt(r.c[c])}</td>`).join("")}
        <td class="num">${r.count ? (1000 * r.sum / r.count).toFixed(1) + " ms" : ""}</td></tr>`;
    }).join("") || '<tr><td colspan="7" class="hint">No requests routed yet.</td></tr>';
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
  }
}

// ---------- Networks ----------

async function refreshNetworks() {
  try {
    state.mesos = await api("/mesos/master/state");
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    status("/mesos/master/state: " + e.message);
  }
  try {
    // The overlay master answers through the Mesos master, as DC/OS'
    // networks page reads it.
    state.overlay = await api("/mesos/overlay-master/state");
    state.overlayErr = "";
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    state.overlay = null;
    state.overlayErr = e.message;
  }
  renderNetworks();
}

function taskNetwork(t) {
  const st = (t.statuses || [])[t.statuses.length - 1] || {};
  const cn = (((t.container || {}).network_infos || [])[0] || {}).name;
  const sn = (((st.container_status || {}).network_infos || [])[0] || {}).name;
  return cn || sn || "host";
}

function taskIPs(t) {
  const st = (t.statuses || [])[t.statuses.length - 1] || {};
  const ips = [];
  for (const ni of (st.container_status || {}).network_infos || []) for (const a of ni.ip_addresses || []) ips.push(a.ip_address);
  return ips;
}

function renderNetworks() {
  const overlays = ((state.overlay || {}).network || {}).overlays || [];
  const nets = new Map();
  for (const o of overlays) nets.set(o.name, { name: o.name, subnet: [o.subnet, o.subnet6].filter(Boolean).join("\n"), prefix: [o.prefix, o.prefix6].filter((x) => x != null).join(" / "), tasks: [] });
  for (const fw of ((state.mesos || {}).frameworks || [])) {
    for (const t of fw.tasks || []) {
      if (t.state !== "TASK_RUNNING") continue;
      const n = taskNetwork(t);
      if (!nets.has(n)) nets.set(n, { name: n, subnet: n === "host" ? "the agents' own addresses" : "", prefix: "", tasks: [] });
      nets.get(n).tasks.push(t);
    }
  }
  $("overlay-note").textContent = state.overlay ? "Virtual networks from the overlay master; tasks from Mesos." :
    "The overlay master is not running (" + (state.overlayErr || "no answer") + "): no virtual networks detected. Tasks are listed by the network they use.";
  const q = $("networks-filter").value.trim().toLowerCase();
  const list = [...nets.values()].filter((n) => !q || (n.name + " " + n.subnet).toLowerCase().includes(q));
  $("networks-count").textContent = list.length + " of " + nets.size + " Networks";
  $("networks-table").tBodies[0].innerHTML = list.map((n) => `<tr data-network="${esc(n.name)}"><td><a href="#/networks/${encodeURIComponent(n.name)}">${esc(n.name)}</a></td>
    <td class="mono">${esc(n.subnet).replace(/\n/g, "<br>")}</td><td>${esc(n.prefix)}</td><td class="num">${n.tasks.length}</td></tr>`).join("");
  const sel = decodeURIComponent((location.hash.match(/^#\/networks\/(.+)$/) || [])[1] || "");
  const net = nets.get(sel) || list[0];
  if (!net) { $("network-tasks").innerHTML = ""; return; }
  $("network-tasks").innerHTML = `<div class="card"><h3>Tasks on ${esc(net.name)}</h3><table><thead><tr><th>Task</th><th>Container IP</th><th>Port Mappings</th></tr></thead><tbody>
    ${net.tasks.map((t) => {
      const pms = ((t.container || {}).docker || {}).port_mappings || [];
      const shown = pms.slice(0, 3).map((p) => `${p.container_port} › ${p.host_port} (${p.protocol || "tcp"})`).join(", ") + (pms.length > 3 ? ", …" : "");
      return `<tr><td class="mono">${esc(t.id)}</td><td class="mono">${esc(taskIPs(t).join(", ") || "N/A")}</td><td>${esc(shown)}</td></tr>`;
    }).join("")}</tbody></table></div>`;
}

// ---------- Edge ----------

async function refreshComponents() {
  try {
    state.components = await api("/gateway/v1/components");
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
  }
  renderEdge();
}

function renderEdge() {
  const running = state.components && state.components.edge;
  $("edge-status").innerHTML = running ? `The edge is running; its admin API is reachable at <a href="/edge/">/edge/</a>. Routes below are what the apps' <code>HAPROXY_*</code> labels configure.`
    : "The edge isn't running. Routes below are what the apps' <code>HAPROXY_*</code> labels would configure (marathon-lb's rules, every group).";
  const d = state.edge || { routes: [], problems: [] };
  $("edge-table").tBodies[0].innerHTML = d.routes.map((r) => `<tr data-route="${esc(r.name)}"><td class="mono">${esc(r.name)}</td><td>${esc(r.app_id)}</td><td class="num">${r.port}</td>
    <td>${esc(r.mode)}</td><td>${r.groups.map((g) => `<span class="pill">${esc(g)}</span>`).join("")}</td>
    <td class="mono">${r.vhosts.map(esc).join("<br>")}${r.path ? "<br>path " + esc(r.path) : ""}</td>
    <td class="mono">${r.servers.map((s) => esc(s.ip + ":" + s.port) + (s.draining ? ' <span class="pill drain">draining</span>' : "")).join("<br>")}</td></tr>`).join("")
    || '<tr><td colspan="7" class="empty">No edge routes: no app has a service port with running tasks.</td></tr>';
  $("edge-problems").innerHTML = d.problems.length ? "<h3>Left out</h3><ul>" + d.problems.map((p) => "<li>" + esc(p) + "</li>").join("") + "</ul>" : "";
}

// ---------- DNS ----------

let dnsTimer = 0;
function refreshDNSSoon() { clearTimeout(dnsTimer); dnsTimer = setTimeout(refreshDNS, 300); }

async function refreshDNS() {
  try {
    const recs = await api("/net/v1/records");
    state.records = Array.isArray(recs) ? recs : [];
    renderDNS();
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    status("/net/v1/records: " + e.message);
  }
}

function renderDNS() {
  const q = $("dns-search").value.trim().toLowerCase();
  const list = state.records.filter((r) => !q || (r.name + " " + r.host + " " + r.rtype).toLowerCase().includes(q));
  $("dns-count").textContent = list.length + " of " + state.records.length;
  $("dns-table").tBodies[0].innerHTML = list.slice(0, 500).map((r) => `<tr><td class="mono">${esc(r.name)}</td><td>${esc(r.rtype)}</td><td class="mono">${esc(r.host)}</td></tr>`).join("")
    + (list.length > 500 ? `<tr><td colspan="3" class="hint">${list.length - 500} more: narrow the search</td></tr>` : "");
}

// ---------- pages, login ----------

function showLogin() {
  for (const s of Object.values(streams)) s.close();
  setLive();
  show("login");
}

function show(page) {
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== "page-" + page;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
}

function route() {
  const m = location.hash.match(/^#\/(\w+)/);
  const page = m ? m[1] : "vips";
  if (page === "login") return showLogin();
  show(["vips", "services", "networks", "edge", "dns"].includes(page) ? page : "vips");
  if (page === "networks") renderNetworks();
  if (page === "services") refreshRoutes();
}

function start() {
  watch("vips", "/discovery/v1/vips", (d) => { state.vips = d || []; renderVips(); refreshNetVips(); });
  watch("services", "/discovery/v1/services", (d) => { state.services = (d && d.services) || {}; renderServices(); refreshDNSSoon(); refreshNetworks(); });
  watch("edge", "/discovery/v1/edge", (d) => { state.edge = d; renderEdge(); });
  refreshComponents();
  route();
}

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  setToken($("token-input").value.trim());
  location.hash = "#/vips";
  start();
});
$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await api("/acs/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ uid: $("login-uid").value, password: $("login-pw").value }) });
    location.hash = "#/vips";
    start();
  } catch (e) {
    $("login-error").textContent = e.status === 401 || e instanceof Unauthorized ? "Wrong user or password." : e.message;
  }
});
$("logout").addEventListener("click", () => { fetch("/acs/api/v1/auth/logout", { credentials: "same-origin" }); document.cookie = "dcos-acs-auth-cookie=; path=/; max-age=0"; });
$("vips-filter").addEventListener("input", renderVips);
$("services-filter").addEventListener("input", renderServices);
$("networks-filter").addEventListener("input", renderNetworks);
$("dns-search").addEventListener("input", renderDNS);
window.addEventListener("hashchange", route);
// Per-backend figures change without the VIP table changing.
setInterval(() => {
  if (document.hidden || !streams.vips) return;
  refreshNetVips();
  if (/^#\/services/.test(location.hash)) refreshRoutes();
}, 5000);

takeTokenFromURL();
if (/^#\/login/.test(location.hash)) showLogin(); else start();
