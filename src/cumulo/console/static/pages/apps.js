// Apps (git push hosting) and deployments (replicated instances with rolling updates).
import { enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { collection, rowAction } from "../lib/resource.js";
import { button, confirmDialog, definitionList, errorBox, form, pageHeader, parsePairs, shellQuote, statusBadge, table, toast } from "../lib/ui.js";

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
    { label: "Name", cell: (a) => a.name },
    { label: "Status", cell: (a) => statusBadge(a.status) },
    { label: "Type", cell: (a) => a.app_type || "—" },
    { label: "Release", cell: (a) => (a.release ? `v${a.release}` : "—") },
    { label: "URL", cell: (a) => (a.url ? h("a", { href: a.url, target: "_blank", rel: "noopener" }, a.url) : "—") },
    { label: "Push to", cell: (a) => h("code", {}, `git push ${a.git_remote} ${a.branch}`) },
  ],
  actions: [rowAction("Restart", (a) => `/apps/${enc(a.id)}/restart`)],
  remove: { path: (a) => `/apps/${enc(a.id)}`, name: (a) => a.name, confirm: (a) => `Delete app "${a.name}", its releases and domains?` },
});

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
  main.append(info, h("section", {}, h("h2", {}, "Scale"), scale), h("section", {}, h("h2", {}, "Replicas"), replicas),
    h("section", { "aria-labelledby": "revisions-title" }, h("h2", { id: "revisions-title" }, "Revisions"), revisions));
  const refresh = async () => {
    let d;
    try { d = await get(`/deployments/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    clear(info, pageHeader(d.name, statusBadge(d.status)), definitionList([
      ["Ready", `${d.ready_replicas} of ${d.replicas}`], ["Reason", d.status_reason], ["Revision", d.revision],
      ["Image", d.spec.image], ["Ports", (d.spec.ports || []).join(", ") || "—"], ["Paused", d.paused ? "yes" : "no"],
    ]));
    if (document.activeElement !== scale.inputs.replicas) scale.inputs.replicas.value = d.replicas;
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
  return follow(["deployment", "instance"], refresh);
}

export const routes = [
  { path: "/console/apps", title: "Apps", render: apps },
  { path: "/console/deployments", title: "Deployments", render: deployments },
  { path: "/console/deployments/:id", title: "Deployment", render: deployment },
];
