// Apps (git push hosting) and deployments (replicated instances with rolling updates).
import { eachLine, enc, get, post, request } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { metricsCharts } from "../lib/metrics.js";
import { collection, editPanel, removeButton, rowAction } from "../lib/resource.js";
import {
  button, confirmDialog, definitionList, errorBox, form, pageHeader, pairsText, parsePairs, shellQuote, snippet, statusBadge, table, toast,
} from "../lib/ui.js";

const apps = collection({
  title: "Apps",
  load: () => get("/apps"),
  live: ["app"],
  empty: "No apps yet: create one, then git push to its remote.",
  create: {
    path: "/apps",
    submit: "Create app",
    inline: false,
    fields: [
      { name: "name", label: "App name", required: true, placeholder: "shop" },
      { name: "branch", label: "Branch", value: "main" },
      { name: "git_url", label: "Deploy from a repository (optional)", placeholder: "https://example.com/repo.git" },
      { name: "env_vars", label: "Config vars", type: "textarea", rows: 3, placeholder: "KEY=value, one per line" },
    ],
    body: (v) => ({ name: v.name, branch: v.branch || "main", git_url: v.git_url || undefined, env_vars: parsePairs(v.env_vars) }),
    cli: (v) => [`cumulo apps create ${shellQuote(v.name || "NAME")}`, v.branch && v.branch !== "main" && `--branch ${shellQuote(v.branch)}`,
      v.git_url && `--git-url ${shellQuote(v.git_url)}`,
      ...Object.entries(parsePairs(v.env_vars)).map(([k, val]) => `--env ${shellQuote(`${k}=${val}`)}`)].filter(Boolean).join(" "),
  },
  columns: [
    { label: "Name", cell: (a) => h("a", { href: `/console/apps/${enc(a.id)}` }, a.name) },
    { label: "Status", cell: (a) => statusBadge(a.status) },
    { label: "Type", cell: (a) => a.app_type || "—" },
    { label: "Release", cell: (a) => (a.release ? `v${a.release}` : "—") },
    { label: "URL", cell: (a) => (a.url ? h("a", { href: a.url, target: "_blank", rel: "noopener" }, a.url) : "—") },
    { label: "Push to", cell: (a) => h("code", {}, `git push ${a.git_remote} ${a.branch}`) },
  ],
  actions: [rowAction("Restart", (a) => `/apps/${enc(a.id)}/restart`)],
  remove: { path: (a) => `/apps/${enc(a.id)}`, name: (a) => a.name, confirm: (a) => `Delete app "${a.name}", its releases and domains?` },
});

