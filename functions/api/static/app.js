// Errata's dashboard: plain DOM, no build step. Every value that comes from an event is set as text, never
// parsed as HTML (events are written by whoever holds a DSN).
"use strict";

const TOKEN_KEY = "errata-token";
const PROJECT_KEY = "errata-project";
const app = document.getElementById("app");

function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "className") element.className = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// replaceChildren writes a null child as the text "null": the optional parts of a page are dropped instead.
function present(...children) {
  return children.filter((child) => child !== null && child !== undefined && child !== false);
}

// --- session: the token comes once in ?token= (the `make dev` banner) or from the login form ---------------
function takeTokenFromAddress() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  params.delete("token");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Unauthorized("no token");
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) throw new Unauthorized("token not accepted");
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error((body && body.detail) || response.status + " " + response.statusText);
  return body;
}

// --- formatting ---------------------------------------------------------------------------------------------
function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 45) return "just now";
  const units = [["year", 31536000], ["day", 86400], ["hour", 3600], ["min", 60]];
  for (const [name, size] of units) {
    if (seconds >= size) {
      const n = Math.round(seconds / size);
      return `${n} ${name}${n === 1 || name === "min" ? "" : "s"} ago`;
    }
  }
  return "1 min ago";
}

function when(iso) {
  return h("time", { datetime: iso, title: iso ? new Date(iso).toLocaleString() : "" }, ago(iso));
}

function statusBadge(status) {
  return h("span", { className: "badge " + status, "data-status": status }, status.replaceAll("_", " "));
}

function pairs(value) {
  if (!value) return [];
  if (Array.isArray(value)) return value.filter((p) => Array.isArray(p) && p.length === 2);
  return Object.entries(value);
}

function show(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function kvTable(entries) {
  return h("table", { className: "kv" }, entries.map(([key, value]) => h("tr", {}, h("td", {}, key), h("td", {}, show(value)))));
}

// --- charts (uPlot) -----------------------------------------------------------------------------------------
function hourSeries(counts, hours) {
  const end = Math.floor(Date.now() / 3600000) * 3600;
  const byStart = new Map(counts.map((c) => [Math.floor(Date.parse(c.start) / 1000), c.events]));
  const xs = [];
  const ys = [];
  for (let i = hours - 1; i >= 0; i--) {
    const start = end - i * 3600;
    xs.push(start);
    ys.push(byStart.get(start) || 0);
  }
  return [xs, ys];
}

function barChart(target, data, { width, height, axes }) {
  const bars = uPlot.paths.bars({ size: [0.8, 40] });
  return new uPlot(
    {
      width,
      height,
      legend: { show: false },
      cursor: { show: axes },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: axes ? [{}, { size: 40 }] : [{ show: false }, { show: false }],
      series: [{}, { label: "events", stroke: "#6c47ff", fill: "rgba(108,71,255,.35)", paths: bars, points: { show: false } }],
    },
    data,
    target,
  );
}

// --- views --------------------------------------------------------------------------------------------------
function project() {
  return sessionStorage.getItem(PROJECT_KEY) || "1";
}

// --- sign-in through the stage's Cognito hosted UI: authorization code with PKCE (RFC 7636), public client --
const PKCE_KEY = "errata.pkce";
let loginMethod = null;

async function loginConfig() {
  if (!loginMethod) loginMethod = fetch("/api/login").then((r) => r.json()).catch(() => ({ method: "token" }));
  return loginMethod;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function redirectUri() {
  return location.origin + location.pathname;
}

async function signInWithCognito(config) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const query = new URLSearchParams({
    response_type: "code", client_id: config.client_id, redirect_uri: redirectUri(), scope: "openid email",
    state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${config.authorize_url}?${query}`);
}

// Back from the hosted UI with ?code=&state=: the code becomes an access token, and leaves the address bar.
async function takeCodeFromAddress() {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  if (!code) return null;
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  params.delete("code");
  const state = params.get("state");
  params.delete("state");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + ((pending && pending.hash) || location.hash));
  if (!pending || pending.state !== state) return "The sign-in did not come back from the page that started it. Sign in again.";
  const config = await loginConfig();
  if (config.method !== "cognito") return "This stage has no sign-in; paste an API token.";
  const response = await fetch(config.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: config.client_id, code, redirect_uri: redirectUri(), code_verifier: pending.verifier }),
  }).catch(() => null);
  const tokens = response && response.ok ? await response.json() : null;
  if (!tokens || !tokens.access_token) return "The sign-in was not accepted. Sign in again.";
  sessionStorage.setItem(TOKEN_KEY, tokens.access_token);
  return null;
}

async function loginView(message) {
  const config = await loginConfig();
  loginForm(message, config);
}

function loginForm(message, config) {
  document.getElementById("nav").hidden = true;
  const token = h("input", { id: "login-token", type: "password", autocomplete: "off", placeholder: "API token" });
  const projectField = h("input", { id: "login-project", value: project() });
  const form = h(
    "form",
    {
      className: "login",
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, token.value.trim());
        sessionStorage.setItem(PROJECT_KEY, projectField.value.trim() || "1");
        location.hash = `#/projects/${encodeURIComponent(projectField.value.trim() || "1")}/issues`;
        route();
      },
    },
    h("h1", {}, "Log in to Errata"),
    message ? h("p", { className: "error", id: "login-error" }, message) : null,
    config.method === "cognito"
      ? h("p", {}, h("button", { type: "button", className: "primary", id: "sign-in", onclick: () => signInWithCognito(config) }, "Sign in with your organization"), h("span", { className: "muted" }, " or paste an API token:"))
      : null,
    h("label", {}, "API token (printed by ", h("code", {}, "make dev"), " or ", h("code", {}, "errata token create"), ")", token),
    h("label", {}, "Project", projectField),
    h("button", { className: "primary", type: "submit" }, "Log in"),
  );
  app.replaceChildren(form);
  token.focus();
}

