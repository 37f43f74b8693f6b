// Cron jobs: list (pause/resume), create (an HTTP, queue, topic or function target), and a job's
// page with its runs, followed live, and "Run now".
import { enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { collection, editPanel, rowAction } from "../lib/resource.js";
import { button, definitionList, errorBox, pageHeader, shellQuote, statusBadge, table, toast } from "../lib/ui.js";

const TARGETS = [["http", "HTTP request"], ["queue", "Queue message"], ["topic", "Topic message"], ["function", "Function invocation"]];

function body(v) {
  const out = { name: v.name, schedule: v.schedule, timezone: v.timezone || undefined, target_type: v.target_type,
    method: v.target_type === "http" ? v.method : undefined, payload: v.payload || undefined };
  if (v.target_type === "http") out.target_url = v.target; else out.target_id = v.target;
  return out;
}

function cli(v) {
  const flag = v.target_type === "http" ? "--url" : `--${v.target_type}`;
  return [`cumulo cron create ${shellQuote(v.name || "NAME")} --schedule ${shellQuote(v.schedule || "SCHEDULE")}`,
    `${flag} ${shellQuote(v.target || "TARGET")}`, v.timezone && `--timezone ${shellQuote(v.timezone)}`,
    v.target_type === "http" && v.method !== "POST" && `--method ${v.method}`, v.payload && `--payload ${shellQuote(v.payload)}`]
    .filter(Boolean).join(" ");
}

const jobs = collection({
  title: "Cron jobs",
  load: () => get("/cron"),
  live: ["cron_job"],
  empty: "No cron jobs yet.",
  create: {
    path: "/cron",
    submit: "Create job",
    inline: false,
    fields: [
      { name: "name", label: "Job name", required: true, placeholder: "nightly-report" },
      { name: "schedule", label: "Schedule", required: true, placeholder: "0 3 * * *",
        help: "Cron fields, @hourly/@daily, or rate(5 minutes)." },
      { name: "timezone", label: "Time zone", placeholder: "UTC" },
      { name: "target_type", label: "Target type", type: "select", options: TARGETS, value: "http" },
      { name: "target", label: "Target (URL, or queue/topic/function name)", required: true },
      { name: "method", label: "HTTP method", type: "select", options: ["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD"], value: "POST" },
      { name: "payload", label: "Payload", type: "textarea", rows: 2 },
    ],
    body,
    cli,
    open: (job) => `/console/cron/${enc(job.id)}`,
  },
  columns: [
    { label: "Name", cell: (j) => h("a", { href: `/console/cron/${enc(j.id)}` }, j.name) },
    { label: "Schedule", cell: (j) => h("code", {}, `${j.schedule} (${j.timezone})`) },
    { label: "Target", cell: (j) => `${j.target_type}: ${j.target_url || j.target_id}` },
    { label: "Status", cell: (j) => statusBadge(j.status) },
    { label: "Next run", cell: (j) => fmtDate(j.next_run_at) },
  ],
  actions: [rowAction("Pause", (j) => `/cron/${enc(j.id)}/pause`, (j) => j.status === "ACTIVE"),
    rowAction("Resume", (j) => `/cron/${enc(j.id)}/resume`, (j) => j.status !== "ACTIVE")],
  remove: { path: (j) => `/cron/${enc(j.id)}`, name: (j) => j.name },
});

async function job({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const runs = h("div", { id: "runs", "aria-live": "polite" });
  const editing = editPanel({
    summary: "Edit the schedule",
    path: (j) => `/cron/${enc(j.id)}`,
    fields: [
      { name: "schedule", label: "Schedule", required: true, placeholder: "*/5 * * * *", help: "Cron syntax (5 fields), or @hourly, @daily..." },
      { name: "timezone", label: "Time zone", required: true, placeholder: "UTC" },
      { name: "payload", label: "Payload", type: "textarea", rows: 3 },
      { name: "retries", label: "Retries", type: "number", min: "0", max: "10", required: true },
      { name: "timeout_seconds", label: "Timeout per attempt (seconds)", type: "number", min: "1", max: "300", required: true },
    ],
    body: (changed) => Object.fromEntries(Object.entries(changed).map(([k, v]) => [k,
      ["retries", "timeout_seconds"].includes(k) && v !== "" ? Number(v) : v])),
    cli: (changed, j) => [`cumulo cron update ${shellQuote(j.name)}`, changed.schedule ? `--schedule ${shellQuote(changed.schedule)}` : "",
      changed.timezone ? `--timezone ${shellQuote(changed.timezone)}` : "", changed.payload !== undefined ? `--payload ${shellQuote(changed.payload)}` : "",
      changed.retries !== undefined ? `--retries ${changed.retries}` : "", changed.timeout_seconds ? `--timeout ${changed.timeout_seconds}` : ""].filter(Boolean).join(" "),
    saved: () => refresh(),
  });
  const refresh = async () => {
    let j;
    try { j = await get(`/cron/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    editing.update(j);
    clear(info, pageHeader(j.name, statusBadge(j.status), button("Run now", async () => {
      try { await post(`/cron/${enc(id)}/run`); toast("Run started"); } catch (error) { toast(error.message, "error"); }
      await refresh();
    }, { kind: "primary" })), definitionList([
      ["Schedule", h("code", {}, j.schedule)], ["Time zone", j.timezone],
      ["Target", `${j.target_type}: ${j.target_url || j.target_id}`], ["Method", j.method],
      ["Retries", String(j.retries)], ["Timeout", `${j.timeout_seconds} s`], ["Missed runs", j.missed_runs],
      ["Next run", fmtDate(j.next_run_at)], ["Last run", fmtDate(j.last_run_at)],
    ]));
    const rows = await get(`/cron/${enc(id)}/runs`).catch(() => []);
    clear(runs, table([
      { label: "Started", cell: (r) => fmtDate(r.started_at) },
      { label: "Trigger", cell: (r) => r.trigger },
      { label: "Status", cell: (r) => statusBadge(r.status) },
      { label: "Attempts", cell: (r) => String(r.attempts) },
      { label: "Duration", cell: (r) => (r.duration_ms === null ? "—" : `${r.duration_ms} ms`) },
      { label: "Result", cell: (r) => r.error || (r.status_code ? `HTTP ${r.status_code}` : r.response_excerpt || "—") },
    ], rows, { empty: "No runs yet." }));
  };
  main.append(h("p", {}, h("a", { href: "/console/cron" }, "← All cron jobs")), info, editing,
    h("section", { "aria-labelledby": "runs-title" }, h("h2", { id: "runs-title" }, "Runs"), runs));
  await refresh();
  const stop = follow(["cron_job"], refresh);
  const timer = setInterval(refresh, 3000); // a run finishing is no audit event
  return () => { stop(); clearInterval(timer); };
}

export const routes = [
  { path: "/console/cron", title: "Cron jobs", render: jobs },
  { path: "/console/cron/:id", title: "Cron job", render: job },
];
