// Secrets: values stay hidden until revealed (each reveal is a read, audited by the API).
import { del, encPath, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { button, confirmDialog, curl, form, pageHeader, shellQuote, snippet, statusBadge, table, toast } from "../lib/ui.js";

export const nav = { label: "Secrets", href: "/console/secrets" };

async function render({ main }) {
  const body = h("div", {});
  const f = form({
    submit: "Create secret",
    fields: [
      { name: "name", label: "Secret name", required: true, placeholder: "db/password" },
      { name: "value", label: "Value", type: "password", required: true, autocomplete: "off" },
      { name: "description", label: "Description" },
    ],
    onSubmit: async (v) => { await post("/secrets", v); f.reset(); await refresh(); toast(`Secret ${v.name} created`); },
    onInput: () => { cli.refresh(); api.refresh(); },
  });
  const cli = snippet("CLI equivalent", () => `cumulo secrets create ${shellQuote(f.values().name || "NAME")} < value.txt`);
  const api = snippet("curl equivalent", () => curl("POST", "/secrets", { name: f.values().name, value: "VALUE" }));
  main.append(pageHeader("Secrets"), f, cli, api, body);
  const refresh = async () => {
    const rows = await get("/secrets");
    clear(body, table([
      { label: "Name", cell: (s) => s.name },
      { label: "Description", cell: (s) => s.description || "—" },
      { label: "Version", cell: (s) => s.version },
      { label: "Status", cell: (s) => statusBadge(s.status) },
      { label: "Value", cell: (s) => {
        const slot = h("span", { class: "hidden-value" }, "••••••••");
        return h("span", {}, slot, " ", button("Reveal", async () => {
          try { const full = await get(`/secrets/${encPath(s.name)}`); clear(slot, h("code", {}, full.value)); }
          catch (error) { toast(error.message, "error"); }
        }, { kind: "small", title: `Reveal ${s.name}` }));
      } },
      { label: "Last read", cell: (s) => fmtDate(s.last_accessed_at) },
      { label: "Actions", cell: (s) => button("Delete", async () => {
        if (!(await confirmDialog(`Schedule secret "${s.name}" for deletion?`))) return;
        try { await del(`/secrets/${encPath(s.name)}`); toast(`Secret ${s.name} scheduled for deletion`); } catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small danger", title: `Delete secret ${s.name}` }) },
    ], rows, { empty: "No secrets yet." }));
  };
  await refresh();
}

export const routes = [{ path: "/console/secrets", title: "Secrets", render }];
