// Topics: list, create, and a topic's page: publish, its subscriptions (the signing secret shown
// once), and each subscription's delivery log with every attempt.
import { enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { collection, removeButton, shownOnce } from "../lib/resource.js";
import { button, errorBox, form, pageHeader, shellQuote, snippet, statusBadge, table, toast } from "../lib/ui.js";

const topics = collection({
  title: "Topics",
  load: () => get("/topics"),
  live: ["topic", "subscription"],
  empty: "No topics yet.",
  create: {
    path: "/topics",
    submit: "Create topic",
    fields: [{ name: "name", label: "New topic name", required: true, placeholder: "orders" }],
    cli: (v) => `cumulo topics create ${shellQuote(v.name || "NAME")}`,
  },
  columns: [
    { label: "Name", cell: (t) => h("a", { href: `/console/topics/${enc(t.id)}` }, t.name) },
    { label: "Subscriptions", cell: (t) => String(t.subscriptions) },
    { label: "Created", cell: (t) => fmtDate(t.created_at) },
  ],
  remove: { path: (t) => `/topics/${enc(t.id)}`, name: (t) => t.name, confirm: (t) => `Delete topic "${t.name}" and its subscriptions?` },
});

function deliveryLog(rows) {
  return table([
    { label: "Message", cell: (d) => h("code", {}, d.message_id.slice(0, 12)) },
    { label: "Status", cell: (d) => statusBadge(d.status) },
    { label: "Attempts", cell: (d) => String(d.attempts) },
    { label: "Last answer", cell: (d) => d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "—") },
    { label: "Log", cell: (d) => h("ul", { class: "log" }, d.log.map((a) =>
      h("li", {}, `#${a.attempt} ${fmtDate(a.at)}: ${a.error || (a.status_code ? `HTTP ${a.status_code}` : "ok")} (${a.latency_ms} ms)`))) },
    { label: "Created", cell: (d) => fmtDate(d.created_at) },
  ], rows, { empty: "Nothing delivered yet." });
}

async function topic({ main, params }) {
  const id = params.id;
  let t;
  try { t = await get(`/topics/${enc(id)}`); } catch (error) { main.append(errorBox(error)); return undefined; }
  const subs = h("div", { id: "subscriptions" });
  const log = h("section", { id: "deliveries", "aria-live": "polite" });
  const shown = h("div", { "aria-live": "polite" });
  let open = null; // the subscription whose delivery log is shown
  const showLog = async (sub) => {
    open = sub;
    try {
      const rows = await get(`/subscriptions/${enc(sub.id)}/deliveries`);
      clear(log, h("h2", {}, `Delivery log: ${sub.protocol} ${sub.endpoint}`), deliveryLog(rows));
    } catch (error) { clear(log, errorBox(error)); }
  };
  const refresh = async () => {
    const rows = await get(`/topics/${enc(id)}/subscriptions`).catch(() => []);
    clear(subs, table([
      { label: "Protocol", cell: (s) => s.protocol },
      { label: "Endpoint", cell: (s) => h("code", {}, s.endpoint) },
      { label: "Raw", cell: (s) => (s.raw_message_delivery ? "yes" : "no") },
      { label: "Filter", cell: (s) => (s.filter_policy ? h("code", {}, JSON.stringify(s.filter_policy)) : "—") },
      { label: "Actions", cell: (s) => h("div", { class: "row-actions" },
        button("Delivery log", () => showLog(s), { kind: "small", title: `Delivery log of ${s.endpoint}` }),
        removeButton({ path: (x) => `/subscriptions/${enc(x.id)}`, name: (x) => x.endpoint }, s, refresh)) },
    ], rows, { empty: "No subscriptions yet." }));
    if (open && rows.some((s) => s.id === open.id)) await showLog(open); else if (open) { open = null; clear(log); }
  };
  const publish = form({
    submit: "Publish",
    fields: [
      { name: "message", label: "Message", type: "textarea", rows: 3, required: true },
      { name: "subject", label: "Subject" },
    ],
    onSubmit: async (v) => {
      const out = await post(`/topics/${enc(id)}/publish`, { message: v.message, subject: v.subject || undefined });
      toast(`Published to ${out.deliveries} subscription(s)`);
      publish.inputs.message.value = "";
      await refresh();
    },
  });
  const subscribe = form({
    submit: "Subscribe",
    className: "inline",
    fields: [
      { name: "protocol", label: "Protocol", type: "select", options: [["webhook", "Webhook (HTTPS/HTTP)"], ["queue", "Queue"]], value: "webhook" },
      { name: "endpoint", label: "Endpoint (URL or queue name)", required: true },
      { name: "raw_message_delivery", label: "Raw message (no envelope)", type: "checkbox" },
    ],
    onSubmit: async (v) => {
      const sub = await post(`/topics/${enc(id)}/subscriptions`, v);
      clear(shown, shownOnce("The signing secret of this subscription (X-Cumulo-Signature).", sub.signing_secret, "signing-secret"));
      subscribe.inputs.endpoint.value = "";
      await refresh();
    },
  });
  main.append(h("p", {}, h("a", { href: "/console/topics" }, "← All topics")), pageHeader(t.name),
    h("section", { "aria-labelledby": "pub-title" }, h("h2", { id: "pub-title" }, "Publish"), publish,
      snippet("CLI equivalent", () => `cumulo topics publish ${shellQuote(t.name)} ${shellQuote(publish.values().message || "MESSAGE")}`)),
    h("section", { "aria-labelledby": "subs-title" }, h("h2", { id: "subs-title" }, "Subscriptions"), subscribe,
      snippet("CLI equivalent", () => `cumulo subscriptions create ${shellQuote(t.name)} --protocol ${subscribe.values().protocol} --endpoint ${shellQuote(subscribe.values().endpoint || "ENDPOINT")}`),
      shown, subs),
    log);
  await refresh();
  const stop = follow(["topic", "subscription"], refresh);
  const timer = setInterval(() => (open ? showLog(open) : null), 3000); // deliveries are no audit events
  return () => { stop(); clearInterval(timer); };
}

export const routes = [
  { path: "/console/topics", title: "Topics", render: topics },
  { path: "/console/topics/:id", title: "Topic", render: topic },
];
