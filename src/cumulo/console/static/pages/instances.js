// Instances: list with start/stop/delete, launch form (the API's messages at the fields), detail
// with a live status, CPU and memory charts (GET /instances/{id}/metrics, redrawn at the sampler's
// interval), logs, a terminal over the console WebSocket (xterm.js, loaded on demand) and, for a VM,
// its screen over the VNC WebSocket (noVNC, loaded on demand).
import { del, enc, get, getPage, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { metricsCharts } from "../lib/metrics.js";
import { editPanel } from "../lib/resource.js";
import {
  button, confirmDialog, curl, definitionList, errorBox, form, pageHeader, pager, parsePairs, shellQuote, snippet,
  statusBadge, table, toast,
} from "../lib/ui.js";

async function act(inst, action, refresh) {
  try {
    if (action === "delete") {
      if (!(await confirmDialog(`Terminate instance "${inst.name}"? Its container and root filesystem are deleted.`,
        { confirm: "Terminate" }))) return;
      await del(`/instances/${enc(inst.id)}`);
      toast(`Instance ${inst.name} terminated`);
    } else {
      await post(`/instances/${enc(inst.id)}/${action}`);
    }
  } catch (error) {
    toast(error.message, "error");
  }
  await refresh();
}

function actions(inst, refresh) {
  const stopped = inst.status === "STOPPED" || inst.status === "ERROR";
  return h("div", { class: "row-actions" },
    stopped ? button("Start", () => act(inst, "start", refresh), { kind: "small" })
      : button("Stop", () => act(inst, "stop", refresh), { kind: "small", title: `Stop ${inst.name}` }),
    button("Delete", () => act(inst, "delete", refresh), { kind: "small danger", title: `Terminate ${inst.name}` }));
}

// Bulk actions on the selected rows: each call on its own, all at once; failures are reported together.
async function bulk(selected, rows, action, refresh) {
  const chosen = rows.filter((r) => selected.has(r.id));
  if (!chosen.length) { toast("Select instances first", "error"); return; }
  if (action === "delete" && !(await confirmDialog(`Terminate ${chosen.length} instance(s): ${chosen.map((r) => r.name).join(", ")}?`,
    { confirm: "Terminate" }))) return;
  const results = await Promise.allSettled(chosen.map((r) => (action === "delete"
    ? del(`/instances/${enc(r.id)}`) : post(`/instances/${enc(r.id)}/${action}`))));
  const failed = results.map((r, i) => (r.status === "rejected" ? `${chosen[i].name}: ${r.reason.message}` : null)).filter(Boolean);
  toast(failed.length ? `${failed.length} failed: ${failed.join("; ")}` : `${action}: ${chosen.length} instance(s)`, failed.length ? "error" : "info");
  if (action === "delete") chosen.forEach((r) => selected.delete(r.id));
  await refresh();
}

const PAGE = 50;

// The list is searched and paged on the server (GET /instances?q=&status=&limit=&offset=): a
// thousand instances cost one page of rows, in the table and on the wire.
async function list({ main, query }) {
  const search = h("input", { type: "search", id: "instance-search", value: query.get("q") || "", placeholder: "name, image, status or IP" });
  const status = h("select", { id: "instance-status-filter" },
    [["", "any status"], ...["RUNNING", "PENDING", "STARTING", "STOPPED", "ERROR"].map((s) => [s, s])].map(([value, label]) =>
      h("option", { value, selected: value === (query.get("status") || "") }, label)));
  const body = h("div", {});
  const pages = h("div", {});
  const selected = new Set();
  let rows = [];
  let total = 0;
  let offset = Math.max(0, Number(query.get("offset")) || 0);
  const all = h("input", { type: "checkbox", id: "select-all" });
  const bar = h("div", { class: "toolbar bulk", role: "group", "aria-label": "Bulk actions" },
    all, h("label", { for: "select-all" }, "Select all shown"),
    button("Start selected", () => bulk(selected, rows, "start", refresh), { kind: "small" }),
    button("Stop selected", () => bulk(selected, rows, "stop", refresh), { kind: "small" }),
    button("Delete selected", () => bulk(selected, rows, "delete", refresh), { kind: "small danger" }));
  main.append(pageHeader("Instances", h("a", { class: "btn primary", href: "/console/instances/new" }, "Launch instance")),
    h("div", { class: "toolbar" }, h("label", { for: "instance-search" }, "Filter"), search,
      h("label", { for: "instance-status-filter" }, "Status"), status), bar, body, pages);
  const pick = (r) => {
    const box = h("input", { type: "checkbox", "aria-label": `Select ${r.name}`, checked: selected.has(r.id) });
    box.addEventListener("change", () => { if (box.checked) selected.add(r.id); else selected.delete(r.id); });
    return box;
  };
  const filtered = () => Boolean(search.value.trim() || status.value);
  const draw = () => {
    all.checked = rows.length > 0 && rows.every((r) => selected.has(r.id));
    clear(body, table([
      { label: "Select", cell: pick },
      { label: "Name", cell: (r) => h("a", { href: `/console/instances/${enc(r.id)}` }, r.name) },
      { label: "Image", cell: (r) => r.image },
      { label: "Status", cell: (r) => statusBadge(r.status) },
      { label: "Ports", cell: (r) => r.ports || "—" },
      { label: "IP", cell: (r) => r.ip_address || "—" },
      { label: "Created", cell: (r) => fmtDate(r.created_at) },
      { label: "Actions", cell: (r) => actions(r, refresh) },
    ], rows, { empty: filtered() ? "No instance matches the filter." : "No instances yet: launch one." }));
    clear(pages, pager({ offset, limit: PAGE, total, shown: rows.length, what: "instances", go: (to) => { offset = to; remember(); refresh(); } }));
  };
  let asked = 0;
  const refresh = async () => {
    const turn = ++asked; // typing fast: only the newest answer is drawn
    const got = await getPage("/instances", { q: search.value.trim(), status: status.value, limit: PAGE, offset });
    if (turn !== asked) return;
    if (!got.rows.length && offset > 0 && got.total > 0) { offset = Math.max(0, Math.floor((got.total - 1) / PAGE) * PAGE); await refresh(); return; }
    rows = got.rows;
    total = got.total;
    draw();
  };
  const remember = () => {
    const params = new URLSearchParams();
    if (search.value) params.set("q", search.value);
    if (status.value) params.set("status", status.value);
    if (offset) params.set("offset", String(offset));
    history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  };
  all.addEventListener("change", () => { rows.forEach((r) => (all.checked ? selected.add(r.id) : selected.delete(r.id))); draw(); });
  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => { offset = 0; remember(); refresh(); }, 200);
  });
  status.addEventListener("change", () => { offset = 0; remember(); refresh(); });
  await refresh();
  const unfollow = follow(["instance"], refresh);
  return () => { unfollow(); clearTimeout(typing); };
}