function setNav(projectId, active) {
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const name of ["issues", "releases", "users", "settings"]) {
    const link = document.getElementById("nav-" + name);
    link.href = `#/projects/${projectId}/${name}`;
    link.classList.toggle("active", active === name);
  }
  document.getElementById("nav-project").textContent = `project ${projectId}`;
}

async function issuesView(projectId, params) {
  setNav(projectId, "issues");
  const state = {
    sort: params.get("sort") || "frequency",
    query: params.get("query") ?? "is:unresolved",
    cursor: params.get("cursor") || "",
    previous: (params.get("previous") || "").split(",").filter(Boolean),
  };
  const search = h("input", { type: "search", id: "search", value: state.query, placeholder: "user:alice release:1.2.0 is:unresolved text" });
  const sort = h(
    "select",
    { id: "sort" },
    ["frequency", "recency", "users", "impact"].map((s) => h("option", { value: s, selected: s === state.sort }, "by " + s)),
  );
  const go = (changes) => {
    const next = new URLSearchParams({ sort: sort.value, query: search.value, ...changes });
    for (const [key, value] of [...next.entries()]) if (!value) next.delete(key);
    location.hash = `#/projects/${projectId}/issues?${next}`;
  };
  // The filters edit the search box's own words (is:, level:, environment:, release:), so both always agree.
  const words = state.query.match(/(?:[^\s"]+|"[^"]*")+/g) || [];
  const wordOf = (key) => (words.find((w) => w.startsWith(key + ":")) || "").slice(key.length + 1).replace(/^"|"$/g, "");
  const setWord = (key, value) => {
    const kept = words.filter((w) => !w.startsWith(key + ":"));
    if (value) kept.push(`${key}:${/\s/.test(value) ? `"${value}"` : value}`);
    search.value = kept.join(" ");
    go({});
  };
  const choice = (key, label, values) => {
    const select = h("select", { id: `filter-${key}`, title: label }, h("option", { value: "" }, `any ${label}`), values.map((v) => h("option", { value: v, selected: v === wordOf(key) }, v)));
    select.addEventListener("change", () => setWord(key, select.value));
    return select;
  };
  const typed = (key, label) => {
    const input = h("input", { id: `filter-${key}`, value: wordOf(key), placeholder: label, size: 14 });
    input.addEventListener("change", () => setWord(key, input.value.trim()));
    return input;
  };
  const filters = h(
    "div",
    { className: "toolbar", id: "filters" },
    choice("is", "status", ["unresolved", "resolved", "ignored", "regressed"]),
    choice("level", "level", ["fatal", "error", "warning", "info", "debug"]),
    typed("environment", "environment"),
    typed("release", "release"),
  );
  const form = h("form", { className: "toolbar", onsubmit: (e) => { e.preventDefault(); go({}); } }, search, sort, h("button", { type: "submit" }, "Search"));
  sort.addEventListener("change", () => go({}));
  const body = h("tbody");
  const bulk = h("div", { className: "toolbar" });
  const pager = h("div", { className: "toolbar" });
  app.replaceChildren(
    h("h1", {}, "Issues"),
    form,
    filters,
    bulk,
    h("table", { id: "issues" }, h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "Issue"), h("th", {}, "Last 24 h"), h("th", { className: "num" }, "Events"), h("th", { className: "num" }, "Users"), h("th", {}, "Seen"), h("th", {}, "Release"), h("th", {}, "Status"))), body),
    pager,
  );
  const query = new URLSearchParams({ sort: state.sort, limit: "25", query: state.query });
  if (state.cursor) query.set("cursor", state.cursor);
  const page = await api(`/api/projects/${projectId}/issues?${query}`);
  if (!page.issues.length) body.append(h("tr", {}, h("td", { colspan: 8, className: "muted" }, "No issues match.")));
  const checks = [];
  for (const issue of page.issues) {
    const check = h("input", { type: "checkbox", "aria-label": "select " + issue.title, "data-issue": issue.id });
    checks.push(check);
    const spark = h("div", { className: "spark" });
    body.append(
      h(
        "tr",
        { "data-issue-id": issue.id },
        h("td", {}, check),
        h("td", {}, h("a", { className: "issue-title", href: `#/projects/${projectId}/issues/${issue.id}` }, issue.title), h("div", { className: "culprit" }, issue.culprit || "")),
        h("td", {}, spark),
        h("td", { className: "num count" }, issue.count),
        h("td", { className: "num" }, issue.user_count),
        h("td", {}, when(issue.last_seen), h("div", { className: "muted" }, "first ", when(issue.first_seen))),
        h("td", {}, issue.last_release || ""),
        h("td", {}, statusBadge(issue.status)),
      ),
    );
    api(`/api/projects/${projectId}/issues/${issue.id}/counts?window=hour`).then((counts) => barChart(spark, hourSeries(counts.counts, 24), { width: 110, height: 28, axes: false }));
  }
  const change = async (status) => {
    const chosen = checks.filter((c) => c.checked).map((c) => c.dataset.issue);
    await Promise.all(chosen.map((id) => api(`/api/projects/${projectId}/issues/${id}`, { method: "PATCH", body: JSON.stringify({ status }) })));
    route();
  };
  bulk.append(h("button", { type: "button", id: "bulk-resolve", onclick: () => change("resolved") }, "Resolve selected"), h("button", { type: "button", id: "bulk-ignore", onclick: () => change("ignored") }, "Ignore selected"));
  if (state.previous.length) {
    const back = state.previous.slice(0, -1);
    pager.append(h("button", { type: "button", id: "previous-page", onclick: () => go({ cursor: state.previous.at(-1) === "-" ? "" : state.previous.at(-1), previous: back.join(",") }) }, "← Previous"));
  }
  if (page.next_cursor) {
    pager.append(h("button", { type: "button", id: "next-page", onclick: () => go({ cursor: page.next_cursor, previous: [...state.previous, state.cursor || "-"].join(",") }) }, "Next →"));
  }
}

