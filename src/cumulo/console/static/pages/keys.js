// API keys: create (the key is shown this once), list, rotate (the API's POST /auth/keys/{id}/rotate:
// a new secret, same name, scopes and expiry; the new secret shown once), revoke. The console's own
// session is a login key.
import { enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { collection, shownOnce } from "../lib/resource.js";
import { button, confirmDialog, shellQuote, toast } from "../lib/ui.js";

const rotated = h("div", { "aria-live": "polite" });

function rotate(key, refresh) {
  if (key.login) return null; // a login session is not rotated: log in again
  return button("Rotate", async () => {
    const ok = await confirmDialog(`Rotate key "${key.name}" (${key.prefix}…)? The old secret stops working now.`,
      { confirm: "Rotate" });
    if (!ok) return;
    try {
      const fresh = await post(`/auth/keys/${enc(key.id)}/rotate`);
      clear(rotated, shownOnce(`Key "${fresh.name}" rotated.`, fresh.key, "new-key"));
    } catch (error) { toast(error.message, "error"); }
    await refresh();
  }, { kind: "small", title: `Rotate key ${key.name}` });
}

const list = collection({
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
  intro: rotated,
  actions: [rotate],
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

function render(ctx) {
  clear(rotated);
  return list(ctx);
}

export const routes = [{ path: "/console/keys", title: "API keys", render }];
