// Traffic: load balancers (targets with their health, live) and gateway routes.
import { del, enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { collection, editPanel } from "../lib/resource.js";
import { button, confirmDialog, definitionList, errorBox, form, pageHeader, shellQuote, snippet, statusBadge, table, toast } from "../lib/ui.js";

const num = (value) => (value === "" || value === undefined ? undefined : Number(value));

const loadBalancers = collection({
  title: "Load balancers",
  load: () => get("/loadbalancers"),
  live: ["loadbalancer"],
  empty: "No load balancers yet.",
  create: {
    path: "/loadbalancers",
    submit: "Create load balancer",
    inline: false,
    fields: [
      { name: "name", label: "Load balancer name", required: true, placeholder: "web" },
      { name: "algorithm", label: "Algorithm", type: "select", value: "round_robin",
        options: ["round_robin", "least_conn", "ip_hash", "random", "first"] },
      { name: "port", label: "Dedicated port (optional)", type: "number", min: "1", max: "65535",
        help: "Empty: a hostname on the shared HTTP/HTTPS ports." },
      { name: "health_check", label: "Health check path", value: "/" },
    ],
    body: (v) => ({ name: v.name, algorithm: v.algorithm, port: num(v.port), health_check: { path: v.health_check || "/" } }),
    cli: (v) => [`cumulo lb create ${shellQuote(v.name || "NAME")}`, v.algorithm !== "round_robin" && `--algorithm ${v.algorithm}`,
      v.port && `--port ${v.port}`, v.health_check && v.health_check !== "/" && `--health-path ${shellQuote(v.health_check)}`]
      .filter(Boolean).join(" "),
    open: (lb) => `/console/loadbalancers/${enc(lb.id)}`,
  },
  columns: [
    { label: "Name", cell: (lb) => h("a", { href: `/console/loadbalancers/${enc(lb.id)}` }, lb.name) },
    { label: "URL", cell: (lb) => h("code", {}, lb.url) },
    { label: "Algorithm", cell: (lb) => lb.algorithm },
    { label: "In service", cell: (lb) => `${lb.in_service} / ${lb.targets.length}` },
    { label: "Created", cell: (lb) => fmtDate(lb.created_at) },
  ],
  remove: { path: (lb) => `/loadbalancers/${enc(lb.id)}`, name: (lb) => lb.name },
});

const HEALTH = { healthy: "HEALTHY", unhealthy: "UNHEALTHY", draining: "DRAINING", initial: "PENDING", unused: "STOPPED" };

async function loadBalancer({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const targets = h("div", { id: "targets" });
  const instances = await get("/instances").catch(() => []);
  const add = form({
    submit: "Add target",
    className: "inline",
    fields: [
      { name: "instance_id", label: "Instance", type: "select", required: true,
        options: instances.map((i) => [i.id, `${i.name} (${i.status})`]) },
      { name: "port", label: "Port", type: "number", min: "1", max: "65535", required: true, value: "80" },
      { name: "weight", label: "Weight", type: "number", min: "0", max: "999", value: "1" },
    ],
    onSubmit: async (v) => {
      await post(`/loadbalancers/${enc(id)}/targets`, { targets: [{ instance_id: v.instance_id, port: num(v.port), weight: num(v.weight) }] });
      toast("Target added");
      await refresh();
    },
  });
  const editing = editPanel({
    summary: "Edit settings",
    path: (lb) => `/loadbalancers/${enc(lb.id)}`,
    fields: [
      { name: "name", label: "Load balancer name", required: true },
      { name: "algorithm", label: "Algorithm", type: "select",
        options: [["round_robin", "round robin"], ["least_conn", "least connections"], ["ip_hash", "client IP hash"], ["random", "random"], ["first", "first available"]] },
      { name: "hostname", label: "Custom hostname", placeholder: "www.example.com", help: "Empty: the generated one." },
      { name: "deregistration_delay_seconds", label: "Deregistration delay (seconds)", type: "number", min: "0", max: "3600", required: true },
      { name: "health_path", label: "Health check path", placeholder: "/health", from: (lb) => lb.health_check.path },
      { name: "sticky_cookie", label: "Sticky sessions cookie", placeholder: "none", help: "Empty: no stickiness.", from: (lb) => (lb.sticky ? lb.sticky.cookie_name : "") },
    ],
    body: (changed) => {
      const body = {};
      for (const k of ["name", "algorithm"]) if (changed[k] !== undefined) body[k] = changed[k];
      if (changed.hostname !== undefined) body.hostname = changed.hostname || null;
      if (changed.deregistration_delay_seconds !== undefined) body.deregistration_delay_seconds = num(changed.deregistration_delay_seconds);
      if (changed.health_path !== undefined) body.health_check = { path: changed.health_path };
      if (changed.sticky_cookie !== undefined) body.sticky = changed.sticky_cookie ? { cookie_name: changed.sticky_cookie } : null;
      return body;
    },
    cli: (changed, lb) => [`cumulo lb update ${shellQuote(lb.name)}`,
      changed.name ? `--name ${shellQuote(changed.name)}` : "", changed.algorithm ? `--algorithm ${changed.algorithm}` : "",
      changed.hostname ? `--hostname ${shellQuote(changed.hostname)}` : "",
      changed.deregistration_delay_seconds !== undefined ? `--deregistration-delay ${changed.deregistration_delay_seconds}` : "",
      changed.health_path ? `--health-path ${shellQuote(changed.health_path)}` : "",
      changed.sticky_cookie ? `--sticky ${shellQuote(changed.sticky_cookie)}` : ""].filter(Boolean).join(" "),
    saved: () => refresh(),
  });
  const refresh = async () => {
    let lb;
    try { lb = await get(`/loadbalancers/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    editing.update(lb);
    const hc = lb.health_check;
    clear(info, pageHeader(lb.name), definitionList([
      ["URL", h("code", {}, lb.url)], ["Algorithm", lb.algorithm], ["Status", lb.status_message],
      ["Health check", `GET ${hc.path} every ${hc.interval_seconds} s, ${hc.matcher} is healthy`],
      ["Sticky", lb.sticky ? `cookie ${lb.sticky.cookie_name}` : "no"],
      ["Deregistration delay", `${lb.deregistration_delay_seconds} s`],
    ]));
    const names = new Map(instances.map((i) => [i.id, i.name]));
    clear(targets, table([
      { label: "Instance", cell: (t) => h("a", { href: `/console/instances/${enc(t.instance_id)}` }, names.get(t.instance_id) || t.instance_id) },
      { label: "Port", cell: (t) => String(t.port) },
      { label: "Weight", cell: (t) => String(t.weight) },
      { label: "Health", cell: (t) => h("span", {}, statusBadge(HEALTH[t.health] || t.health), " ", t.health) },
      { label: "Reason", cell: (t) => t.reason || "—" },
      { label: "Actions", cell: (t) => button("Remove", async () => {
        const label = `${names.get(t.instance_id) || t.instance_id}:${t.port}`;
        if (!(await confirmDialog(`Remove target ${label}? It drains first.`, { confirm: "Remove" }))) return;
        try { await del(`/loadbalancers/${enc(id)}/targets/${enc(t.id)}`); toast(`${label} removed`); }
        catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small danger", title: `Remove target ${names.get(t.instance_id) || t.instance_id}:${t.port}` }) },
    ], lb.targets, { empty: "No targets yet: add an instance below." }));
  };
  main.append(h("p", {}, h("a", { href: "/console/loadbalancers" }, "← All load balancers")), info, editing,
    h("section", { "aria-labelledby": "targets-title" }, h("h2", { id: "targets-title" }, "Targets"), targets),
    h("section", { "aria-labelledby": "add-title" }, h("h2", { id: "add-title" }, "Add a target"),
      instances.length ? add : h("p", { class: "empty" }, "Launch an instance first."),
      snippet("CLI equivalent", () => `cumulo lb targets add ${id} ${add.values().instance_id || "INSTANCE"}:${add.values().port || "PORT"}`)));
  await refresh();
  const stop = follow(["loadbalancer", "instance"], refresh);
  const timer = setInterval(refresh, 5000); // health checks change targets without an audit event
  return () => { stop(); clearInterval(timer); };
}

const routesPage = collection({
  title: "Routes",
  load: () => get("/routes"),
  live: ["route"],
  empty: "No gateway routes yet.",
  create: {
    path: "/routes",
    submit: "Create route",
    inline: false,
    fields: [
      { name: "name", label: "Route name", required: true, placeholder: "api" },
      { name: "target", label: "Target", required: true, placeholder: "http://10.0.0.5:8080, instance:ID:PORT or loadbalancer:ID" },
      { name: "prefix", label: "Path prefix", value: "/" },
      { name: "strip_prefix", label: "Strip the prefix upstream", type: "checkbox" },
      { name: "require_api_key", label: "Require an API key", type: "checkbox" },
      { name: "rate_limit", label: "Rate limit (requests/s per client)", type: "number", min: "0", step: "any" },
    ],
    body: (v) => ({ name: v.name, target: v.target, prefix: v.prefix || "/", strip_prefix: v.strip_prefix,
      require_api_key: v.require_api_key, rate_limit: num(v.rate_limit) }),
    cli: (v) => [`cumulo routes create ${shellQuote(v.name || "NAME")} --target ${shellQuote(v.target || "TARGET")}`,
      v.prefix && v.prefix !== "/" && `--prefix ${shellQuote(v.prefix)}`, v.strip_prefix && "--strip-prefix",
      v.require_api_key && "--require-api-key", v.rate_limit && `--rate-limit ${v.rate_limit}`].filter(Boolean).join(" "),
  },
  columns: [
    { label: "Name", cell: (r) => r.name },
    { label: "URL", cell: (r) => h("a", { href: r.url, target: "_blank", rel: "noopener" }, r.url) },
    { label: "Prefix", cell: (r) => h("code", {}, r.prefix) },
    { label: "Target", cell: (r) => h("code", {}, r.target) },
    { label: "API key", cell: (r) => (r.require_api_key ? "required" : "no") },
    { label: "Created", cell: (r) => fmtDate(r.created_at) },
  ],
  remove: { path: (r) => `/routes/${enc(r.id)}`, name: (r) => r.name },
});

export const routes = [
  { path: "/console/loadbalancers", title: "Load balancers", render: loadBalancers },
  { path: "/console/loadbalancers/:id", title: "Load balancer", render: loadBalancer },
  { path: "/console/routes", title: "Routes", render: routesPage },
];