function launchBody(v) {
  const body = { name: v.name, image: v.image };
  if (v.ports) body.ports = v.ports;
  if (v.cpus) body.cpus = Number(v.cpus);
  if (v.memory_mb) body.memory_mb = Number(v.memory_mb);
  const env = parsePairs(v.env);
  if (Object.keys(env).length) body.env = env;
  if (v.command.trim()) body.command = ["/bin/sh", "-c", v.command];
  if (v.ttl_seconds) body.ttl_seconds = Number(v.ttl_seconds);
  if (v.backend && v.backend !== "container") body.backend = v.backend;
  return body;
}

function launchCli(v) {
  const b = launchBody(v);
  const parts = ["cumulo instances launch", shellQuote(b.name || "NAME"), "--image", shellQuote(b.image || "IMAGE")];
  if (b.ports) parts.push("--ports", shellQuote(b.ports));
  if (b.cpus) parts.push("--cpus", b.cpus);
  if (b.memory_mb) parts.push("--memory-mb", b.memory_mb);
  for (const [k, val] of Object.entries(b.env || {})) parts.push("--env", shellQuote(`${k}=${val}`));
  if (b.ttl_seconds) parts.push("--ttl", b.ttl_seconds);
  if (b.backend) parts.push("--backend", b.backend);
  if (b.command) parts.push("--", b.command.map(shellQuote).join(" "));
  return parts.join(" ");
}

