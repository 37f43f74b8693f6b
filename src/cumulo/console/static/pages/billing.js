// Billing (balance, usage by service and by day, invoices, transactions) and the audit events:
// read-only pages.
import { enc, get, put } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { definitionList, errorBox, form, pageHeader, statusBadge, table, toast } from "../lib/ui.js";

const scalar = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));

// Any JSON the API answers: an object as a definition list, a list of objects as a table.
function view(value, empty = "Nothing yet.") {
  if (Array.isArray(value)) {
    if (!value.length) return h("p", { class: "empty" }, empty);
    const keys = Object.keys(value[0]).filter((k) => typeof value[0][k] !== "object" || value[0][k] === null).slice(0, 7);
    return table(keys.map((k) => ({ label: k.replaceAll("_", " "), cell: (row) => (k.endsWith("_at") ? fmtDate(row[k]) : scalar(row[k])) })), value);
  }
  if (value && typeof value === "object") {
    return definitionList(Object.entries(value).filter(([, v]) => !Array.isArray(v)).map(([k, v]) => [k.replaceAll("_", " "), scalar(v)]));
  }
  return h("p", {}, scalar(value));
}

// Bars of a number per label (usage per day), drawn with widths, no chart library.
function bars(rows, label, amount) {
  const max = Math.max(...rows.map(amount), 0) || 1;
  return h("ul", { class: "bars", "aria-label": "Usage per day" }, rows.map((row) => {
    const bar = h("span", { class: "bar" });
    bar.style.width = `${(100 * amount(row)) / max}%`;
    return h("li", {}, h("span", { class: "bar-label" }, label(row)), bar, h("span", { class: "bar-value" }, scalar(amount(row))));
  }));
}

function money(row) {
  for (const key of ["amount", "cost", "total", "charge", "charges"]) if (typeof row[key] === "number") return row[key];
  return 0;
}

// The plans, and a form to choose one (PUT /billing/subscription), with an optional monthly budget.
async function planForm(main, current) {
  const plans = await get("/billing/plans").catch(() => []);
  const catalogue = current ? null : view(plans, "No plans are defined.");
  const f = form({
    submit: current ? "Change plan" : "Choose plan",
    className: "inline",
    fields: [
      { name: "plan", label: "Plan", type: "select", value: current?.plan,
        options: plans.map((p) => [p.id, `${p.name || p.id}${p.price !== undefined ? ` (${p.price}/month)` : ""}`]) },
      { name: "budget", label: "Monthly budget (credits)", type: "number", min: "0", help: "Empty: none." },
    ],
    onSubmit: async (v) => {
      const body = { plan: v.plan };
      if (v.budget !== "") body.budget = Number(v.budget);
      await put("/billing/subscription", body);
      toast("Plan saved");
      main.replaceChildren();
      await billing({ main });
    },
  });
  return h("div", {}, catalogue, f);
}

async function billing({ main }) {
  main.append(pageHeader("Billing"));
  const section = (title, node) => main.append(h("section", {}, h("h2", {}, title), node));
  const subscription = await get("/billing/subscription").catch((error) => error); // opens the default plan's account
  if (subscription instanceof Error) { section("Plan", errorBox(subscription)); return; }
  if (!subscription.plan) { section("Choose a plan", await planForm(main, null)); return; }
  const load = async (path) => { try { return await get(path); } catch (error) { return error; } };
  const [byService, byDay, invoices, transactions] = await Promise.all([
    load("/billing/usage?group_by=service"), load("/billing/usage?group_by=day"), load("/billing/invoices"),
    load("/billing/transactions?limit=20")]);
  const show = (value, empty) => (value instanceof Error ? errorBox(value) : view(value, empty));
  section("Plan and balance", view(subscription));
  section("Change plan", await planForm(main, subscription));
  const items = (u) => (u && !(u instanceof Error) ? u.items || u.groups || u.usage || [] : []);
  section("Usage this month by service", byService instanceof Error ? errorBox(byService) : view(items(byService), "No usage yet this month."));
  const days = items(byDay);
  if (days.length) section("Usage per day", bars(days, (d) => d.day || d.key || d.date || "", money));
  section("Invoices", show(invoices, "No invoices yet."));
  section("Recent transactions", show(transactions, "No transactions yet."));
}

async function events({ main, query }) {
  const action = h("input", { id: "event-action", type: "search", value: query.get("action") || "", placeholder: "instance.launched" });
  const resource = h("input", { id: "event-resource", type: "search", value: query.get("resource_id") || "", placeholder: "resource id" });
  const body = h("div", {});
  const refresh = async () => {
    const params = new URLSearchParams({ limit: "200" });
    if (action.value.trim()) params.set("action", action.value.trim());
    if (resource.value.trim()) params.set("resource_id", resource.value.trim());
    try {
      clear(body, table([
        { label: "When", cell: (e) => fmtDate(e.created_at) }, { label: "Action", cell: (e) => e.action },
        { label: "Type", cell: (e) => e.resource_type },
        { label: "Resource", cell: (e) => e.data?.name || e.resource_id || "—" },
        { label: "Details", cell: (e) => h("code", {}, JSON.stringify(e.data || {})) },
      ], await get(`/events?${params}`), { empty: "No events match." }));
    } catch (error) { clear(body, errorBox(error)); }
  };
  const filters = h("form", { class: "form inline", onsubmit: (e) => { e.preventDefault(); refresh(); } },
    h("div", { class: "field" }, h("label", { for: "event-action" }, "Action"), action),
    h("div", { class: "field" }, h("label", { for: "event-resource" }, "Resource id"), resource),
    h("div", { class: "actions" }, h("button", { class: "btn primary", type: "submit" }, "Filter")));
  main.append(pageHeader("Events"), filters, body);
  await refresh();
  return follow(["instance", "volume", "bucket", "queue", "function", "secret", "apikey", "user", "vpc", "subnet",
    "database", "cache", "app", "deployment"], refresh);
}

export const routes = [
  { path: "/console/billing", title: "Billing", render: billing },
  { path: "/console/events", title: "Events", render: events },
];