function ignoreControl(apply) {
  const kind = h(
    "select",
    { id: "ignore-kind", "aria-label": "ignore for" },
    h("option", { value: "forever" }, "forever"),
    h("option", { value: "count" }, "until 100 more events"),
    h("option", { value: "day" }, "for 24 hours"),
  );
  const ignore = () => {
    const change = { status: "ignored" };
    if (kind.value === "count") change.ignore_count = 100;
    if (kind.value === "day") change.ignore_until = new Date(Date.now() + 86400000).toISOString();
    return apply(change);
  };
  return h("span", {}, h("button", { type: "button", id: "ignore", onclick: ignore }, "Ignore"), " ", kind);
}

async function usersView(projectId, params) {
  setNav(projectId, "users");
  const value = params.get("q") || "";
  const field = h("input", { type: "search", id: "user-search", value, placeholder: "user id, email or IP address" });
  const form = h(
    "form",
    { className: "toolbar", onsubmit: (e) => { e.preventDefault(); location.hash = `#/projects/${projectId}/users?q=${encodeURIComponent(field.value.trim())}`; } },
    field,
    h("button", { type: "submit" }, "Find"),
  );
  const body = h("tbody");
  app.replaceChildren(h("h1", {}, "Users"), h("p", { className: "muted" }, "Every issue a customer hit, by their id, email or IP address."), form);
  if (!value) return;
  const more = h("div", { className: "toolbar" });
  app.append(
    h("table", { id: "user-issues" }, h("thead", {}, h("tr", {}, h("th", {}, "Issue"), h("th", { className: "num" }, "Their events"), h("th", {}, "They last hit it"), h("th", {}, "Status"))), body),
    more,
  );
  const load = async (cursor) => {
    const query = new URLSearchParams(cursor ? { cursor } : {});
    const found = await api(`/api/projects/${projectId}/users/${encodeURIComponent(value)}/issues?${query}`);
    if (!cursor && !found.issues.length) body.append(h("tr", {}, h("td", { colspan: 4, className: "muted" }, `No issues for ${value}.`)));
    for (const entry of found.issues) {
      const issue = entry.issue;
      body.append(h("tr", {}, h("td", {}, h("a", { className: "issue-title", href: `#/projects/${projectId}/issues/${issue.id}` }, issue.title), h("div", { className: "culprit" }, issue.culprit || "")), h("td", { className: "num" }, entry.user_events), h("td", {}, when(entry.user_last_seen)), h("td", {}, statusBadge(issue.status))));
    }
    more.replaceChildren(found.next_cursor ? h("button", { type: "button", id: "more-user-issues", onclick: () => load(found.next_cursor) }, "More") : "");
  };
  await load(null);
}

