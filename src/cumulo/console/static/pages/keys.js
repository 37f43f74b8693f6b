// API keys: create (the key is shown this once), list, revoke. The console's own session is a login key.
import { del, enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { button, confirmDialog, curl, form, pageHeader, shellQuote, snippet, table, toast } from "../lib/ui.js";

export const nav = { label: "API keys", href: "/console/keys" };

async function render({ main }) {
  const created = h("div", { "aria-live": "polite" });
  const body = h("div", {});
  const bodyOf = (v) => {
    const out = { name: v.name || "default" };
    if (v.expires_in_seconds) out.expires_in_seconds = Number(v.expires_in_seconds);
    if (v.read_only) out.scopes = ["read-only"];
    return out;
  };
  const f = form({
    submit: "Create key",
    fields: [
      { name: "name", label: "Key name", required: true, placeholder: "ci" },
      { name: "expires_in_seconds", label: "Expires in (seconds)", type: "number", min: "60", help: "Empty: never." },
      { name: "read_only", label: "Read-only (GET and HEAD only)", type: "checkbox" },
    ],
    onSubmit: async (v) => {
      const key = await post("/auth/keys", bodyOf(v));
      const secret = h("code", { class: "secret", id: "new-key" }, key.key);
      clear(created, h("div", { class: "notice ok", role: "status" },
        h("p", {}, `Key "${key.name}" created. Copy it now: it is shown only this once.`), secret, " ",
        button("Copy key", async () => { try { await navigator.clipboard.writeText(key.key); toast("Copied"); } catch { toast("Select and copy it", "error"); } }, { kind: "small" }),
        button("Done", () => clear(created), { kind: "small" })));
      f.reset();
      await refresh();
    },
    onInput: () => { cli.refresh(); api.refresh(); },
  });
  const cli = snippet("CLI equivalent", () => `cumulo keys create ${shellQuote(f.values().name || "NAME")}`);
  const api = snippet("curl equivalent", () => curl("POST", "/auth/keys", bodyOf(f.values())));
  main.append(pageHeader("API keys"), created, f, cli, api, body);
  const refresh = async () => {
    const rows = await get("/auth/keys");
    clear(body, table([
      { label: "Name", cell: (k) => k.name },
      { label: "Prefix", cell: (k) => h("code", {}, `${k.prefix}…`) },
      { label: "Scopes", cell: (k) => (k.scopes.length ? k.scopes.join(", ") : "all") },
      { label: "Kind", cell: (k) => (k.login ? "login session" : "key") },
      { label: "Last used", cell: (k) => fmtDate(k.last_used) },
      { label: "Expires", cell: (k) => (k.expires_at ? fmtDate(k.expires_at) : "never") },
      { label: "Actions", cell: (k) => button("Revoke", async () => {
        if (!(await confirmDialog(`Revoke key "${k.name}" (${k.prefix}…)? Programs using it stop working.`, { confirm: "Revoke" }))) return;
        try { await del(`/auth/keys/${enc(k.id)}`); toast(`Key ${k.name} revoked`); } catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small danger", title: `Revoke key ${k.name}` }) },
    ], rows));
  };
  await refresh();
}

export const routes = [{ path: "/console/keys", title: "API keys", render }];
