// Buckets and objects: browse prefixes like folders, upload with a progress bar, download, delete.
import { del, enc, encPath, get, post, upload } from "../lib/api.js";
import { clear, fmtBytes, fmtDate, h } from "../lib/dom.js";
import { collection } from "../lib/resource.js";
import { button, confirmDialog, errorBox, pageHeader, shellQuote, snippet, table, toast } from "../lib/ui.js";

const list = collection({
  title: "Buckets",
  load: () => get("/storage/buckets"),
  live: ["bucket"],
  empty: "No buckets yet.",
  create: {
    path: "/storage/buckets",
    submit: "Create bucket",
    fields: [{ name: "name", label: "New bucket name", required: true, placeholder: "my-bucket",
      help: "3-63 lowercase letters, digits, dots and dashes; names are global." }],
    cli: (v) => `cumulo storage mb ${shellQuote(v.name || "NAME")}`,
  },
  columns: [
    { label: "Name", cell: (b) => h("a", { href: `/console/buckets/${enc(b.name)}` }, b.name) },
    { label: "Public", cell: (b) => (b.public ? "yes" : "no") },
    { label: "Versioning", cell: (b) => b.versioning || "off" },
    { label: "Created", cell: (b) => fmtDate(b.created_at) },
  ],
  remove: { path: (b) => `/storage/buckets/${enc(b.name)}`, name: (b) => b.name, confirm: (b) => `Delete bucket "${b.name}"? It must be empty.` },
});

function crumbs(bucket, prefix) {
  const parts = prefix.split("/").filter(Boolean);
  const out = [h("a", { href: "/console/buckets" }, "Buckets"), " / ", h("a", { href: `/console/buckets/${enc(bucket)}` }, bucket)];
  let acc = "";
  for (const part of parts) {
    acc += `${part}/`;
    out.push(" / ", h("a", { href: `/console/buckets/${enc(bucket)}?prefix=${enc(acc)}` }, part));
  }
  return h("nav", { class: "crumbs", "aria-label": "Path" }, out);
}

async function objects({ main, params, query }) {
  const bucket = params.bucket;
  const prefix = query.get("prefix") || "";
  const body = h("div", {});
  const file = h("input", { type: "file", id: "upload-file", multiple: true });
  const keyPrefix = h("input", { type: "text", id: "upload-prefix", value: prefix, placeholder: "folder/ (optional)" });
  const progress = h("div", { class: "uploads", "aria-live": "polite" });
  const uploadForm = h("form", { class: "form inline", onsubmit: (e) => { e.preventDefault(); send(); } },
    h("div", { class: "field" }, h("label", { for: "upload-file" }, "Files to upload"), file),
    h("div", { class: "field" }, h("label", { for: "upload-prefix" }, "Into folder"), keyPrefix),
    h("div", { class: "actions" }, h("button", { class: "btn primary", type: "submit" }, "Upload")));
  const linkBox = h("div", { class: "presign", "aria-live": "polite" });
  main.append(pageHeader(bucket), crumbs(bucket, prefix), uploadForm, progress,
    snippet("CLI equivalent", () => `cumulo storage put ${shellQuote(bucket)} FILE ${shellQuote(`${prefix}FILE`)}`),
    linkBox, body);

  // A presigned GET link on the S3 endpoint (POST .../presign, signed with the user's S3 credential):
  // anyone with it downloads the object until it expires.
  function presignForm(key) {
    const expiry = h("select", { id: "presign-expiry" },
      [["900", "15 minutes"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]].map(([value, label]) =>
        h("option", { value, selected: value === "3600" }, label)));
    const result = h("div", {});
    const make = async (e) => {
      e.preventDefault();
      try {
        const out = await post(`/storage/buckets/${enc(bucket)}/objects/${encPath(key)}/presign`,
          { expires_in_seconds: Number(expiry.value) });
        clear(result, h("p", {}, `Anyone with this link can download ${key} until ${fmtDate(out.expires_at)}:`),
          h("code", { class: "secret", id: "presigned-url" }, out.url), " ",
          button("Copy", async () => {
            try { await navigator.clipboard.writeText(out.url); toast("Copied"); } catch { toast("Select and copy it", "error"); }
          }, { kind: "small" }));
      } catch (error) { clear(result, errorBox(error)); }
    };
    clear(linkBox, h("form", { class: "form inline", onsubmit: make, "aria-label": `Presigned link to ${key}` },
      h("div", { class: "field" }, h("label", { for: "presign-expiry" }, `Link to ${key} valid for`), expiry),
      h("div", { class: "actions" }, h("button", { class: "btn primary", type: "submit" }, "Create link"),
        button("Close", () => clear(linkBox), { kind: "small" }))), result);
  }

  async function send() {
    for (const f of [...file.files]) {
      const key = `${keyPrefix.value}${f.name}`;
      const bar = h("progress", { max: String(f.size || 1), value: "0", "aria-label": `Upload of ${f.name}` });
      const label = h("span", {}, `${f.name}: 0%`);
      const row = h("div", { class: "upload" }, label, bar);
      progress.append(row);
      try {
        await upload("PUT", `/storage/${enc(bucket)}/${encPath(key)}`, f, (done, total) => {
          bar.value = done;
          bar.max = total || 1;
          label.textContent = `${f.name}: ${total ? Math.round((100 * done) / total) : 100}%`;
        });
        label.textContent = `${f.name}: uploaded`;
        row.dataset.done = "true";
      } catch (error) {
        label.textContent = `${f.name}: ${error.message}`;
        row.classList.add("failed");
      }
    }
    file.value = "";
    await refresh();
  }

  const refresh = async () => {
    let page;
    try { page = await get(`/storage/${enc(bucket)}?prefix=${enc(prefix)}&delimiter=/`); }
    catch (error) { clear(body, errorBox(error)); return; }
    const folders = page.common_prefixes.map((p) => ({ folder: p, id: p }));
    const rows = [...folders, ...page.objects.map((o) => ({ ...o, id: o.key }))];
    clear(body, table([
      { label: "Name", cell: (r) => (r.folder
        ? h("a", { href: `/console/buckets/${enc(bucket)}?prefix=${enc(r.folder)}` }, `📁 ${r.folder.slice(prefix.length)}`)
        : r.key.slice(prefix.length)) },
      { label: "Size", cell: (r) => (r.folder ? "—" : fmtBytes(r.size)) },
      { label: "Type", cell: (r) => (r.folder ? "folder" : r.content_type) },
      { label: "Modified", cell: (r) => (r.folder ? "—" : fmtDate(r.last_modified)) },
      { label: "Actions", cell: (r) => (r.folder ? "" : h("div", { class: "row-actions" },
        h("a", { class: "btn small", href: `/storage/${enc(bucket)}/${encPath(r.key)}`, download: r.key.split("/").pop() }, "Download"),
        button("Link", () => presignForm(r.key), { kind: "small", title: `Presigned link to ${r.key}` }),
        button("Delete", async () => {
          if (!(await confirmDialog(`Delete object "${r.key}"?`))) return;
          try { await del(`/storage/${enc(bucket)}/${encPath(r.key)}`); toast(`${r.key} deleted`); }
          catch (error) { toast(error.message, "error"); }
          await refresh();
        }, { kind: "small danger", title: `Delete ${r.key}` }))) },
    ], rows, { empty: "This folder is empty: upload a file." }), page.is_truncated ? h("p", {}, "Only the first 1,000 entries are shown.") : null);
  };
  await refresh();
}

export const routes = [
  { path: "/console/buckets", title: "Buckets", render: list },
  { path: "/console/buckets/:bucket", title: "Bucket", render: objects },
];