function frameView(frame) {
  const where = [frame.module || frame.filename || frame.abs_path, frame.function].filter(Boolean).join(" in ");
  const context = [];
  const first = (frame.lineno || 0) - (frame.pre_context || []).length;
  (frame.pre_context || []).forEach((line, i) => context.push(h("span", {}, `${first + i}  ${line}`)));
  if (frame.context_line !== undefined && frame.context_line !== null) context.push(h("span", { className: "hit" }, `${frame.lineno}  ${frame.context_line}`));
  (frame.post_context || []).forEach((line, i) => context.push(h("span", {}, `${frame.lineno + 1 + i}  ${line}`)));
  const vars = frame.vars && Object.keys(frame.vars).length ? kvTable(Object.entries(frame.vars)) : null;
  return h(
    "details",
    { className: "frame " + (frame.in_app ? "app" : "vendor"), open: frame.in_app ? true : undefined },
    h(
      "summary",
      {},
      where || "?",
      frame.lineno ? ` line ${frame.lineno}` : "",
      frame.in_app ? h("span", { className: "in-app" }, "in app") : null,
      frame.source_link
        ? h("a", { className: "source-link", href: frame.source_link, target: "_blank", rel: "noopener noreferrer" }, "view source")
        : frame.source_link_reason
          ? h("span", { className: "no-link", title: frame.source_link_reason }, "no source link")
          : null,
    ),
    context.length ? h("pre", { className: "context" }, context) : null,
    vars,
  );
}

function exceptionsView(event) {
  const values = (event.exception && (event.exception.values || event.exception)) || [];
  if (!values.length) return [];
  // Sent innermost cause first; shown as the raised one first, the root cause (what grouped it) marked.
  return [...values].reverse().map((exc, index, all) =>
    h(
      "div",
      { className: "exception" },
      h("div", { className: "head" }, h("b", {}, exc.type || "Error"), exc.value ? ": " + exc.value : "", index === all.length - 1 && all.length > 1 ? h("span", { className: "badge", style: "margin-left:.5rem" }, "root cause") : null),
      [...((exc.stacktrace && exc.stacktrace.frames) || [])].reverse().map(frameView),
    ),
  );
}

function eventView(event) {
  if (!event) return [h("p", { className: "muted" }, "No stored event.")];
  const parts = [h("h2", {}, "Stack trace"), ...exceptionsView(event)];
  if (!event.exception && event.message) parts.push(h("pre", {}, show(event.message)));
  const tags = pairs(event.tags);
  if (tags.length) parts.push(h("h2", {}, "Tags"), h("div", { className: "tags", id: "tags" }, tags.map(([k, v]) => h("span", { className: "badge" }, h("b", {}, k), " ", show(v)))));
  const crumbs = (event.breadcrumbs && (event.breadcrumbs.values || event.breadcrumbs)) || [];
  if (crumbs.length) parts.push(h("h2", {}, "Breadcrumbs"), h("table", { className: "kv" }, crumbs.slice(-50).map((b) => h("tr", {}, h("td", {}, [b.category, b.level].filter(Boolean).join(" · ")), h("td", {}, show(b.message ?? b.data))))));
  if (event.request) {
    const request = event.request;
    parts.push(h("h2", {}, "Request"), h("p", {}, h("code", {}, [request.method, request.url].filter(Boolean).join(" "))), kvTable(pairs(request.headers)));
  }
  if (event.user) parts.push(h("h2", {}, "User"), kvTable(Object.entries(event.user)));
  if (event.extra && Object.keys(event.extra).length) parts.push(h("h2", {}, "Extra"), kvTable(Object.entries(event.extra)));
  if (event.contexts) parts.push(h("h2", {}, "Contexts"), kvTable(Object.entries(event.contexts)));
  return parts;
}

function firstSeenInView(deploy) {
  if (!deploy) return null;
  const commit = deploy.commit || deploy.ref;
  const frame = deploy.frame;
  return h(
    "p",
    { id: "first-seen-in" },
    "First seen in ", h("b", {}, deploy.release), ", deployed",
    deploy.environment ? ` to ${deploy.environment}` : "",
    deploy.deployed_at ? [" ", when(deploy.deployed_at)] : "",
    commit ? [" at ", h("code", {}, commit.slice(0, 12))] : "",
    frame && frame.source_link ? [" · suspect line: ", h("a", { id: "suspect-line", href: frame.source_link, target: "_blank", rel: "noopener noreferrer" }, `${frame.filename || frame.function}:${frame.lineno || ""}`)] : "",
  );
}