// An app's page: deploy an archive of the tree (the build log streams in), releases with a confirmed
// rollback, builds and their logs, custom domains.
async function app({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const releases = h("div", { id: "releases" });
  const builds = h("div", { id: "builds" });
  const domains = h("div", { id: "domains" });
  const buildLog = h("pre", { class: "log", id: "app-build-log", tabindex: "0", "aria-label": "Build log", hidden: true });
  const showLog = (text) => { buildLog.hidden = false; buildLog.textContent = text; };
  const upload = form({
    submit: "Deploy archive",
    className: "inline",
    fields: [{ name: "archive", label: "Source archive (.zip, .tar.gz)", type: "file", required: true }],
    onSubmit: async (v) => {
      if (!v.archive) throw Object.assign(new Error("choose an archive"), { fields: [{ field: "archive", message: "choose a .zip, .tar.gz or .tar of the tree" }] });
      const res = await request("POST", `/apps/${enc(id)}/source`, { body: v.archive, raw: true, headers: { "Content-Type": "application/octet-stream" } });
      showLog("");
      await eachLine(res, (item) => {
        if (item.log !== undefined) buildLog.textContent += `${item.log}\n`;
        else if (item.release) toast(`v${item.release.version} is live`);
        else if (item.error) buildLog.textContent += `error: ${item.error.message}\n`;
        buildLog.scrollTop = buildLog.scrollHeight;
      });
      await refresh();
    },
  });
  const domain = form({
    submit: "Add domain",
    className: "inline",
    fields: [{ name: "hostname", label: "Custom domain", required: true, placeholder: "www.example.com" }],
    onSubmit: async (v) => { await post(`/apps/${enc(id)}/domains`, { hostname: v.hostname }); toast(`${v.hostname} added`); domain.inputs.hostname.value = ""; await refresh(); },
  });
  const settings = editPanel({
    summary: "Edit settings",
    path: (a) => `/apps/${enc(a.id)}`,
    fields: [
      { name: "replicas", label: "App replicas", type: "number", min: "1", max: "10", required: true },
      { name: "memory_mb", label: "Memory per replica (MiB)", type: "number", min: "32", max: "8192", required: true },
      { name: "branch", label: "Deployed branch", required: true },
    ],
    body: (changed) => Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, k === "branch" || v === "" ? v : Number(v)])),
    saved: () => refresh(),
  });
  let config = {};
  const vars = editPanel({
    summary: "Config vars (a new release when one is serving)",
    path: (a) => `/apps/${enc(a.id)}/config`,
    fields: [{ name: "vars", label: "Config vars", type: "textarea", rows: 4, placeholder: "NAME=value, one per line", from: () => pairsText(config) }],
    body: (changed) => {
      if (changed.vars === undefined) return {};
      const next = parsePairs(changed.vars);
      const set = Object.fromEntries(Object.entries(next).filter(([k, v]) => config[k] !== v));
      const unset = Object.keys(config).filter((k) => !(k in next));
      return { ...(Object.keys(set).length ? { set } : {}), ...(unset.length ? { unset } : {}) };
    },
    saved: () => refresh(),
  });
  const refresh = async () => {
    let a;
    try { a = await get(`/apps/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    settings.update(a);
    config = await get(`/apps/${enc(id)}/config`).catch(() => ({}));
    vars.update(a);
    clear(info, pageHeader(a.name, statusBadge(a.status)), definitionList([
      ["URL", a.url ? h("a", { href: a.url, target: "_blank", rel: "noopener" }, a.url) : "—"],
      ["Release", a.release ? `v${a.release}` : "—"], ["Type", a.app_type], ["Push to", h("code", {}, `git push ${a.git_remote} ${a.branch}`)],
    ]));
    const [rels, blds] = await Promise.all([get(`/apps/${enc(id)}/releases`).catch(() => []), get(`/apps/${enc(id)}/builds`).catch(() => [])]);
    clear(releases, table([
      { label: "Version", cell: (r) => `v${r.version}` }, { label: "Status", cell: (r) => statusBadge(r.status) },
      { label: "Description", cell: (r) => r.description }, { label: "Revision", cell: (r) => h("code", {}, (r.git_rev || "—").slice(0, 10)) },
      { label: "Created", cell: (r) => fmtDate(r.created_at) },
      { label: "Actions", cell: (r) => (r.current ? "current" : button("Roll back", async () => {
        if (!(await confirmDialog(`Roll ${a.name} back to v${r.version}?`, { confirm: "Roll back", kind: "primary" }))) return;
        try { const out = await post(`/apps/${enc(id)}/rollback`, { release: r.version }); toast(`Rolled back: v${out.version} is live`); }
        catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small", title: `Roll back to v${r.version}` })) },
    ], rels, { empty: "No releases yet: push or deploy an archive." }));
    clear(builds, table([
      { label: "Build", cell: (b) => `#${b.number}` }, { label: "Status", cell: (b) => statusBadge(b.status) },
      { label: "Type", cell: (b) => b.app_type || "—" }, { label: "Error", cell: (b) => b.error || "—" },
      { label: "Started", cell: (b) => fmtDate(b.created_at) },
      { label: "Log", cell: (b) => button("Show log", async () => {
        try { showLog(await get(`/apps/${enc(id)}/builds/${enc(b.id)}/log`)); } catch (error) { toast(error.message, "error"); }
      }, { kind: "small", title: `Show log of build #${b.number}` }) },
    ], blds, { empty: "No builds yet." }));
    clear(domains, table([
      { label: "Domain", cell: (d) => h("code", {}, d.id) },
      { label: "Actions", cell: (d) => removeButton({ path: (x) => `/apps/${enc(id)}/domains/${enc(x.id)}`, name: (x) => x.id, verb: "Remove" }, d, refresh) },
    ], a.domains.map((d) => ({ id: d })), { empty: "No custom domains." }));
  };
  main.append(h("p", {}, h("a", { href: "/console/apps" }, "← All apps")), info, settings, vars,
    h("section", { "aria-labelledby": "deploy-title" }, h("h2", { id: "deploy-title" }, "Deploy"), upload,
      snippet("CLI equivalent", () => `cumulo apps upload ${id} ./site`)),
    h("section", { "aria-labelledby": "releases-title" }, h("h2", { id: "releases-title" }, "Releases"), releases),
    h("section", { "aria-labelledby": "builds-title" }, h("h2", { id: "builds-title" }, "Builds"), builds, buildLog),
    h("section", { "aria-labelledby": "domains-title" }, h("h2", { id: "domains-title" }, "Domains"), domain, domains));
  await refresh();
  return follow(["app"], refresh);
}

