// Secrets: values stay hidden until revealed (each reveal is a read, audited by the API).
import { encPath, get, put } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { collection } from "../lib/resource.js";
import { button, curl, form, shellQuote, statusBadge, toast } from "../lib/ui.js";

// What was revealed stays shown while the page is open (a reveal is audited, and that event redraws
// the list), for the version revealed; "Hide" forgets it.
const revealed = new Map();
function reveal(s) {
  const key = `${s.name}@${s.version}`;
  const slot = h("span", { class: "hidden-value" }, "••••••••");
  const show = (value) => clear(slot, h("code", {}, value));
  if (revealed.has(key)) {
    show(revealed.get(key));
    return h("span", {}, slot, " ", button("Hide", () => { revealed.delete(key); clear(slot, "••••••••"); }, { kind: "small", title: `Hide ${s.name}` }));
  }
  return h("span", {}, slot, " ", button("Reveal", async () => {
    try { const full = await get(`/secrets/${encPath(s.name)}`); revealed.set(`${s.name}@${full.version}`, full.value); show(full.value); }
    catch (error) { toast(error.message, "error"); }
  }, { kind: "small", title: `Reveal ${s.name}` }));
}

// A new value (a new version; the old one stays readable by version) in a dialog, the API's messages
// at its fields: PUT /secrets/{name} {value, description}.
function newValue(s, refresh) {
  return button("New value", () => {
    const dialog = h("dialog", { class: "confirm", "aria-label": `New value of ${s.name}` });
    const f = form({
      submit: "Save new version",
      fields: [
        { name: "value", label: "New value", type: "password", required: true, autocomplete: "off" },
        { name: "description", label: "Secret description", value: s.description || "" },
      ],
      onSubmit: async (v) => {
        const saved = await put(`/secrets/${encPath(s.name)}`, { value: v.value, description: v.description });
        toast(`${s.name}: version ${saved.version}`);
        dialog.close();
        await refresh();
      },
    });
    const cancel = button("Cancel", () => dialog.close());
    f.querySelector(".actions").append(cancel);
    dialog.append(h("h2", {}, `New value of ${s.name}`), f,
      h("p", { class: "help" }, `CLI: cumulo secrets put ${shellQuote(s.name)} < value.txt`));
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
    f.inputs.value.focus();
  }, { kind: "small", title: `New value of ${s.name}` });
}

const list = collection({
  title: "Secrets",
  paged: { path: "/secrets", what: "secrets", placeholder: "name or description" },
  live: ["secret"],
  empty: "No secrets yet.",
  create: {
    path: "/secrets",
    submit: "Create secret",
    inline: false,
    curl: false,
    fields: [
      { name: "name", label: "Secret name", required: true, placeholder: "db/password" },
      { name: "value", label: "Value", type: "password", required: true, autocomplete: "off" },
      { name: "description", label: "Description" },
    ],
    cli: (v) => `cumulo secrets create ${shellQuote(v.name || "NAME")} < value.txt\n\n${curl("POST", "/secrets", { name: v.name, value: "VALUE" })}`,
  },
  columns: [
    { label: "Name", cell: (s) => s.name },
    { label: "Description", cell: (s) => s.description || "—" },
    { label: "Version", cell: (s) => s.version },
    { label: "Status", cell: (s) => statusBadge(s.status) },
    { label: "Value", cell: reveal },
    { label: "Last read", cell: (s) => fmtDate(s.last_accessed_at) },
  ],
  actions: [newValue],
  remove: { path: (s) => `/secrets/${encPath(s.name)}`, name: (s) => s.name, confirm: (s) => `Schedule secret "${s.name}" for deletion?` },
});

// revealed values are forgotten when the page is opened again (and when it is left: a new render)
async function render(ctx) {
  revealed.clear();
  const cleanup = await list(ctx);
  return () => { revealed.clear(); if (cleanup) cleanup(); };
}

export const routes = [{ path: "/console/secrets", title: "Secrets", render }];
