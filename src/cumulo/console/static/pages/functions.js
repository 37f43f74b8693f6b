// Functions: deploy a zip (multipart, as `cumulo functions deploy`), invoke with a JSON payload, logs.
import { del, enc, get, request } from "../lib/api.js";
import { clear, fmtBytes, fmtDate, h } from "../lib/dom.js";
import { editPanel } from "../lib/resource.js";
import {
  button, confirmDialog, definitionList, errorBox, form, pageHeader, pairsText, parsePairs, shellQuote, snippet, statusBadge, table, toast,
} from "../lib/ui.js";

async function list({ main, navigate }) {
  let runtimes = [];
  try { runtimes = await get("/functions/runtimes"); } catch { runtimes = []; }
  const body = h("div", {});
  const f = form({
    submit: "Deploy",
    fields: [
      { name: "name", label: "Function name", required: true, placeholder: "hello" },
      { name: "runtime", label: "Runtime", type: "select", options: runtimes.map((r) => [r.name, `${r.name} (${r.language} ${r.version})`]) },
      { name: "handler", label: "Handler", placeholder: "main.handler", help: "file.function; the runtime's default when empty." },
      { name: "timeout_seconds", label: "Timeout (s)", type: "number", min: "1" },
      { name: "code", label: "Code (zip)", type: "file", required: true },
    ],
    onSubmit: async (v) => {
      const data = new FormData();
      for (const name of ["name", "runtime", "handler", "timeout_seconds"]) if (v[name]) data.append(name, v[name]);
      if (v.code) data.append("code", v.code, v.code.name);
      const fn = await request("POST", "/functions", { body: data });
      toast(`Function ${fn.name} deployed (version ${fn.version})`);
      navigate(`/console/functions/${enc(fn.id)}`);
    },
    onInput: () => cli.refresh(),
  });
  f.inputs.code.setAttribute("accept", ".zip,application/zip");
  const cli = snippet("CLI equivalent", () => {
    const v = f.values();
    return ["cumulo functions deploy DIRECTORY --name", shellQuote(v.name || "NAME"), "--runtime", shellQuote(v.runtime || "RUNTIME"),
      v.handler && `--handler ${shellQuote(v.handler)}`].filter(Boolean).join(" ");
  });
  main.append(pageHeader("Functions"), h("details", { class: "create", open: true }, h("summary", {}, "Deploy a function"), f, cli), body);
  const refresh = async () => {
    const rows = await get("/functions");
    clear(body, table([
      { label: "Name", cell: (fn) => h("a", { href: `/console/functions/${enc(fn.id)}` }, fn.name) },
      { label: "Runtime", cell: (fn) => fn.runtime },
      { label: "Version", cell: (fn) => fn.version },
      { label: "Status", cell: (fn) => statusBadge(fn.status) },
      { label: "Updated", cell: (fn) => fmtDate(fn.updated_at) },
      { label: "Actions", cell: (fn) => button("Delete", async () => {
        if (!(await confirmDialog(`Delete function "${fn.name}"?`))) return;
        try { await del(`/functions/${enc(fn.id)}`); toast(`Function ${fn.name} deleted`); } catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small danger", title: `Delete function ${fn.name}` }) },
    ], rows, { empty: "No functions yet." }));
  };
  await refresh();
}

async function detail({ main, params }) {
  let fn;
  try { fn = await get(`/functions/${enc(params.id)}`); } catch (error) { main.append(errorBox(error)); return; }
  const result = h("div", { id: "invoke-result", "aria-live": "polite" });
  const logs = h("div", {});
  const invoke = form({
    submit: "Invoke",
    fields: [{ name: "payload", label: "Payload (JSON)", type: "textarea", rows: 5, value: '{"name": "world"}' }],
    onSubmit: async (v) => {
      try { if (v.payload.trim()) JSON.parse(v.payload); } catch (error) {
        invoke.showError({ fields: [{ field: "payload", message: `not valid JSON: ${error.message}` }], message: "" });
        return;
      }
      const out = await request("POST", `/functions/${enc(fn.id)}/invoke`, { body: v.payload || "null", headers: { "Content-Type": "application/json" } });
      clear(result, definitionList([
        ["Status", statusBadge(out.status)], ["Duration", out.duration_ms != null ? `${out.duration_ms.toFixed(1)} ms` : "—"],
        ["Cold start", out.cold_start ? "yes" : "no"],
        ["Result", h("pre", { class: "result" }, JSON.stringify(out.result, null, 2))],
        ["Error", out.error ? h("pre", {}, JSON.stringify(out.error, null, 2)) : "—"],
        ["Logs", h("pre", { class: "logs" }, out.logs_tail || "")],
      ]));
      await refreshLogs();
    },
  });
  const refreshLogs = async () => {
    try {
      const rows = await get(`/functions/${enc(fn.id)}/logs?limit=20`);
      clear(logs, table([
        { label: "When", cell: (l) => fmtDate(l.created_at) },
        { label: "Status", cell: (l) => statusBadge(l.status) },
        { label: "Duration", cell: (l) => (l.duration_ms != null ? `${l.duration_ms.toFixed(1)} ms` : "—") },
        { label: "Output", cell: (l) => h("pre", { class: "logs" }, l.logs || (l.error ? JSON.stringify(l.error) : "")) },
      ], rows, { empty: "No invocations yet." }));
    } catch (error) { clear(logs, errorBox(error)); }
  };
  const facts = h("div", {});
  const drawFacts = () => clear(facts, definitionList([["ID", fn.id], ["Runtime", fn.runtime], ["Handler", fn.handler], ["Version", fn.version],
    ["Timeout", `${fn.timeout_seconds} s`], ["Memory", `${fn.memory_mb} MiB`], ["Concurrency", String(fn.max_concurrency)],
    ["Environment", Object.keys(fn.env || {}).join(", ") || "—"],
    ["Code", `${fmtBytes(fn.code_size)}, sha256 ${fn.code_sha256.slice(0, 12)}…`]]));
  drawFacts();
  const editing = editPanel({
    summary: "Edit configuration",
    path: (f) => `/functions/${enc(f.id)}`,
    fields: [
      { name: "handler", label: "Handler", required: true, placeholder: "main.handler" },
      { name: "timeout_seconds", label: "Timeout (seconds)", type: "number", min: "1", max: "900", required: true },
      { name: "memory_mb", label: "Memory (MiB)", type: "number", min: "64", max: "4096", required: true },
      { name: "max_concurrency", label: "Concurrent invocations", type: "number", min: "1", max: "100", required: true },
      { name: "env", label: "Environment", type: "textarea", rows: 3, placeholder: "NAME=value, one per line", from: (f) => pairsText(f.env) },
    ],
    body: (changed) => Object.fromEntries(Object.entries(changed).map(([k, v]) => [k,
      k === "env" ? parsePairs(v) : k === "handler" ? v : v === "" ? v : Number(v)])),
    saved: async (row) => { fn = row; drawFacts(); },
  });
  editing.update(fn);
  main.append(pageHeader(fn.name, statusBadge(fn.status)), facts, editing,
    h("section", { "aria-labelledby": "invoke-title" }, h("h2", { id: "invoke-title" }, "Invoke"), invoke,
      snippet("CLI equivalent", () => `cumulo functions invoke ${shellQuote(fn.name)} ${shellQuote(invoke.values().payload || "null")}`), result),
    h("section", { "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Recent invocations"),
      button("Refresh", refreshLogs, { kind: "small" }), logs));
  await refreshLogs();
}

export const routes = [
  { path: "/console/functions", title: "Functions", render: list },
  { path: "/console/functions/:id", title: "Function", render: detail },
];