function ticketsView(projectId, issue, integrations) {
  const box = h("div", { className: "toolbar", id: "tickets" });
  const message = h("span", { className: "muted" });
  const trackers = integrations.map((i) => i.kind).filter((kind) => kind === "jira" || kind === "linear");
  const render = (tickets) => {
    const linked = new Set(tickets.map((t) => t.tracker));
    box.replaceChildren(
      ...tickets.map((t) => h("a", { className: "badge ticket", href: t.url, target: "_blank", rel: "noopener noreferrer" }, `${t.tracker === "jira" ? "Jira" : "Linear"} ${t.key}`)),
      ...trackers.filter((kind) => !linked.has(kind)).map((kind) =>
        h("button", { type: "button", id: `ticket-${kind}`, onclick: async () => {
          message.className = "muted";
          message.textContent = "Creating…";
          try {
            await api(`/api/projects/${projectId}/issues/${issue.id}/tickets`, { method: "POST", body: JSON.stringify({ tracker: kind }) });
            message.textContent = "";
            render((await api(`/api/projects/${projectId}/issues/${issue.id}/tickets`)).tickets);
          } catch (error) { message.className = "error"; message.textContent = error.message; }
        } }, `Create ${kind === "jira" ? "Jira" : "Linear"} ticket`)),
      message,
    );
  };
  render(issue.tickets || []);
  return box;
}

async function issueView(projectId, issueId) {
  setNav(projectId, "issues");
  const [issue, samples, integrations] = await Promise.all([
    api(`/api/projects/${projectId}/issues/${issueId}`),
    api(`/api/projects/${projectId}/issues/${issueId}/events`).catch(() => ({ events: [] })),
    api(`/api/projects/${projectId}/integrations`).catch(() => ({ integrations: [] })),
  ]);
  const patchIssue = async (change) => {
    await api(`/api/projects/${projectId}/issues/${issueId}`, { method: "PATCH", body: JSON.stringify(change) });
    route();
  };
  const setStatus = (status) => patchIssue({ status });
  const actions = h(
    "div",
    { className: "actions" },
    issue.status === "resolved" || issue.status === "ignored" || issue.status === "resolved_in_next_release"
      ? h("button", { type: "button", id: "unresolve", onclick: () => setStatus("unresolved") }, "Unresolve")
      : [
          h("button", { type: "button", className: "primary", id: "resolve", onclick: () => setStatus("resolved") }, "Resolve"),
          h("button", { type: "button", id: "resolve-next", onclick: () => setStatus("resolved_in_next_release") }, "Resolve in next release"),
          ignoreControl((change) => patchIssue(change)),
        ],
  );
  const chart = h("div", { id: "histogram" });
  const tags = h("div", {}, h("p", { className: "muted" }, "Loading tags…"));
  api(`/api/projects/${projectId}/issues/${issueId}/tags?days=14`).then((breakdown) => tags.replaceChildren(tagBreakdownView(breakdown))).catch((error) => tags.replaceChildren(h("p", { className: "error" }, `tags: ${error.message}`)));
  const span = h("select", { id: "histogram-span" }, h("option", { value: "24" }, "last 24 hours"), h("option", { value: "336" }, "last 14 days"));
  const events = [issue.event, ...samples.events.filter((e) => !issue.event || e.event_id !== issue.event.event_id)].filter(Boolean);
  let shown = 0;
  const eventBox = h("div", { id: "event" });
  const stepper = h("div", { className: "toolbar" });
  const renderEvent = () => {
    eventBox.replaceChildren(...eventView(events[shown]));
    stepper.replaceChildren(
      h("button", { type: "button", disabled: shown === 0 ? true : undefined, onclick: () => { shown--; renderEvent(); } }, "← Newer"),
      h("span", { className: "muted", id: "event-position" }, events.length ? `event ${shown + 1} of ${events.length}` : "no events"),
      h("button", { type: "button", disabled: shown >= events.length - 1 ? true : undefined, onclick: () => { shown++; renderEvent(); } }, "Older →"),
    );
  };
  app.replaceChildren(...present(
    h("p", {}, h("a", { href: `#/projects/${projectId}/issues` }, "← Issues")),
    h("h1", { id: "issue-title" }, issue.title),
    issue.root_cause ? h("p", { id: "root-cause", className: "muted" }, "grouped by its root cause ", h("b", {}, issue.root_cause)) : null,
    h("div", { className: "culprit" }, issue.culprit || ""),
    h("p", {}, statusBadge(issue.status), " ", h("span", { className: "muted" }, issue.type)),
    actions,
    h(
      "div",
      { className: "stats" },
      h("div", {}, h("b", { id: "issue-count" }, issue.count), "events"),
      h("div", {}, h("b", { id: "issue-users" }, issue.user_count), "users"),
      h("div", {}, h("b", {}, when(issue.first_seen)), "first seen", issue.first_release ? [" in release ", h("b", { id: "first-release", style: "display:inline" }, issue.first_release)] : ""),
      h("div", {}, h("b", {}, when(issue.last_seen)), "last seen", issue.last_release ? [" in ", issue.last_release] : ""),
    ),
    firstSeenInView(issue.first_seen_in),
    ticketsView(projectId, issue, integrations.integrations),
    h("div", { className: "toolbar" }, h("b", {}, "Events"), span),
    chart,
    h("h2", {}, "Tags ", h("span", { className: "muted" }, "last 14 days")),
    tags,
    stepper,
    eventBox,
  ));
  renderEvent();
  const counts = await api(`/api/projects/${projectId}/issues/${issueId}/counts?window=hour`);
  let plot = null;
  const draw = () => {
    if (plot) plot.destroy();
    chart.replaceChildren();
    plot = barChart(chart, hourSeries(counts.counts, Number(span.value)), { width: Math.min(1000, app.clientWidth), height: 160, axes: true });
  };
  span.addEventListener("change", draw);
  draw();
}