async function launch({ main, navigate, query }) {
  let images = [];
  try { images = (await get("/images")).filter((i) => i.status === "ready" || i.status === "READY" || !i.error).map((i) => i.reference); } catch { images = []; }
  const datalist = h("datalist", { id: "image-names" }, images.map((name) => h("option", { value: name })));
  const f = form({
    submit: "Launch",
    fields: [
      { name: "name", label: "Name", required: true, placeholder: "web-1", help: "Letters, digits and dashes." },
      { name: "image", label: "Image", required: true, value: query.get("image") || (images.includes("cumulo/busybox") ? "cumulo/busybox" : ""),
        placeholder: "cumulo/busybox" },
      { name: "ports", label: "Ports", placeholder: "0:80", help: '"HOST:CONTAINER" pairs, comma separated; host 0 picks a free port.' },
      { name: "cpus", label: "CPUs", type: "number", step: "0.1", min: "0" },
      { name: "memory_mb", label: "Memory (MiB)", type: "number", min: "16" },
      { name: "env", label: "Environment", type: "textarea", rows: 3, placeholder: "NAME=value, one per line" },
      { name: "command", label: "Command", placeholder: "sleep 3600", help: "Run with /bin/sh -c instead of the image's command." },
      { name: "ttl_seconds", label: "Time to live (seconds)", type: "number", min: "1" },
      { name: "backend", label: "Backend", type: "select", options: [["container", "Container (Docker)"], ["vm", "Virtual machine (QEMU)"]] },
    ],
    onSubmit: async (v) => {
      const inst = await post("/instances", launchBody(v));
      toast(`Instance ${inst.name} is starting`);
      navigate(`/console/instances/${enc(inst.id)}`);
    },
    onInput: () => { cli.refresh(); api.refresh(); },
  });
  f.inputs.image.setAttribute("list", "image-names");
  const cli = snippet("CLI equivalent", () => launchCli(f.values()));
  const api = snippet("curl equivalent", () => curl("POST", "/instances", launchBody(f.values())));
  main.append(pageHeader("Launch an instance"), datalist, f, cli, api);
  f.inputs.name.focus();
}

