// Managed databases and caches: create (the password is shown once), live status, stop/start,
// connection details, CPU and memory charts (the metrics API's series of the server's container),
// backups and logs.
import { enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { metricsCharts } from "../lib/metrics.js";
import { collection, editPanel, rowAction, shownOnce } from "../lib/resource.js";
import { button, definitionList, errorBox, form, pageHeader, shellQuote, snippet, statusBadge, table, toast } from "../lib/ui.js";

const endpoint = (e) => (e ? `${e.host}:${e.port}` : "—");
const stopped = (r) => r.status === "stopped" || r.status === "STOPPED";

const databases = collection({
  title: "Databases",
  load: () => get("/databases"),
  live: ["database"],
  empty: "No databases yet.",
  create: {
    path: "/databases",
    submit: "Create database",
    inline: false,
    fields: [
      { name: "name", label: "Database name", required: true, placeholder: "orders", help: "Lower-case letters, digits and dashes." },
      { name: "engine", label: "Engine", type: "select", options: [["postgres", "PostgreSQL"], ["mariadb", "MariaDB"]] },
      { name: "memory_mb", label: "Memory (MiB)", type: "number", value: "512", min: "128" },
      { name: "storage_gb", label: "Storage (GiB)", type: "number", value: "1", min: "1" },
      { name: "public", label: "Publish a host port", type: "checkbox" },
    ],
    body: (v) => ({ name: v.name, engine: v.engine, memory_mb: Number(v.memory_mb), storage_gb: Number(v.storage_gb), public: v.public }),
    cli: (v) => `cumulo db create ${shellQuote(v.name || "NAME")} --engine ${v.engine} --memory ${v.memory_mb} --storage ${v.storage_gb}${v.public ? " --public" : ""}`,
    created: (db) => shownOnce(`Database "${db.name}" is being created; its master password (user ${db.username}) is below, and in secret ${db.credentials_secret}.`, db.password),
  },
  columns: [
    { label: "Name", cell: (d) => h("a", { href: `/console/databases/${enc(d.id)}` }, d.name) },
    { label: "Engine", cell: (d) => `${d.engine_product || d.engine} ${d.version}` },
    { label: "Status", cell: (d) => statusBadge(d.status) },
    { label: "Endpoint", cell: (d) => endpoint(d.public_endpoint || d.endpoint) },
    { label: "Created", cell: (d) => fmtDate(d.created_at) },
  ],
  actions: [rowAction("Stop", (d) => `/databases/${enc(d.id)}/stop`, (d) => !stopped(d)),
    rowAction("Start", (d) => `/databases/${enc(d.id)}/start`, stopped)],
  remove: { path: (d) => `/databases/${enc(d.id)}`, name: (d) => d.name, confirm: (d) => `Delete database "${d.name}" and its volume? Backups in your bucket stay.` },
});

async function database({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const backups = h("div", {});
  const logs = h("pre", { class: "logs", tabindex: "0", "aria-label": "Database logs" });
  const charts = h("div", { class: "charts" });
  const editing = editPanel({
    summary: "Resize or change backups",
    method: "PUT",
    path: (d) => `/databases/${enc(d.id)}`,
    fields: [
      { name: "cpus", label: "CPUs", type: "number", step: "0.1", min: "0.1", max: "16", required: true },
      { name: "memory_mb", label: "Memory (MiB)", type: "number", min: "128", required: true },
      { name: "storage_gb", label: "Storage (GiB)", type: "number", min: "1", required: true, help: "Storage only grows." },
      { name: "backup_retention_days", label: "Keep backups (days)", type: "number", min: "1", max: "35", required: true },
      { name: "backup_window", label: "Backup window (UTC)", placeholder: "03:00-04:00", required: true },
    ],
    body: (changed) => Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, k === "backup_window" || v === "" ? v : Number(v)])),
    cli: (changed, d) => [`cumulo db resize ${shellQuote(d.name)}`, changed.cpus ? `--cpus ${changed.cpus}` : "",
      changed.memory_mb ? `--memory ${changed.memory_mb}` : ""].filter(Boolean).join(" "),
    saved: () => refresh(),
  });
  // Restore into a new database: from a backup, or (PostgreSQL) to a moment of the retention window.
  let backupRows = [];
  const restoredBox = h("div", { "aria-live": "polite" });
  const restore = form({
    submit: "Restore into a new database",
    fields: [
      { name: "name", label: "New database name", required: true, placeholder: "orders-restored" },
      { name: "backup_id", label: "From backup", type: "select", options: [["", "a point in time (below)"]] },
      { name: "restore_time", label: "Point in time (UTC)", type: "datetime-local", step: "1",
        help: "PostgreSQL: any moment of the retention window; leave empty to restore the backup chosen above." },
    ],
    onSubmit: async (v) => {
      const body = { name: v.name };
      if (v.backup_id) body.backup_id = v.backup_id;
      if (v.restore_time) body.restore_time = `${v.restore_time}Z`;
      const made = await post(`/databases/${enc(id)}/restore`, body);
      clear(restoredBox, shownOnce(`Database "${made.name}" is being restored; its master password is below, and in secret ${made.credentials_secret}.`, made.password));
      restore.inputs.name.value = "";
    },
    onInput: () => restoreCli.refresh(),
  });
  const restoreCli = snippet("CLI equivalent", () => {
    const v = restore.values();
    return `cumulo db restore ${shellQuote(id)} ${v.backup_id ? `--backup ${shellQuote(v.backup_id)}` : `--time ${v.restore_time ? `${v.restore_time}Z` : "TIME"}`} --name ${shellQuote(v.name || "NAME")}`;
  });
  main.append(info, editing,
    h("section", { "aria-labelledby": "metrics-title" }, h("h2", { id: "metrics-title" }, "Metrics"), charts),
    h("section", {}, h("h2", {}, "Backups"), button("Back up now", async () => {
      try { await post(`/databases/${enc(id)}/backups`); toast("Backup started"); } catch (error) { toast(error.message, "error"); }
      await refresh();
    }, { kind: "primary" }), backups),
    h("section", { "aria-labelledby": "restore-title" }, h("h2", { id: "restore-title" }, "Restore"), restore, restoreCli, restoredBox),
    h("section", {}, h("h2", {}, "Logs"), logs));
  const refresh = async () => {
    let d;
    try { d = await get(`/databases/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    editing.update(d);
    clear(info, pageHeader(d.name, statusBadge(d.status)), definitionList([
      ["Engine", `${d.engine_product || d.engine} ${d.version}`], ["Endpoint (VPC)", endpoint(d.endpoint)],
      ["Public endpoint", endpoint(d.public_endpoint)], ["Database", d.database], ["User", d.username],
      ["Password", `in secret ${d.credentials_secret}`], ["Size", `${d.cpus} CPU, ${d.memory_mb} MiB, ${d.storage_gb} GiB`],
      ["Backups", `daily ${d.backup_window} UTC, kept ${d.backup_retention_days} days; last ${fmtDate(d.last_backup_at)}`],
      ["Error", d.error], ["Created", fmtDate(d.created_at)],
    ]));
    const rows = await get(`/databases/${enc(id)}/backups`).catch(() => []);
    const usable = rows.filter((b) => ["available", "completed", "succeeded", "done"].includes(String(b.status).toLowerCase()));
    if (usable.map((b) => b.id).join() !== backupRows.map((b) => b.id).join()) {
      backupRows = usable;
      const chosen = restore.inputs.backup_id.value;
      restore.inputs.backup_id.replaceChildren(h("option", { value: "" }, "a point in time (below)"),
        ...usable.map((b) => h("option", { value: b.id, selected: b.id === chosen }, `${fmtDate(b.created_at)} (${b.kind})`)));
    }
    clear(backups, table([
      { label: "Taken", cell: (b) => fmtDate(b.created_at) }, { label: "Kind", cell: (b) => b.kind },
      { label: "Status", cell: (b) => statusBadge(b.status) }, { label: "Bucket", cell: (b) => b.bucket },
    ], rows, { empty: "No backups yet." }));
    logs.textContent = await get(`/databases/${enc(id)}/logs`).catch((error) => error.message);
  };
  await refresh();
  const stopMetrics = metricsCharts(charts, `/databases/${enc(id)}/metrics/series`);
  const unfollow = follow(["database"], (event) => { if (!event || event.resource_id === id) refresh(); });
  return () => { unfollow(); stopMetrics(); };
}

const caches = collection({
  title: "Caches",
  load: () => get("/caches"),
  live: ["cache"],
  empty: "No caches yet.",
  create: {
    path: "/caches",
    submit: "Create cache",
    inline: false,
    fields: [
      { name: "name", label: "Cache name", required: true, placeholder: "sessions" },
      { name: "memory_mb", label: "Memory (MiB)", type: "number", value: "64", min: "16", required: true },
      { name: "persistence", label: "Persistence", type: "select", options: [["aof", "append-only file"], ["rdb", "snapshots"], ["none", "none"]] },
      { name: "public", label: "Publish a host port", type: "checkbox" },
    ],
    body: (v) => ({ name: v.name, memory_mb: v.memory_mb === "" ? undefined : Number(v.memory_mb), persistence: v.persistence, public: v.public }),
    cli: (v) => `cumulo cache create ${shellQuote(v.name || "NAME")} --memory ${v.memory_mb || 64} --persistence ${v.persistence}${v.public ? " --public" : ""}`,
    created: (c) => shownOnce(`Cache "${c.name}" is being created; the password of user ${c.username} is below, and in secret ${c.credentials_secret}.`, c.password),
  },
  columns: [
    { label: "Name", cell: (c) => c.name },
    { label: "Redis", cell: (c) => c.version },
    { label: "Status", cell: (c) => statusBadge(c.status) },
    { label: "Memory", cell: (c) => `${c.memory_mb} MiB, ${c.eviction_policy}` },
    { label: "Endpoint", cell: (c) => endpoint(c.public_endpoint || c.endpoint) },
  ],
  actions: [rowAction("Flush", (c) => `/caches/${enc(c.id)}/flush`)],
  remove: { path: (c) => `/caches/${enc(c.id)}`, name: (c) => c.name },
});

export const routes = [
  { path: "/console/databases", title: "Databases", render: databases },
  { path: "/console/databases/:id", title: "Database", render: database },
  { path: "/console/caches", title: "Caches", render: caches },
];
