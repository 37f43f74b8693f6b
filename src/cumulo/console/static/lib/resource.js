// A service's collection page in a few lines: an optional create form (with its CLI and curl
// equivalents), the table of the caller's resources with a confirmed delete per row, and live
// refresh on the events of the given resource types. Pages describe; this draws.
import { del, getPage, post, request } from "./api.js";
import { clear, h, uid } from "./dom.js";
import { follow } from "./live.js";
import { button, confirmDialog, curl, form, pageHeader, pager, snippet, table, toast } from "./ui.js";

// spec: {title, load: () => rows, columns, empty, live: [resource types], actions: [(row, refresh) => node],
//        create: {path, fields, submit, body(v), cli(v), send(v)?, created(row, v)? -> node shown once, inline},
//        remove: {path(row), name(row), confirm(row)?, verb?}, intro?: node}
// paged: {path, size?, what?}: the API searches and pages the list (?q=&limit=&offset=, X-Total-Count):
// a filter box and Previous/Next instead of loading every row (`load` is then not used).
export function collection(spec) {
  return async function render(ctx) {
    const { main } = ctx;
    const body = h("div", {});
    const pages = h("div", {});
    const shown = h("div", { "aria-live": "polite" });
    const paged = spec.paged;
    const size = paged ? paged.size || 50 : 0;
    let offset = 0;
    let asked = 0;
    const filter = paged ? h("input", { type: "search", id: uid("filter"), placeholder: paged.placeholder || "name" }) : null;
    const refresh = async () => {
      const turn = ++asked;
      let rows;
      let total = 0;
      if (paged) {
        const got = await getPage(paged.path, { q: filter.value.trim(), limit: size, offset });
        if (turn !== asked) return;
        if (!got.rows.length && offset > 0 && got.total > 0) { offset = Math.floor((got.total - 1) / size) * size; await refresh(); return; }
        ({ rows, total } = got);
      } else {
        rows = await spec.load(ctx);
      }
      const columns = [...spec.columns];
      if (spec.remove || spec.actions) {
        columns.push({ label: "Actions", cell: (row) => h("div", { class: "row-actions" },
          (spec.actions || []).map((make) => make(row, refresh)),
          spec.remove ? removeButton(spec.remove, row, refresh) : null) });
      }
      const empty = paged && filter.value.trim() ? "Nothing matches the filter." : spec.empty || "Nothing here yet.";
      clear(body, table(columns, rows, { empty }));
      if (paged) clear(pages, pager({ offset, limit: size, total, shown: rows.length, what: paged.what || "", go: (to) => { offset = to; refresh(); } }));
    };
    main.append(pageHeader(spec.title, ...(spec.headerActions || [])), spec.intro || "");
    if (spec.create) main.append(createForm(spec.create, shown, refresh, ctx));
    let typing = null;
    if (paged) {
      filter.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { offset = 0; refresh(); }, 200); });
      main.append(h("div", { class: "toolbar" }, h("label", { for: filter.id }, "Filter"), filter));
    }
    main.append(shown, body, pages);
    await refresh();
    const unfollow = spec.live ? follow(spec.live, refresh) : null;
    return () => { if (unfollow) unfollow(); clearTimeout(typing); };
  };
}

function createForm(create, shown, refresh, ctx) {
  const body = create.body || ((v) => v);
  const f = form({
    submit: create.submit || "Create",
    className: create.inline === false ? "" : "inline",
    fields: create.fields,
    onSubmit: async (v) => {
      const row = create.send ? await create.send(v, ctx) : await post(create.path, body(v));
      toast(`${row.name || "Resource"} created`);
      clear(shown, create.created ? create.created(row, v) : null);
      if (create.open) { ctx.navigate(create.open(row)); return; }
      f.reset();
      await refresh();
      snippets.forEach((s) => s.refresh());
    },
    onInput: () => snippets.forEach((s) => s.refresh()),
  });
  const snippets = [];
  if (create.cli) snippets.push(snippet("CLI equivalent", () => create.cli(f.values())));
  if (create.path && create.curl !== false) snippets.push(snippet("curl equivalent", () => curl("POST", create.path, body(f.values()))));
  const box = h("div", { class: "create" }, f, snippets);
  box.form = f;
  return box;
}