const TAG_LABELS = { environment: "environment", release: "release", server: "server", route: "route", runtime: "runtime", browser: "browser" };

function tagBreakdownView(breakdown) {
  if (!breakdown.tags.length) return h("p", { className: "muted", id: "tag-breakdown" }, "No tags counted in the last 14 days.");
  const share = (count) => (breakdown.events ? Math.round((100 * count) / breakdown.events) : 0);
  const row = (label, count, className) => h(
    "div",
    { className: `tag-value ${className || ""}`, title: `${count} of ${breakdown.events} events` },
    h("span", { className: "bar", style: `width:${share(count)}%` }),
    h("span", { className: "label" }, label),
    h("span", { className: "share" }, `${share(count)}%`),
  );
  return h(
    "div",
    { className: "tag-grid", id: "tag-breakdown" },
    ...breakdown.tags.map((tag) => h(
      "div",
      { className: "tag-box", "data-tag": tag.key },
      h("b", {}, TAG_LABELS[tag.key] || tag.key),
      ...tag.values.map((value) => row(value.value, value.count)),
      tag.other ? row("other or none", tag.other, "other") : null,
    )),
  );
}

function deployBadge(deploy) {
  const commit = deploy.commit || deploy.ref;
  const label = [deploy.environment || "deploy", commit ? commit.slice(0, 8) : null].filter(Boolean).join(" @ ");
  const title = [deploy.provider, deploy.at].filter(Boolean).join(", ");
  return deploy.url ? h("a", { className: "badge", href: deploy.url, title, target: "_blank", rel: "noopener noreferrer" }, label) : h("span", { className: "badge", title }, label);
}

async function releasesView(projectId) {
  setNav(projectId, "releases");
  const [releases, traffic] = await Promise.all([api(`/api/projects/${projectId}/releases`), api(`/api/projects/${projectId}/traffic?hours=336`)]);
  const health = new Map();
  for (const row of traffic.traffic) {
    if (row.dimension !== "release") continue;
    const entry = health.get(row.value) || { sessions: 0, unhealthy: 0 };
    entry.sessions += row.sessions || 0;
    entry.unhealthy += (row.errored || 0) + (row.crashed || 0);
    health.set(row.value, entry);
  }
  const body = h("tbody");
  const more = h("div", { className: "toolbar" });
  app.replaceChildren(h("h1", {}, "Releases"), h("table", { id: "releases" }, h("thead", {}, h("tr", {}, h("th", {}, "Release"), h("th", { className: "num" }, "Events"), h("th", { className: "num" }, "Users"), h("th", { className: "num" }, "New issues"), h("th", { className: "num" }, "Crash-free sessions"), h("th", {}, "First seen"), h("th", {}, "Last seen"), h("th", {}, "Deploys"))), body), more);
  const show = (page) => {
    for (const release of page.releases) {
      const fresh = h("td", { className: "num" }, "…");
      const sessions = health.get(release.version);
      body.append(h("tr", {}, h("td", {}, h("a", { href: `#/projects/${projectId}/issues?query=${encodeURIComponent("release:" + release.version)}` }, release.version)), h("td", { className: "num" }, release.events), h("td", { className: "num users" }, release.users), fresh, h("td", { className: "num" }, sessions && sessions.sessions ? (100 * (1 - sessions.unhealthy / sessions.sessions)).toFixed(1) + "%" : "—"), h("td", {}, when(release.first_seen)), h("td", {}, when(release.last_seen)), h("td", { className: "deploys" }, (release.deploys || []).map(deployBadge))));
      api(`/api/projects/${projectId}/releases/${encodeURIComponent(release.version)}/issues`).then((found) => { fresh.textContent = found.next_cursor ? `${found.issues.length}+` : found.issues.length; });
    }
    more.replaceChildren(page.next_cursor ? h("button", { type: "button", id: "more-releases", onclick: async () => show(await api(`/api/projects/${projectId}/releases?cursor=${encodeURIComponent(page.next_cursor)}`)) }, "Older releases") : "");
  };
  show(releases);
}

