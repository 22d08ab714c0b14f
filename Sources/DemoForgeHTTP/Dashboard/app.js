// DemoForge dashboard: plain JavaScript, no build step, no external resources.
// Rule: every piece of text that comes from the server (briefs, task events, errors) is inserted with
// textContent / text nodes, never as HTML.
"use strict";

(() => {
  const TERMINAL = new Set(["DONE", "FAILED", "CANCELLED"]);
  const $ = (id) => document.getElementById(id);

  /** Builds an element. `props`: class, text, attrs {name: value}, data {key: value}, on {event: fn}. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    if (props.class) node.className = props.class;
    if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
    for (const [k, v] of Object.entries(props.attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    for (const [k, v] of Object.entries(props.data || {})) node.dataset[k] = String(v);
    for (const [k, fn] of Object.entries(props.on || {})) node.addEventListener(k, fn);
    for (const child of children) if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message || `HTTP ${status}`);
      this.status = status;
      this.code = code;
      this.field = field;
    }
  }

  /** fetch + JSON; the token cookie rides along (same origin). Throws ApiError. */
  async function api(path, { method = "GET", json } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "unreachable", "The server cannot be reached.");
    }
    let body = null;
    const text = await res.text();
    if (text) {
      try { body = JSON.parse(text); } catch (e) { body = null; }
    }
    if (res.status === 401) askToken();
    if (!res.ok) {
      const err = (body && body.error) || {};
      throw new ApiError(res.status, err.code, err.message || `HTTP ${res.status}`, err.field);
    }
    return body;
  }

  // ---------------------------------------------------------------- token (cookie, because EventSource has no headers)

  const TOKEN_COOKIE = "demoforge_token";
  const TOKEN_KEY = "demoforge.token";

  function setTokenCookie(value) {
    document.cookie = `${TOKEN_COOKIE}=${value}; path=/; SameSite=Strict; max-age=2592000`;
  }

  function storedToken() {
    try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  // The cookie is what the server reads; localStorage keeps the token if the cookie expires or is cleared.
  if (storedToken() && !document.cookie.split(";").some((c) => c.trim().startsWith(`${TOKEN_COOKIE}=`))) {
    setTokenCookie(storedToken());
  }

  function askToken() {
    const form = $("token-form");
    if (!form.hidden) return;
    const hadToken = document.cookie.split(";").some((c) => c.trim().startsWith(`${TOKEN_COOKIE}=`));
    $("token-error").textContent = hadToken ? "The server did not accept the saved token; enter it again." : "";
    if (statusSource) statusSource.close();
    if (view) closeTask();
    form.hidden = false;
    $("main").hidden = true;
    $("token-input").focus();
  }

  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token-input").value.trim();
    if (!/^[\x21-\x7e]+$/.test(value) || /[;,"\\]/.test(value)) {
      $("token-error").textContent = "The token must be printable ASCII without ; , \" or \\.";
      return;
    }
    setTokenCookie(value);
    try { localStorage.setItem(TOKEN_KEY, value); } catch (err) { /* cookie alone still works */ }
    $("token-input").value = "";
    $("token-error").textContent = "";
    $("token-form").hidden = true;
    $("main").hidden = false;
    start();
  });

  $("forget-token").addEventListener("click", () => {
    document.cookie = `${TOKEN_COOKIE}=; path=/; SameSite=Strict; max-age=0`;
    try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing stored */ }
    location.reload();
  });

  // ---------------------------------------------------------------- helpers

  function shortTime(iso) {
    if (!iso) return "";
    const m = /T(\d\d:\d\d:\d\d)/.exec(iso);
    return m ? m[1] : String(iso);
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) return "";
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    if (seconds < 60) return `${Math.round(seconds)} s`;
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    if (m < 60) return `${m} min ${s} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function taskDuration(task) {
    const start = Date.parse(task.createdAt);
    if (!isFinite(start)) return "";
    const end = task.endedAt ? Date.parse(task.endedAt) : (TERMINAL.has(task.state) ? Date.parse(task.updatedAt) : Date.now());
    return formatDuration((end - start) / 1000);
  }

  function stateBadge(stateText, label) {
    return el("span", { class: "state", text: label || stateText, data: { state: stateText } });
  }

  function setState(node, stateText) {
    node.textContent = stateText;
    node.dataset.state = stateText;
  }

  function percent(p) {
    return typeof p === "number" && isFinite(p) ? `${Math.round(Math.max(0, Math.min(1, p)) * 100)}%` : "";
  }

  function isNewer(a, b) {
    // true when status a is not older than b
    if (!b) return true;
    if (!a.updatedAt || !b.updatedAt) return true;
    return a.updatedAt >= b.updatedAt || TERMINAL.has(a.state) && !TERMINAL.has(b.state);
  }

  function safeHttpUrl(text) {
    try {
      const u = new URL(String(text), location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  // ---------------------------------------------------------------- connection indicator

  const conn = { statusOk: false, taskOk: true, started: false };

  function renderConn() {
    const node = $("conn");
    let stateName;
    let text;
    if (!conn.started) { stateName = "connecting"; text = "Connecting…"; }
    else if (conn.statusOk && conn.taskOk) { stateName = "live"; text = "Live"; }
    else { stateName = "reconnecting"; text = "Reconnecting…"; }
    if (node.dataset.state !== stateName) {
      node.dataset.state = stateName;
      $("conn-text").textContent = text;
    }
  }

  // ---------------------------------------------------------------- clients

  const clients = new Map(); // slug -> {slug, name, version, latestTask}
  const clientRows = new Map(); // slug -> {li, name, state, view}

  function clientName(slug) {
    const c = clients.get(slug);
    return c && c.name ? c.name : slug;
  }

  function newerTask(a, b) {
    if (!a) return b || null;
    if (!b) return a;
    if (a.taskId !== b.taskId) return a.taskId > b.taskId ? a : b;
    return isNewer(a, b) ? a : b;
  }

  function upsertClient(c) {
    const old = clients.get(c.slug);
    const merged = { ...old, ...c, latestTask: newerTask(c.latestTask, old && old.latestTask) };
    clients.set(c.slug, merged);
    renderClient(merged);
  }

  function renderClient(c) {
    let row = clientRows.get(c.slug);
    if (!row) {
      const name = el("span", { class: "cname" });
      const slug = el("code", { class: "cslug", text: c.slug });
      const stateNode = stateBadge("NONE", "no runs");
      const run = el("button", { text: "Start run", attrs: { type: "button" }, on: { click: () => startRun(c.slug, run) } });
      const view = el("button", { class: "secondary", text: "Latest run", attrs: { type: "button" } });
      view.addEventListener("click", () => {
        const latest = clients.get(c.slug).latestTask;
        if (latest) openTask(latest.taskId);
      });
      const li = el("li", { data: { slug: c.slug } }, name, slug, stateNode, el("span", { class: "actions" }, run, view));
      row = { li, name, stateNode, run, view };
      clientRows.set(c.slug, row);
      insertSorted($("clients"), li, c.slug, (n) => n.dataset.slug);
    }
    row.name.textContent = c.name || c.slug;
    row.run.setAttribute("aria-label", `Start run for ${c.name || c.slug}`);
    row.view.setAttribute("aria-label", `View latest run of ${c.name || c.slug}`);
    const latest = c.latestTask;
    if (latest) setState(row.stateNode, latest.state); else { row.stateNode.textContent = "no runs"; row.stateNode.dataset.state = "NONE"; }
    row.view.hidden = !latest;
    row.run.disabled = !!(latest && !TERMINAL.has(latest.state));
    $("clients-empty").hidden = clients.size > 0;
  }

  function insertSorted(parent, node, key, keyOf) {
    for (const child of parent.children) {
      if (keyOf(child) > key) { parent.insertBefore(node, child); return; }
    }
    parent.append(node);
  }

  async function loadClients() {
    const body = await api("/api/clients");
    for (const c of body.clients || []) upsertClient(c);
  }

  async function startRun(slug, button) {
    button.disabled = true;
    try {
      const body = await api(`/api/clients/${encodeURIComponent(slug)}/runs`, { method: "POST", json: {} });
      if (body && body.taskId) {
        openTask(body.taskId);
        refreshTask(body.taskId);
      }
    } catch (e) {
      alertError(`Could not start a run for ${clientName(slug)}: ${e.message}`);
      button.disabled = false;
    }
  }

  /** A general notice at the top of the page (text only). */
  function alertError(text) {
    let notice = $("notice");
    if (!notice) {
      notice = el("p", { class: "field-error card", attrs: { id: "notice", role: "alert" } });
      $("main").prepend(notice);
    }
    notice.textContent = text;
  }

  // add-client form
  const FIELD_INPUT = { name: "f-name", slug: "f-slug" };

  function clearFormErrors() {
    for (const p of document.querySelectorAll("#client-form .field-error")) p.textContent = "";
    for (const i of document.querySelectorAll("#client-form [aria-invalid]")) i.removeAttribute("aria-invalid");
    $("form-ok").textContent = "";
  }

  function showFieldError(field, message) {
    const target = field && $(`e-${field}`);
    if (target) {
      target.textContent = message;
      const input = FIELD_INPUT[field] && $(FIELD_INPUT[field]);
      if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
    } else {
      $("form-error").textContent = message;
    }
  }

  $("f-name").addEventListener("input", () => {
    const slug = $("f-slug");
    if (slug.dataset.touched) return;
    slug.value = $("f-name").value.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
  });
  $("f-slug").addEventListener("input", () => { $("f-slug").dataset.touched = "1"; });

  $("client-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFormErrors();
    const v = (id) => $(id).value.trim();
    const brief = { name: v("f-name") };
    if (v("f-tagline")) brief.tagline = v("f-tagline");
    const services = $("f-services").value.split("\n").map((s) => s.trim()).filter(Boolean).map((line) => {
      const i = line.indexOf(":");
      return i > 0 ? { title: line.slice(0, i).trim(), description: line.slice(i + 1).trim() } : { title: line };
    });
    if (services.length) brief.services = services;
    for (const key of ["area", "phone", "email"]) if (v(`f-${key}`)) brief[key] = v(`f-${key}`);
    brief.colors = { primary: $("f-primary").value, accent: $("f-accent").value };
    const slug = v("f-slug");
    const submit = $("client-submit");
    submit.disabled = true;
    try {
      const body = await api("/api/clients", { method: "POST", json: { slug, brief } });
      const c = (body && body.client) || { slug, name: brief.name, latestTask: null };
      upsertClient({ slug: c.slug || slug, name: c.name || brief.name, version: c.version, latestTask: c.latestTask || null });
      $("client-form").reset();
      delete $("f-slug").dataset.touched;
      $("form-ok").textContent = `Added ${brief.name} (${slug}).`;
    } catch (err) {
      if (err.status === 409) showFieldError("slug", err.message);
      else if (err.status === 400 && err.field) showFieldError(err.field, err.message);
      else showFieldError(null, err.message);
    } finally {
      submit.disabled = false;
    }
  });

  // ---------------------------------------------------------------- runs list (fed by /api/stream)

  const tasks = new Map(); // taskId -> status
  const runRows = new Map(); // taskId -> cells

  function upsertTask(t) {
    if (!t || !t.taskId) return;
    const old = tasks.get(t.taskId);
    if (old && !isNewer(t, old)) return;
    tasks.set(t.taskId, t);
    renderRun(t);
    const c = clients.get(t.client);
    if (c) upsertClient({ slug: c.slug, latestTask: t });
    if (view && view.id === t.taskId) renderTaskStatus(t);
  }

  function renderRun(t) {
    let row = runRows.get(t.taskId);
    if (!row) {
      const client = el("td", { class: "client" });
      const stateNode = stateBadge(t.state);
      const step = el("td");
      const bar = el("progress", { attrs: { max: "1" } });
      const pct = el("span", { class: "pct" });
      const duration = el("td");
      const viewBtn = el("button", { class: "secondary", text: "View", attrs: { type: "button" }, on: { click: () => openTask(t.taskId) } });
      const cancelBtn = el("button", { class: "danger", text: "Cancel", attrs: { type: "button" }, on: { click: () => cancelTask(t.taskId, cancelBtn) } });
      const tr = el("tr", { data: { task: t.taskId } },
        client, el("td", {}, stateNode), step, el("td", {}, bar, " ", pct), duration, el("td", { class: "acts" }, viewBtn, cancelBtn));
      row = { tr, client, stateNode, step, bar, pct, duration, viewBtn, cancelBtn };
      runRows.set(t.taskId, row);
      // newest first: task ids sort by creation time
      const body = $("runs-body");
      let placed = false;
      for (const child of body.children) {
        if (child.dataset.task < t.taskId) { body.insertBefore(tr, child); placed = true; break; }
      }
      if (!placed) body.append(tr);
      $("runs").hidden = false;
      $("runs-empty").hidden = true;
    }
    const name = clientName(t.client);
    row.client.textContent = name;
    setState(row.stateNode, t.state);
    row.step.textContent = t.step || "";
    if (typeof t.progress === "number") { row.bar.value = t.progress; row.bar.setAttribute("aria-label", `Progress ${percent(t.progress)}`); }
    else if (TERMINAL.has(t.state)) { row.bar.value = t.state === "DONE" ? 1 : 0; }
    else { row.bar.removeAttribute("value"); row.bar.setAttribute("aria-label", "Progress unknown"); }
    row.pct.textContent = percent(t.progress);
    row.duration.textContent = taskDuration(t);
    row.cancelBtn.hidden = TERMINAL.has(t.state);
    row.viewBtn.setAttribute("aria-label", `View run of ${name}`);
    row.cancelBtn.setAttribute("aria-label", `Cancel run of ${name}`);
    row.tr.classList.toggle("selected", !!view && view.id === t.taskId);
  }

  async function loadTasks() {
    const body = await api("/api/tasks");
    for (const t of body.tasks || []) upsertTask(t);
  }

  async function cancelTask(id, button) {
    if (button) button.disabled = true;
    try {
      upsertTask(await api(`/api/tasks/${encodeURIComponent(id)}/cancel`, { method: "POST", json: {} }));
    } catch (e) {
      alertError(`Could not cancel the task: ${e.message}`);
    } finally {
      if (button) button.disabled = false;
    }
  }

  let statusSource = null;
  let statusRetry = null;

  function openStatusStream() {
    if (statusSource) statusSource.close();
    clearTimeout(statusRetry);
    const es = new EventSource("/api/stream");
    statusSource = es;
    es.addEventListener("open", () => {
      conn.statusOk = true;
      renderConn();
      // Anything that changed while we were away: reconcile from the lists.
      refreshLists();
    });
    es.addEventListener("status", (e) => {
      try { upsertTask(JSON.parse(e.data)); } catch (err) { /* ignore a malformed event */ }
    });
    es.addEventListener("error", () => {
      conn.statusOk = false;
      renderConn();
      if (es.readyState === EventSource.CLOSED) {
        // The server answered with an error (restarting, 503, 401): retry ourselves.
        statusRetry = setTimeout(() => {
          refreshLists();
          if ($("token-form").hidden) openStatusStream();
        }, 1000);
      }
    });
  }

  let refreshing = null;
  function refreshLists() {
    if (refreshing) return refreshing;
    refreshing = Promise.all([loadClients(), loadTasks()])
      .catch(() => {})
      .finally(() => { refreshing = null; });
    return refreshing;
  }

  // ---------------------------------------------------------------- task view

  let view = null; // {id, es, seqs:Set, maxSeq, stepOrder:[], stepInfo:{}, pinned, finished, retry}

  function openTask(id) {
    if (view && view.id === id) { $("task").scrollIntoView({ block: "start" }); return; }
    closeTask();
    view = { id, es: null, seqs: new Set(), maxSeq: 0, stepOrder: [], stepInfo: {}, pinned: true, finished: false, retry: null, filling: false };
    $("task").hidden = false;
    $("task-id").textContent = id;
    $("log-list").replaceChildren();
    $("timeline").replaceChildren();
    $("shots").replaceChildren();
    delete $("shots").dataset.key;
    $("shots-empty").hidden = false;
    $("log-follow").hidden = true;
    $("task-preview").hidden = true;
    const t = tasks.get(id);
    if (t) renderTaskStatus(t);
    for (const row of runRows.values()) row.tr.classList.toggle("selected", row.tr.dataset.task === id);
    if (location.hash !== `#task=${id}`) history.replaceState(null, "", `#task=${id}`);
    openEventStream();
    refreshTask(id);
    $("task").scrollIntoView({ block: "start" });
  }

  function closeTask() {
    if (!view) return;
    if (view.es) view.es.close();
    clearTimeout(view.retry);
    view = null;
    conn.taskOk = true;
    renderConn();
    $("task").hidden = true;
    for (const row of runRows.values()) row.tr.classList.remove("selected");
    history.replaceState(null, "", location.pathname);
  }

  $("task-close").addEventListener("click", closeTask);
  $("task-cancel").addEventListener("click", () => { if (view) cancelTask(view.id, $("task-cancel")); });

  async function refreshTask(id) {
    try {
      upsertTask(await api(`/api/tasks/${encodeURIComponent(id)}`));
    } catch (e) { /* the stream will catch up */ }
  }

  function openEventStream() {
    const v = view;
    if (!v || v.finished) return;
    if (v.es) v.es.close();
    // A fresh EventSource cannot send Last-Event-ID, so a reopen asks with ?from=; the browser's own
    // reconnects (after a dropped connection) send Last-Event-ID = the last seq it saw.
    const from = v.maxSeq + 1;
    const es = new EventSource(`/api/tasks/${encodeURIComponent(v.id)}/events/stream` + (from > 1 ? `?from=${from}` : ""));
    v.es = es;
    es.addEventListener("open", () => {
      if (view !== v) return;
      conn.taskOk = true;
      renderConn();
    });
    es.addEventListener("task-event", (e) => {
      if (view !== v) return;
      let ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      addEvent(v, ev);
    });
    es.addEventListener("error", () => {
      if (view !== v) return;
      const t = tasks.get(v.id);
      if (t && TERMINAL.has(t.state)) {
        // The server ends the stream once the task is over and drained: stop, and fetch any tail.
        finishStream(v);
        return;
      }
      conn.taskOk = false;
      renderConn();
      // Learn whether the task ended meanwhile (the stream ending is how the server says so).
      api(`/api/tasks/${encodeURIComponent(v.id)}`).then((status) => {
        upsertTask(status);
        if (view === v && TERMINAL.has(status.state)) finishStream(v);
      }).catch(() => {});
      if (es.readyState === EventSource.CLOSED) {
        clearTimeout(v.retry);
        v.retry = setTimeout(() => { if (view === v) openEventStream(); }, 1000);
      }
    });
  }

  async function finishStream(v) {
    if (v.finished) return;
    v.finished = true;
    if (v.es) v.es.close();
    clearTimeout(v.retry);
    conn.taskOk = true;
    renderConn();
    await fillFrom(v, v.maxSeq + 1);
  }

  /** Reads pages of events from `from` until the log is exhausted (used for gaps and the final tail). */
  async function fillFrom(v, from) {
    let next = from;
    for (let guard = 0; guard < 1000; guard++) {
      let body;
      try {
        body = await api(`/api/tasks/${encodeURIComponent(v.id)}/events?from=${next}&limit=500`);
      } catch (e) { return; }
      if (view !== v) return;
      const events = body.events || [];
      for (const ev of events) addEvent(v, ev, true);
      if (!events.length) return;
      next = typeof body.next === "number" && body.next > next ? body.next : events[events.length - 1].seq + 1;
    }
  }

  function addEvent(v, ev, fromFill = false) {
    if (typeof ev.seq !== "number" || v.seqs.has(ev.seq)) return; // dedupe by seq
    v.seqs.add(ev.seq);
    const li = renderEvent(ev);
    const list = $("log-list");
    if (ev.seq > v.maxSeq) {
      list.append(li);
      if (!fromFill && ev.seq > v.maxSeq + 1 && !v.filling) {
        // A hole (should not happen with Last-Event-ID): fetch what is missing.
        v.filling = true;
        fillFrom(v, v.maxSeq + 1).finally(() => { v.filling = false; });
      }
      v.maxSeq = ev.seq;
    } else {
      let before = null;
      for (const child of list.children) if (Number(child.dataset.seq) > ev.seq) { before = child; break; }
      list.insertBefore(li, before);
    }
    noteStep(v, ev);
    scrollLog(v);
  }

  function renderEvent(ev) {
    const message = ev.step ? `[${ev.step}] ${ev.message || ""}` : (ev.message || "");
    return el("li", { data: { seq: ev.seq, type: ev.type || "" } },
      el("span", { class: "seq", text: ev.seq }),
      el("span", { class: "time", text: shortTime(ev.time) }),
      el("span", { class: "type", text: ev.type || "" }),
      el("span", { class: "msg", text: message }));
  }

  function noteStep(v, ev) {
    const data = ev.data && typeof ev.data === "object" ? ev.data : {};
    if (ev.type === "progress" && typeof data.progress === "number") showProgress(data.progress);
    if (!ev.step) return;
    if (!v.stepInfo[ev.step]) { v.stepInfo[ev.step] = { retries: 0 }; v.stepOrder.push(ev.step); }
    const info = v.stepInfo[ev.step];
    switch (ev.type) {
      case "step-started": info.state = "running"; break;
      case "step-finished": info.state = data.state || "done"; break;
      case "step-skipped": info.state = "skipped"; break;
      case "step-failed": info.state = "failed"; break;
      case "retry": info.retries += 1; break;
      default: break;
    }
    if (typeof data.durationSeconds === "number") info.durationSeconds = data.durationSeconds;
    if (typeof data.attempt === "number") info.attempts = Math.max(info.attempts || 0, data.attempt);
    renderTimeline(v);
  }

  function renderTimeline(v) {
    const t = tasks.get(v.id);
    const fromStatus = (t && t.details && t.details.steps) || {};
    const order = [...v.stepOrder];
    for (const key of Object.keys(fromStatus)) if (!order.includes(key)) order.push(key);
    const items = order.map((id) => {
      const s = fromStatus[id] || {};
      const e = v.stepInfo[id] || {};
      const stateText = String(s.state || e.state || "pending");
      const duration = typeof s.durationSeconds === "number" ? s.durationSeconds : e.durationSeconds;
      const attempts = Math.max(Number(s.attempts) || 0, Number(e.attempts) || 0, (e.retries || 0) + 1);
      const parts = [stateText];
      if (typeof duration === "number") parts.push(formatDuration(duration));
      if (attempts > 1) parts.push(`${attempts} attempts (${attempts - 1} ${attempts === 2 ? "retry" : "retries"})`);
      return el("li", { data: { state: stateText, step: id } },
        el("span", { class: "sname", text: id }), el("span", { class: "sdetail", text: parts.join(" · ") }));
    });
    $("timeline").replaceChildren(...items);
  }

  function showProgress(p) {
    const bar = $("task-progress");
    if (typeof p === "number" && isFinite(p)) {
      bar.value = Math.max(0, Math.min(1, p));
      $("task-progress-text").textContent = percent(p);
    }
  }

  function renderTaskStatus(t) {
    const v = view;
    if (!v || v.id !== t.taskId) return;
    $("task-client").textContent = `— ${clientName(t.client)}`;
    setState($("task-state"), t.state);
    $("task-step").textContent = t.step ? `${TERMINAL.has(t.state) ? "last step" : "step"}: ${t.step}` : "";
    $("task-duration").textContent = taskDuration(t);
    $("task-error").textContent = t.error || "";
    const bar = $("task-progress");
    if (typeof t.progress === "number") showProgress(t.progress);
    else if (t.state === "DONE") showProgress(1);
    else if (!TERMINAL.has(t.state) && !v.seenProgress) { bar.removeAttribute("value"); $("task-progress-text").textContent = ""; }
    if (typeof t.progress === "number") v.seenProgress = true;
    $("task-cancel").hidden = TERMINAL.has(t.state);
    if ((t.details || {}).previewUrl || v.preview) refreshPreview(t.client);
    renderTimeline(v);
    renderShots(t);
    if (TERMINAL.has(t.state) && v.es && v.es.readyState === EventSource.CLOSED) finishStream(v);
  }

  // Preview: the link while the client's preview is up; start/stop buttons otherwise.
  let previewCheck = 0;
  let previewTimer = null;
  async function refreshPreview(slug, force = false) {
    const now = Date.now();
    if (!force && now - previewCheck < 2000) {
      clearTimeout(previewTimer);
      previewTimer = setTimeout(() => refreshPreview(slug, true), 2000);
      return;
    }
    previewCheck = now;
    let preview = null;
    try {
      const body = await api("/api/previews");
      preview = (body.previews || []).find((x) => x.slug === slug) || null;
    } catch (e) { return; }
    if (view) { view.preview = preview || view.preview; renderPreview(slug, preview); }
  }

  function renderPreview(slug, preview) {
    const t = view && tasks.get(view.id);
    if (!t || t.client !== slug) return;
    const up = preview && (preview.state === "ready" || preview.state === "starting");
    const url = up ? safeHttpUrl(preview.url) : null;
    const link = $("task-preview-link");
    $("task-preview").hidden = false;
    link.hidden = !url;
    if (url) { link.href = url; link.textContent = url; }
    $("task-preview-state").textContent = up ? `(${preview.state})` : `stopped${preview && preview.state === "failed" ? " (failed)" : ""}`;
    $("preview-start").hidden = !!up;
    $("preview-stop").hidden = !up;
  }

  $("preview-start").addEventListener("click", async () => {
    const t = view && tasks.get(view.id);
    if (!t) return;
    const button = $("preview-start");
    button.disabled = true;
    $("task-preview-state").textContent = "(starting…)";
    try {
      const p = await api(`/api/clients/${encodeURIComponent(t.client)}/preview`, { method: "POST", json: {} });
      if (view) view.preview = p;
      renderPreview(t.client, { slug: t.client, ...p });
    } catch (e) {
      $("task-preview-state").textContent = `could not start: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  });

  $("preview-stop").addEventListener("click", async () => {
    const t = view && tasks.get(view.id);
    if (!t) return;
    const button = $("preview-stop");
    button.disabled = true;
    try {
      await api(`/api/clients/${encodeURIComponent(t.client)}/preview`, { method: "DELETE" });
      renderPreview(t.client, null);
    } catch (e) {
      $("task-preview-state").textContent = `could not stop: ${e.message}`;
    } finally {
      button.disabled = false;
    }
  });

  function renderShots(t) {
    const details = t.details || {};
    const shots = Array.isArray(details.screenshots) ? details.screenshots : [];
    const container = $("shots");
    const key = JSON.stringify([t.taskId, shots, details.consoleErrors || null]);
    if (container.dataset.key === key) return;
    container.dataset.key = key;
    $("shots-empty").hidden = shots.length > 0;
    const globalErrors = Array.isArray(details.consoleErrors) ? details.consoleErrors : [];
    const figures = shots.map((s) => {
      const file = String(s.file || "").split("/").pop();
      const viewport = String(s.viewport || file);
      const src = `/api/tasks/${encodeURIComponent(t.taskId)}/artifacts/${encodeURIComponent(file)}`;
      const img = el("img", { attrs: { src, alt: `Screenshot of the site at ${viewport} size`, loading: "lazy",
        width: s.width, height: s.height } });
      const errors = Array.isArray(s.consoleErrors) ? s.consoleErrors : globalErrors;
      const caption = el("figcaption", {},
        el("strong", { text: viewport }),
        el("span", { class: "muted", text: s.width && s.height ? ` ${s.width}×${s.height}` : "" }),
        el("p", { text: errors.length ? `${errors.length} console error${errors.length === 1 ? "" : "s"}:` : "No console errors." }));
      if (errors.length) {
        caption.append(el("ul", { class: "errors" }, ...errors.map((x) => el("li", { text: errorText(x) }))));
      }
      return el("figure", { class: `shot ${/mobile/i.test(viewport) ? "mobile" : ""}`, data: { viewport } },
        el("a", { attrs: { href: src, target: "_blank", rel: "noopener" } }, img), caption);
    });
    container.replaceChildren(...figures);
  }

  function errorText(x) {
    if (typeof x === "string") return x;
    if (x && typeof x === "object") return String(x.message || x.text || JSON.stringify(x));
    return String(x);
  }

  // auto-scroll that pauses while the user looks further up
  const logBox = $("log");
  logBox.addEventListener("scroll", () => {
    if (!view) return;
    const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 8;
    view.pinned = atBottom;
    $("log-follow").hidden = atBottom;
  });
  $("log-follow").addEventListener("click", () => {
    if (!view) return;
    view.pinned = true;
    logBox.scrollTop = logBox.scrollHeight;
    $("log-follow").hidden = true;
  });

  // keep the newest line in sight when the layout changes (resize, rotation) while following
  if (window.ResizeObserver) {
    new ResizeObserver(() => { if (view && view.pinned) logBox.scrollTop = logBox.scrollHeight; }).observe(logBox);
  }

  function scrollLog(v) {
    if (v.pinned) logBox.scrollTop = logBox.scrollHeight;
    else $("log-follow").hidden = false;
  }

  // durations of running tasks tick
  setInterval(() => {
    for (const t of tasks.values()) {
      if (TERMINAL.has(t.state)) continue;
      const row = runRows.get(t.taskId);
      if (row) row.duration.textContent = taskDuration(t);
      if (view && view.id === t.taskId) $("task-duration").textContent = taskDuration(t);
    }
  }, 1000);

  // ---------------------------------------------------------------- start

  async function start() {
    try {
      await loadClients();
      await loadTasks();
    } catch (e) {
      if (e.status === 401) return; // the token form is showing
    }
    conn.started = true;
    renderConn();
    openStatusStream();
    const m = /^#task=([0-9a-z]+)$/.exec(location.hash);
    if (m) openTask(m[1]);
  }

  start();
})();