async function detail({ main, params, navigate }) {
  const id = params.id;
  const info = h("div", {});
  const logs = h("pre", { class: "logs", tabindex: "0", "aria-label": "Instance logs" });
  const followLogs = h("input", { type: "checkbox", id: "follow-logs", checked: true });
  const termBox = h("div", { class: "terminal-box" });
  let terminal = null;
  const header = h("div", {});
  const charts = h("div", { class: "charts" });
  const screenBox = h("div", { class: "screen-box" });
  const screenSection = h("section", { "aria-labelledby": "screen-title", hidden: true },
    h("h2", { id: "screen-title" }, "Screen"),
    h("p", { class: "help" }, "The display over VNC, in the page (noVNC): a VM's screen, or the desktop of a cumulo/desktop instance (it asks for the instance's password). Click it to type into it."),
    h("div", { class: "actions" }, button("Open screen", () => openScreen(), { kind: "primary" }),
      button("Send Ctrl+Alt+Del", () => screen && screen.ctrlAltDel(), {}),
      button("Close screen", () => closeScreen(), {})), screenBox);
  const editing = editPanel({
    summary: "Rename or change the time to live",
    path: (i) => `/instances/${enc(i.id)}`,
    fields: [
      { name: "name", label: "Instance name", required: true, help: "Letters, digits and dashes." },
      { name: "ttl_seconds", label: "Time to live from now (seconds)", type: "number", min: "1", from: () => "",
        help: "Empty: unchanged." },
      { name: "no_ttl", label: "Remove the time limit", type: "checkbox", from: () => false },
    ],
    body: (changed) => {
      const body = {};
      if (changed.name !== undefined) body.name = changed.name;
      if (changed.ttl_seconds !== undefined && changed.ttl_seconds !== "") body.ttl_seconds = Number(changed.ttl_seconds);
      if (changed.no_ttl) body.ttl_seconds = null;
      return body;
    },
    cli: (changed, i) => `cumulo instances update ${shellQuote(i.name)}${changed.name ? ` --name ${shellQuote(changed.name)}` : ""}${
      changed.no_ttl ? " --ttl 0" : changed.ttl_seconds ? ` --ttl ${changed.ttl_seconds}` : ""}`,
    saved: () => refresh(),
  });
  main.append(header, info, editing,
    h("section", { "aria-labelledby": "metrics-title" }, h("h2", { id: "metrics-title" }, "Metrics"), charts),
    screenSection,
    h("section", { "aria-labelledby": "term-title" }, h("h2", { id: "term-title" }, "Terminal"),
      h("div", { class: "actions" }, button("Open terminal", () => openTerminal(), { kind: "primary" }),
        button("Close terminal", () => closeTerminal(), {})), termBox),
    h("section", { "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Logs"),
      h("div", { class: "toolbar" }, button("Refresh logs", () => loadLogs(), { kind: "small" }), followLogs,
        h("label", { for: "follow-logs" }, "Follow (every 2 s)")), logs));

  let current = null;
  const refresh = async () => {
    try { current = await get(`/instances/${enc(id)}`); } catch (error) {
      clear(header, pageHeader("Instance"));
      clear(info, errorBox(error));
      return;
    }
    const inst = current;
    screenSection.hidden = !(inst.backend === "vm" || /^cumulo\/desktop(:|$)/.test(inst.image));
    editing.update(inst);
    clear(header, pageHeader(inst.name, statusBadge(inst.status), actions(inst, async () => {
      try { await get(`/instances/${enc(id)}`); await refresh(); } catch { navigate("/console/instances"); }
    })));
    clear(info, definitionList([
      ["ID", inst.id], ["Status", h("span", { id: "instance-status" }, statusBadge(inst.status))],
      ["Reason", inst.status_reason], ["Image", inst.image], ["Backend", inst.backend], ["Ports", inst.ports || "—"],
      ["IP address", inst.ip_address], ["CPUs", inst.cpus], ["Memory", `${inst.memory_mb} MiB`],
      ["Command", inst.command ? inst.command.join(" ") : "image default"],
      ["Expires", inst.expires_at ? fmtDate(inst.expires_at) : "never"], ["Created", fmtDate(inst.created_at)],
    ]));
  };
  // Logs follow while "Follow" is on: read again every 2 s, kept scrolled to the end when they were.
  let logsTimer = null;
  let gone = false;
  const loadLogs = async () => {
    clearTimeout(logsTimer);
    const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    let text;
    try { text = await get(`/instances/${enc(id)}/logs?tail=200`) || "(no output yet)"; } catch (error) { text = error.message; }
    if (gone) return;
    if (logs.textContent !== text) { logs.textContent = text; if (atEnd) logs.scrollTop = logs.scrollHeight; }
    if (followLogs.checked) logsTimer = setTimeout(loadLogs, 2000);
  };
  followLogs.addEventListener("change", () => { if (followLogs.checked) loadLogs(); else clearTimeout(logsTimer); });

  async function openTerminal() {
    if (terminal) { terminal.focus(); return; }
    terminal = await import("./terminal.js").then((m) => m.open(termBox, id));
  }
  function closeTerminal() {
    if (terminal) terminal.close();
    terminal = null;
  }
  let screen = null;
  async function openScreen() {
    if (screen) { screen.focus(); return; }
    screen = await import("./screen.js").then((m) => m.open(screenBox, current));
  }
  function closeScreen() {
    if (screen) screen.close();
    screen = null;
  }

  await refresh();
  loadLogs();
  const stopMetrics = metricsCharts(charts, `/instances/${enc(id)}/metrics`);
  const unfollow = follow(["instance"], (event) => { if (!event || event.resource_id === id) refresh(); });
  return () => { unfollow(); closeTerminal(); closeScreen(); stopMetrics(); gone = true; clearTimeout(logsTimer); };
}

export const routes = [
  { path: "/console/instances", title: "Instances", render: list },
  { path: "/console/instances/new", title: "Launch instance", render: launch },
  { path: "/console/instances/:id", title: "Instance", render: detail },
];