function codeMappingsView(projectId, initial, fail) {
  let mappings = initial;
  const rows = h("tbody");
  const saveAll = async (next) => {
    try {
      mappings = (await api(`/api/projects/${projectId}/code-mappings`, { method: "PUT", body: JSON.stringify({ mappings: next }) })).mappings;
      render();
    } catch (error) { fail(error); }
  };
  const render = () => rows.replaceChildren(...mappings.map((m, index) => h("tr", {},
    h("td", {}, h("code", {}, m.stack_root)), h("td", {}, "→ ", h("code", {}, `${m.repository_url} ${m.source_root || "/"}`), ` @ ${m.default_branch} (${m.provider})`),
    h("td", {}, h("button", { type: "button", onclick: () => saveAll(mappings.filter((_, i) => i !== index)) }, "Remove")))));
  render();
  const field = (id, placeholder, size) => h("input", { id, placeholder, size });
  const root = field("mapping-stack-root", "/srv/app/ or myapp. or webpack:///./src/", 28);
  const repository = field("mapping-repository", "https://github.com/acme/shop", 30);
  const sourceRoot = field("mapping-source-root", "src/", 10);
  const branch = field("mapping-branch", "main", 8);
  const provider = h("select", { id: "mapping-provider" }, ["github", "gitlab", "bitbucket"].map((p) => h("option", { value: p }, p)));
  const add = (e) => {
    e.preventDefault();
    saveAll([...mappings, { stack_root: root.value, repository_url: repository.value, source_root: sourceRoot.value, default_branch: branch.value || "main", provider: provider.value }]);
  };
  return [
    h("h2", {}, "Code mappings"),
    h("p", { className: "muted" }, "Stack frames whose path starts with the stack root link to the file in the repository, at the commit of the release's deploy."),
    h("table", { id: "code-mappings" }, rows),
    h("form", { className: "toolbar", id: "add-mapping", onsubmit: add }, root, repository, sourceRoot, branch, provider, h("button", { type: "submit" }, "Add mapping")),
  ];
}