export function removeButton(remove, row, refresh) {
  const name = remove.name(row);
  const verb = remove.verb || "Delete";
  return button(verb, async () => {
    const message = remove.confirm ? remove.confirm(row) : `${verb} "${name}"?`;
    if (!(await confirmDialog(message, { confirm: verb }))) return;
    try { await del(remove.path(row)); toast(`${name}: ${verb.toLowerCase()}d`); } catch (error) { toast(error.message, "error"); }
    await refresh();
  }, { kind: "small danger", title: `${verb} ${name}` });
}

// A row action that POSTs to `path(row)` (start, stop, reboot...).
export function rowAction(label, path, when = () => true) {
  return (row, refresh) => (when(row) ? button(label, async () => {
    try { await post(path(row)); } catch (error) { toast(error.message, "error"); }
    await refresh();
  }, { kind: "small", title: `${label} ${row.name}` }) : null);
}

// Shown once after a create that answers a secret (a database's password, an API key).
export function shownOnce(what, value, id = "shown-once") {
  const code = h("code", { class: "secret", id }, value);
  const box = h("div", { class: "notice ok", role: "status" },
    h("p", {}, `${what} Copy it now: it is shown only this once.`), code, " ",
    button("Copy", async () => {
      try { await navigator.clipboard.writeText(value); toast("Copied"); } catch { toast("Select and copy it", "error"); }
    }, { kind: "small" }),
    button("Done", () => box.remove(), { kind: "small" }));
  return box;
}

// An edit form for a resource the API can update (PUT/PATCH): a collapsed "Edit" panel whose fields
// are filled from the resource as it is when opened; on save, only the fields that changed are sent
// (`body(changed, values, current)` may reshape them), the API's messages shown at the fields.
// spec: {summary?, method?: "PATCH", path: (current) => url, fields: [{name, label, ..., from?(current)}],
//        body?, submit?, cli?(changed, current), saved?(row)}
export function editPanel(spec) {
  let current = null;
  const valueOf = (f, row) => {
    const raw = f.from ? f.from(row) : row[f.name];
    return raw === null || raw === undefined ? "" : raw;
  };
  const changedFrom = (v) => {
    const changed = {};
    for (const f of spec.fields) {
      const before = current ? valueOf(f, current) : "";
      if (f.type === "checkbox" ? Boolean(v[f.name]) !== Boolean(before) : String(v[f.name]) !== String(before)) changed[f.name] = v[f.name];
    }
    return changed;
  };
  const method = spec.method || "PATCH";
  const bodyOf = (v) => { const changed = changedFrom(v); return spec.body ? spec.body(changed, v, current) : changed; };
  const f = form({
    submit: spec.submit || "Save changes",
    fields: spec.fields,
    onSubmit: async (v) => {
      const body = bodyOf(v);
      if (!Object.keys(body).length) { toast("Nothing changed"); return; }
      const row = await request(method, spec.path(current), { json: body });
      toast(`${(row && row.name) || "Changes"} saved`);
      if (row && typeof row === "object" && row.id) current = row;
      panel.open = false;
      if (spec.saved) await spec.saved(row);
    },
    onInput: () => snippets.forEach((s) => s.refresh()),
  });
  const snippets = [snippet("curl equivalent", () => (current ? curl(method, spec.path(current), bodyOf(f.values())) : ""))];
  if (spec.cli) snippets.unshift(snippet("CLI equivalent", () => (current ? spec.cli(changedFrom(f.values()), current) : "")));
  let filled = false;
  const fill = () => {
    if (!current) return;
    filled = true;
    for (const field of spec.fields) {
      const input = f.inputs[field.name];
      if (field.type === "checkbox") input.checked = Boolean(valueOf(field, current));
      else input.value = valueOf(field, current);
    }
    snippets.forEach((s) => s.refresh());
  };
  const panel = h("details", { class: "edit" }, h("summary", {}, spec.summary || "Edit settings"), f, snippets);
  panel.addEventListener("toggle", () => { if (panel.open) { fill(); const first = f.querySelector("input, select, textarea"); if (first) first.focus(); } });
  // opened before the resource was read: filled once it is; open and filled: the user's edits stay
  panel.update = (row) => { current = row; if (!panel.open || !filled) fill(); };
  panel.form = f;
  return panel;
}
