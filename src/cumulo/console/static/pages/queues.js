// Queues: create, stats, send, receive (or peek: received with no visibility timeout), delete.
import { del, enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { collection, editPanel } from "../lib/resource.js";
import { button, definitionList, errorBox, form, pageHeader, shellQuote, snippet, table, toast } from "../lib/ui.js";

function numbers(v, names) {
  const out = {};
  for (const name of names) if (v[name] !== "" && v[name] !== undefined) out[name] = Number(v[name]);
  return out;
}

const list = collection({
  title: "Queues",
  paged: { path: "/queues", what: "queues", placeholder: "queue name" },
  live: ["queue"],
  empty: "No queues yet.",
  create: {
    path: "/queues",
    submit: "Create queue",
    fields: [
      { name: "name", label: "New queue name", required: true, placeholder: "jobs" },
      { name: "visibility_timeout", label: "Visibility timeout (s)", type: "number", min: "0" },
      { name: "delay_seconds", label: "Delivery delay (s)", type: "number", min: "0" },
    ],
    body: (v) => ({ name: v.name, ...numbers(v, ["visibility_timeout", "delay_seconds"]) }),
    cli: (v) => [`cumulo queues create ${shellQuote(v.name || "NAME")}`, v.visibility_timeout && `--visibility-timeout ${v.visibility_timeout}`,
      v.delay_seconds && `--delay ${v.delay_seconds}`].filter(Boolean).join(" "),
  },
  columns: [
    { label: "Name", cell: (q) => h("a", { href: `/console/queues/${enc(q.id)}` }, q.name) },
    { label: "Visibility timeout", cell: (q) => `${q.visibility_timeout} s` },
    { label: "Created", cell: (q) => fmtDate(q.created_at) },
  ],
  remove: { path: (q) => `/queues/${enc(q.id)}`, name: (q) => q.name, confirm: (q) => `Delete queue "${q.name}" and its messages?` },
});

async function detail({ main, params }) {
  const id = params.id;
  let queue;
  try { queue = await get(`/queues/${enc(id)}`); } catch (error) { main.append(errorBox(error)); return undefined; }
  const stats = h("div", {});
  const received = h("div", { id: "received", "aria-live": "polite" });
  const send = form({
    submit: "Send message",
    fields: [
      { name: "body", label: "Message body", type: "textarea", rows: 3, required: true },
      { name: "delay_seconds", label: "Delay (s)", type: "number", min: "0" },
    ],
    onSubmit: async (v) => {
      const out = await post(`/queues/${enc(id)}/messages`, { body: v.body, ...numbers(v, ["delay_seconds"]) });
      toast(`Message ${out.message_id || ""} sent`);
      send.inputs.body.value = "";
      await refreshStats();
    },
  });
  const receive = async (peek) => {
    try {
      const messages = await get(`/queues/${enc(id)}/messages?max_messages=10${peek ? "&visibility_timeout=0" : ""}`);
      clear(received, table([
        { label: "Body", cell: (m) => h("pre", { class: "message" }, m.body) },
        { label: "Sent", cell: (m) => fmtDate(m.sent_at) },
        { label: "Receives", cell: (m) => m.received_count },
        { label: "Actions", cell: (m) => button("Delete", async () => {
          try { await del(`/queues/${enc(id)}/messages/${enc(m.receipt_handle)}`); toast("Message deleted"); }
          catch (error) { toast(error.message, "error"); }
          await refreshStats();
        }, { kind: "small danger" }) },
      ], messages, { empty: "No message is visible right now." }));
    } catch (error) { clear(received, errorBox(error)); }
    await refreshStats();
  };
  const refreshStats = async () => {
    try {
      const s = await get(`/queues/${enc(id)}/stats`);
      clear(stats, definitionList(Object.entries(s).filter(([, v]) => typeof v !== "object").map(([k, v]) => [k.replaceAll("_", " "), String(v)])));
    } catch (error) { clear(stats, errorBox(error)); }
  };
  const attrs = [["visibility_timeout", "Visibility timeout (seconds)", "0", "43200"],
    ["retention_seconds", "Retention (seconds)", "60", "1209600"], ["delay_seconds", "Default delay (seconds)", "0", "900"],
    ["receive_wait_seconds", "Receive wait (seconds)", "0", "20"], ["max_message_size", "Largest message (bytes)", "1024", "1048576"]];
  const editing = editPanel({
    summary: "Edit attributes",
    path: (q) => `/queues/${enc(q.id)}`,
    fields: attrs.map(([name, label, min, max]) => ({ name, label, type: "number", min, max, required: true })),
    body: (changed) => Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, v === "" ? v : Number(v)])),
    cli: (changed, q) => [`cumulo queues update ${shellQuote(q.name)}`, ...Object.entries(changed).map(([k, v]) =>
      `--${{ visibility_timeout: "visibility-timeout", retention_seconds: "retention", delay_seconds: "delay", receive_wait_seconds: "wait" }[k] || k} ${v}`)].join(" "),
    saved: async (row) => { queue = row; await refreshStats(); },
  });
  editing.update(queue);
  main.append(pageHeader(queue.name), stats, editing,
    h("section", { "aria-labelledby": "send-title" }, h("h2", { id: "send-title" }, "Send"), send,
      snippet("CLI equivalent", () => `cumulo queues send ${shellQuote(queue.name)} ${shellQuote(send.values().body || "BODY")}`)),
    h("section", { "aria-labelledby": "recv-title" }, h("h2", { id: "recv-title" }, "Receive"),
      h("div", { class: "actions" }, button("Receive messages", () => receive(false), { kind: "primary" }),
        button("Peek (stay visible)", () => receive(true))), received));
  await refreshStats();
  return undefined;
}

export const routes = [
  { path: "/console/queues", title: "Queues", render: list },
  { path: "/console/queues/:id", title: "Queue", render: detail },
];