const ports = (text) => String(text || "").split(/[ ,]+/).filter(Boolean).map(Number);

const deployments = collection({
  title: "Deployments",
  load: () => get("/deployments"),
  live: ["deployment", "instance"],
  empty: "No deployments yet.",
  create: {
    path: "/deployments",
    submit: "Create deployment",
    inline: false,
    fields: [
      { name: "name", label: "Deployment name", required: true, placeholder: "api" },
      { name: "image", label: "Image", required: true, placeholder: "cumulo/busybox" },
      { name: "replicas", label: "Replicas", type: "number", value: "2", min: "0" },
      { name: "ports", label: "Container ports", placeholder: "80", help: "Comma separated." },
    ],
    body: (v) => ({ name: v.name, image: v.image, replicas: v.replicas === "" ? undefined : Number(v.replicas), ports: ports(v.ports) }),
    cli: (v) => [`cumulo deployments create ${shellQuote(v.name || "NAME")} --image ${shellQuote(v.image || "IMAGE")} --replicas ${v.replicas || 1}`,
      ...ports(v.ports).map((p) => `--port ${p}`)].join(" "),
    open: (d) => `/console/deployments/${enc(d.id)}`,
  },
  columns: [
    { label: "Name", cell: (d) => h("a", { href: `/console/deployments/${enc(d.id)}` }, d.name) },
    { label: "Status", cell: (d) => statusBadge(d.status) },
    { label: "Ready", cell: (d) => `${d.ready_replicas} / ${d.replicas}` },
    { label: "Revision", cell: (d) => d.revision },
  ],
  remove: { path: (d) => `/deployments/${enc(d.id)}`, name: (d) => d.name, confirm: (d) => `Delete deployment "${d.name}" and its replicas?` },
});

