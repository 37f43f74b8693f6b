// API keys: create (the key is shown this once), list, revoke. The console's own session is a login key.
import { enc, get } from "../lib/api.js";
import { fmtDate, h } from "../lib/dom.js";
import { collection, shownOnce } from "../lib/resource.js";
import { shellQuote } from "../lib/ui.js";

const render = collection({
  title: "API keys",
  load: () => get("/auth/keys"),
  create: {
    path: "/auth/keys",
    submit: "Create key",
    inline: false,
    fields: [
      { name: "name", label: "Key name", required: true, placeholder: "ci" },
      { name: "expires_in_seconds", label: "Expires in (seconds)", type: "number", min: "60", help: "Empty: never." },
      { name: "read_only", label: "Read-only (GET and HEAD only)", type: "checkbox" },
    ],
    body: (v) => {
      const out = { name: v.name || "default" };
      if (v.expires_in_seconds) out.expires_in_seconds = Number(v.expires_in_seconds);
      if (v.read_only) out.scopes = ["read-only"];
      return out;
    },
    cli: (v) => `cumulo keys create ${shellQuote(v.name || "NAME")}`,
    created: (key) => shownOnce(`Key "${key.name}" created.`, key.key, "new-key"),
  },
  columns: [
    { label: "Name", cell: (k) => k.name },
    { label: "Prefix", cell: (k) => h("code", {}, `${k.prefix}…`) },
    { label: "Scopes", cell: (k) => (k.scopes.length ? k.scopes.join(", ") : "all") },
    { label: "Kind", cell: (k) => (k.login ? "login session" : "key") },
    { label: "Last used", cell: (k) => fmtDate(k.last_used) },
    { label: "Expires", cell: (k) => (k.expires_at ? fmtDate(k.expires_at) : "never") },
  ],
  remove: { path: (k) => `/auth/keys/${enc(k.id)}`, name: (k) => `key ${k.name}`, verb: "Revoke",
    confirm: (k) => `Revoke key "${k.name}" (${k.prefix}…)? Programs using it stop working.` },
});

export const routes = [{ path: "/console/keys", title: "API keys", render }];
