// Administrators only (the navigation shows it to them; the API answers 403 to anyone else): the
// users (GET /admin/users) with their role, changed with PUT /admin/users/{id}/role after a confirm.
import { enc, get, put } from "../lib/api.js";
import { fmtDate, h } from "../lib/dom.js";
import { collection } from "../lib/resource.js";
import { button, confirmDialog, statusBadge, toast } from "../lib/ui.js";

function roleButton(user, refresh, self) {
  if (user.id === self.id) return null; // an administrator does not demote themself by a click
  const next = user.role === "admin" ? "user" : "admin";
  const label = next === "admin" ? "Make admin" : "Make user";
  return button(label, async () => {
    if (!(await confirmDialog(`Give ${user.email} the role "${next}"?`, { confirm: label, kind: "" }))) return;
    try { await put(`/admin/users/${enc(user.id)}/role`, { role: next }); toast(`${user.email}: ${next}`); }
    catch (error) { toast(error.message, "error"); }
    await refresh();
  }, { kind: "small", title: `${label} ${user.email}` });
}

function render(ctx) {
  return collection({
    title: "Users",
    load: () => get("/admin/users"),
    empty: "No users.",
    columns: [
      { label: "Email", cell: (u) => u.email },
      { label: "Name", cell: (u) => u.name },
      { label: "Role", cell: (u) => statusBadge(u.role) },
      { label: "Email verified", cell: (u) => (u.email_verified ? "yes" : "no") },
      { label: "Signed up", cell: (u) => fmtDate(u.created_at) },
    ],
    actions: [(u, refresh) => roleButton(u, refresh, ctx.user)],
  })(ctx);
}

export const routes = [{ path: "/console/admin/users", title: "Users", render }];