async function settingsView(projectId) {
  setNav(projectId, "settings");
  const [projectInfo, keys, rules, mappings, integrations] = await Promise.all([
    api(`/api/projects/${projectId}`),
    api(`/api/projects/${projectId}/keys`),
    api(`/api/projects/${projectId}/alert-rules`),
    api(`/api/projects/${projectId}/code-mappings`),
    api(`/api/projects/${projectId}/integrations`),
  ]);
  const settings = projectInfo.settings;
  const message = h("p", { id: "settings-message", className: "muted" });
  const fail = (error) => { message.className = "error"; message.textContent = error.message; };
  const quota = h("input", { id: "rate-limit", type: "number", min: 1, value: settings.rate_limit_per_minute });
  const sample = h("input", { id: "sample-size", type: "number", min: 1, max: 50, value: settings.sample_size });
  const save = async (patch, done) => {
    try {
      await api(`/api/projects/${projectId}`, { method: "PATCH", body: JSON.stringify(patch) });
      message.className = "muted";
      message.textContent = done;
    } catch (error) { fail(error); }
  };
  const keyRows = h("tbody");
  const renderKeys = (list) => keyRows.replaceChildren(...list.map((key) => h("tr", {}, h("td", {}, h("code", {}, key.dsn)), h("td", {}, h("button", { type: "button", className: "revoke", onclick: async () => { try { await api(`/api/projects/${projectId}/keys/${key.public_key}`, { method: "DELETE" }); renderKeys((await api(`/api/projects/${projectId}/keys`)).keys); } catch (error) { fail(error); } } }, "Revoke")))));
  renderKeys(keys.keys);
  const rulesText = h("textarea", { id: "fingerprint-rules", rows: 5, cols: 90, spellcheck: "false" });
  rulesText.value = settings.fingerprint_rules;
  const preview = h("div", { id: "rules-preview" });
  app.replaceChildren(
    h("h1", {}, `Settings of ${projectInfo.name}`),
    message,
    h("h2", {}, "Quota and sampling"),
    h("form", { className: "toolbar", onsubmit: (e) => { e.preventDefault(); save({ rate_limit_per_minute: Number(quota.value), sample_size: Number(sample.value) }, "Saved."); } },
      h("label", {}, "Events per minute ", quota), h("label", {}, "Events kept per issue ", sample), h("button", { type: "submit", id: "save-settings" }, "Save")),
    h("p", { className: "muted" }, `${projectInfo.dropped_last_hour} events refused by the quota in the last hour.`),
    h("h2", {}, "DSN keys"),
    h("table", { id: "keys" }, keyRows),
    h("div", { className: "toolbar" }, h("button", { type: "button", id: "create-key", onclick: async () => { try { await api(`/api/projects/${projectId}/keys`, { method: "POST" }); renderKeys((await api(`/api/projects/${projectId}/keys`)).keys); } catch (error) { fail(error); } } }, "Create key")),
    h("h2", {}, "Fingerprint rules"),
    h("p", { className: "muted" }, "One rule per line, Sentry's syntax: ", h("code", {}, "error.type:TimeoutError -> timeouts")),
    rulesText,
    h("div", { className: "toolbar" },
      h("button", { type: "button", id: "preview-rules", onclick: async () => {
        try {
          const result = await api(`/api/projects/${projectId}/fingerprint-rules/preview`, { method: "POST", body: JSON.stringify({ rules: rulesText.value }) });
          preview.replaceChildren(h("p", { className: "muted" }, `${result.matches.length} of the ${result.checked} most recent issues would be regrouped:`), h("ul", {}, result.matches.map((m) => h("li", {}, h("a", { href: `#/projects/${projectId}/issues/${m.issue.id}` }, m.issue.title), " ← ", h("code", {}, m.rule)))));
        } catch (error) { preview.replaceChildren(h("p", { className: "error" }, error.message)); }
      } }, "Preview"),
      h("button", { type: "button", id: "save-rules", onclick: () => save({ fingerprint_rules: rulesText.value }, "Rules saved: new events group by them.") }, "Save rules")),
    preview,
    ...codeMappingsView(projectId, mappings.mappings, fail),
    h("h2", {}, "Integrations"),
    h("p", { className: "muted" }, "GitHub and GitLab deploy webhooks, Jira and Linear: set up through the API (", h("code", {}, `PUT /api/projects/${projectId}/integrations/<github|gitlab|jira|linear>`), "); secrets are never shown again."),
    h("table", { id: "integrations" }, h("tbody", {}, integrations.integrations.length
      ? integrations.integrations.map((i) => h("tr", {}, h("td", {}, h("b", {}, i.kind)), h("td", {}, Object.entries(i.settings).filter(([, v]) => v).map(([k, v]) => `${k}: ${v}`).join(", ")), h("td", {}, i.webhook_url ? h("code", {}, i.webhook_url) : "")))
      : [h("tr", {}, h("td", { className: "muted" }, "None set up."))])),
    h("h2", {}, "Alert rules"),
    h("p", { className: "muted" }, rules.defaults ? "The defaults (this project has not set rules of its own); edit them through the API: " : "Edit through the API: ", h("code", {}, `PUT /api/projects/${projectId}/alert-rules/<id>`)),
    h("table", { id: "alert-rules" }, h("tbody", {}, rules.rules.map((rule) => h("tr", {}, h("td", {}, rule.name), h("td", {}, rule.conditions.map((c) => c.kind).join(", ")), h("td", {}, rule.actions.map((a) => `${a.channel} (${a.urgency})`).join(", ")), h("td", { className: "muted" }, `every ${rule.action_interval_minutes} min at most`))))),
  );
}

async function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (!sessionStorage.getItem(TOKEN_KEY)) return loginView();
  if (parts[0] !== "projects" || !parts[1]) {
    location.hash = `#/projects/${encodeURIComponent(project())}/issues`;
    return;
  }
  sessionStorage.setItem(PROJECT_KEY, parts[1]);
  try {
    if (parts[2] === "issues" && parts[3]) await issueView(parts[1], parts[3]);
    else if (parts[2] === "releases") await releasesView(parts[1]);
    else if (parts[2] === "users") await usersView(parts[1], params);
    else if (parts[2] === "settings") await settingsView(parts[1]);
    else await issuesView(parts[1], params);
  } catch (error) {
    if (error instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      return loginView("That token was not accepted (or the sign-in expired). Sign in again, or paste the API token printed by make dev.");
    }
    app.replaceChildren(h("p", { className: "error", id: "page-error" }, "Could not load this page: " + error.message));
  }
}

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  loginView();
});
window.addEventListener("hashchange", route);
takeTokenFromAddress();
takeCodeFromAddress().then((problem) => (problem ? loginView(problem) : route()), () => loginView("The sign-in failed. Sign in again."));