async function deployment({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const replicas = h("div", {});
  const scale = form({
    submit: "Scale",
    className: "inline",
    fields: [{ name: "replicas", label: "Replicas", type: "number", min: "0", required: true }],
    onSubmit: async (v) => { await post(`/deployments/${enc(id)}/scale`, { replicas: v.replicas === "" ? undefined : Number(v.replicas) }); toast("Scaling"); await refresh(); },
  });
  const revisions = h("div", { id: "revisions" });
  const charts = h("div", { class: "charts" });
  const editing = editPanel({
    summary: "Change the spec (a rolling update)",
    path: (d) => `/deployments/${enc(d.id)}`,
    fields: [
      { name: "image", label: "Replica image", required: true, from: (d) => d.spec.image },
      { name: "command", label: "Replica command", placeholder: "image default", help: "Run with /bin/sh -c; empty: the image's command.",
        from: (d) => (d.spec.command ? (d.spec.command[0] === "/bin/sh" && d.spec.command[1] === "-c" ? d.spec.command[2] : d.spec.command.join(" ")) : "") },
      { name: "env", label: "Replica environment", type: "textarea", rows: 3, placeholder: "NAME=value, one per line", from: (d) => pairsText(d.spec.env) },
      { name: "cpus", label: "CPUs per replica", type: "number", step: "0.05", min: "0", from: (d) => d.spec.cpus },
      { name: "memory_mb", label: "Memory per replica (MiB)", type: "number", min: "16", from: (d) => d.spec.memory_mb },
    ],
    body: (changed) => {
      const body = {};
      if (changed.image !== undefined) body.image = changed.image;
      if (changed.command !== undefined) body.command = changed.command.trim() ? ["/bin/sh", "-c", changed.command] : null;
      if (changed.env !== undefined) body.env = parsePairs(changed.env);
      if (changed.cpus !== undefined) body.cpus = changed.cpus === "" ? "" : Number(changed.cpus);
      if (changed.memory_mb !== undefined) body.memory_mb = changed.memory_mb === "" ? "" : Number(changed.memory_mb);
      return body;
    },
    cli: (changed, d) => [`cumulo deployments update ${shellQuote(d.name)}`, changed.image ? `--image ${shellQuote(changed.image)}` : "",
      ...(changed.env !== undefined ? Object.entries(parsePairs(changed.env)).map(([k, v]) => `--env ${shellQuote(`${k}=${v}`)}`) : []),
      changed.cpus ? `--cpus ${changed.cpus}` : "", changed.memory_mb ? `--memory ${changed.memory_mb}` : ""].filter(Boolean).join(" "),
    saved: () => refresh(),
  });
  main.append(info, editing, h("section", { "aria-labelledby": "metrics-title" }, h("h2", { id: "metrics-title" }, "Metrics"),
    h("p", { class: "help" }, "CPU and memory of the replicas together (100 % = one CPU)."), charts),
  h("section", {}, h("h2", {}, "Scale"), scale), h("section", {}, h("h2", {}, "Replicas"), replicas),
    h("section", { "aria-labelledby": "revisions-title" }, h("h2", { id: "revisions-title" }, "Revisions"), revisions));
  const refresh = async () => {
    let d;
    try { d = await get(`/deployments/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    clear(info, pageHeader(d.name, statusBadge(d.status)), definitionList([
      ["Ready", `${d.ready_replicas} of ${d.replicas}`], ["Reason", d.status_reason], ["Revision", d.revision],
      ["Image", d.spec.image], ["Ports", (d.spec.ports || []).join(", ") || "—"], ["Paused", d.paused ? "yes" : "no"],
    ]));
    if (document.activeElement !== scale.inputs.replicas) scale.inputs.replicas.value = d.replicas;
    editing.update(d);
    const rows = await get(`/deployments/${enc(id)}/replicas`).catch(() => []);
    clear(replicas, table([
      { label: "Replica", cell: (r) => h("a", { href: `/console/instances/${enc(r.instance_id)}` }, r.name) },
      { label: "Revision", cell: (r) => r.revision }, { label: "State", cell: (r) => statusBadge(r.state) },
      { label: "Health", cell: (r) => r.health },
    ], rows, { empty: "No replicas." }));
    const history = await get(`/deployments/${enc(id)}/revisions`).catch(() => []);
    clear(revisions, table([
      { label: "Revision", cell: (r) => String(r.number) }, { label: "Status", cell: (r) => statusBadge(r.status) },
      { label: "Image", cell: (r) => h("code", {}, r.spec.image || "—") }, { label: "Reason", cell: (r) => r.reason || "—" },
      { label: "Created", cell: (r) => fmtDate(r.created_at) },
      { label: "Actions", cell: (r) => (r.number === d.revision ? "current" : button("Roll back", async () => {
        if (!(await confirmDialog(`Roll ${d.name} back to revision ${r.number} (${r.spec.image})?`, { confirm: "Roll back", kind: "primary" }))) return;
        try { await post(`/deployments/${enc(id)}/rollback`, { revision: r.number }); toast(`Rolling back to revision ${r.number}`); }
        catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small", title: `Roll back to revision ${r.number}` })) },
    ], history, { empty: "No revisions." }));
  };
  await refresh();
  const stopMetrics = metricsCharts(charts, `/deployments/${enc(id)}/metrics`, { cpuMax: 0 });
  const unfollow = follow(["deployment", "instance"], refresh);
  return () => { unfollow(); stopMetrics(); };
}

export const routes = [
  { path: "/console/apps", title: "Apps", render: apps },
  { path: "/console/apps/:id", title: "App", render: app },
  { path: "/console/deployments", title: "Deployments", render: deployments },
  { path: "/console/deployments/:id", title: "Deployment", render: deployment },
];
