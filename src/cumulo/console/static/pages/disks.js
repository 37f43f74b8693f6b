// Disks (VM disk images): list with the running operation's progress, create, delete; a disk's page:
// resize, and its internal snapshots (take, revert after confirming, delete).
import { enc, get, post } from "../lib/api.js";
import { clear, fmtBytes, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { collection, removeButton } from "../lib/resource.js";
import { button, confirmDialog, definitionList, errorBox, form, pageHeader, shellQuote, statusBadge, table, toast } from "../lib/ui.js";

const num = (value) => (value === "" || value === undefined ? undefined : Number(value));
const progress = (d) => (d.operation ? `${d.operation} ${Math.round(d.progress_percent)} %` : "—");

const disks = collection({
  title: "Disks",
  load: () => get("/disks"),
  live: ["disk"],
  empty: "No disks yet.",
  create: {
    path: "/disks",
    submit: "Create disk",
    fields: [
      { name: "name", label: "Disk name", required: true, placeholder: "data" },
      { name: "size_gb", label: "Size (GiB)", type: "number", min: "1", required: true, value: "1" },
      { name: "format", label: "Format", type: "select", options: ["qcow2", "raw"], value: "qcow2" },
    ],
    body: (v) => ({ name: v.name, size_gb: num(v.size_gb), format: v.format }),
    cli: (v) => `cumulo disks create ${shellQuote(v.name || "NAME")} --size ${v.size_gb || 1}${v.format === "raw" ? " --format raw" : ""}`,
  },
  columns: [
    { label: "Name", cell: (d) => h("a", { href: `/console/disks/${enc(d.id)}` }, d.name) },
    { label: "Size", cell: (d) => `${d.size_gb} GiB (${fmtBytes(d.size_bytes)} used)` },
    { label: "Format", cell: (d) => d.format },
    { label: "Status", cell: (d) => statusBadge(d.status) },
    { label: "Operation", cell: progress },
    { label: "VM", cell: (d) => d.instance_id || "—" },
  ],
  remove: { path: (d) => `/disks/${enc(d.id)}`, name: (d) => d.name },
});

async function disk({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const snaps = h("div", { id: "disk-snapshots" });
  const resize = form({
    submit: "Resize",
    className: "inline",
    fields: [{ name: "size_gb", label: "New size (GiB)", type: "number", min: "1", required: true },
      { name: "allow_shrink", label: "Allow shrinking (data past the end is lost)", type: "checkbox" }],
    onSubmit: async (v) => { await post(`/disks/${enc(id)}/resize`, { size_gb: num(v.size_gb), allow_shrink: v.allow_shrink }); toast("Resizing"); await refresh(); },
  });
  const snapshot = form({
    submit: "Take snapshot",
    className: "inline",
    fields: [{ name: "name", label: "Snapshot name", required: true, placeholder: "before-upgrade" }],
    onSubmit: async (v) => {
      await post(`/disks/${enc(id)}/snapshots`, { name: v.name });
      toast(`Snapshot ${v.name} taken`);
      snapshot.inputs.name.value = "";
      await refresh();
    },
  });
  const refresh = async () => {
    let d;
    try { d = await get(`/disks/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    clear(info, pageHeader(d.name, statusBadge(d.status)), definitionList([
      ["Size", `${d.size_gb} GiB`], ["Used", fmtBytes(d.size_bytes)], ["Format", d.format], ["Operation", progress(d)],
      ["Attached to", d.instance_id || "—"], ["Error", d.error], ["Warning", d.warning], ["Created", fmtDate(d.created_at)],
    ]));
    const rows = await get(`/disks/${enc(id)}/snapshots`).catch(() => []);
    clear(snaps, table([
      { label: "Name", cell: (s) => s.name }, { label: "Size", cell: (s) => `${s.size_gb} GiB` },
      { label: "Created", cell: (s) => fmtDate(s.created_at) },
      { label: "Actions", cell: (s) => h("div", { class: "row-actions" },
        button("Revert", async () => {
          if (!(await confirmDialog(`Revert disk ${d.name} to snapshot ${s.name}? What was written since is lost.`, { confirm: "Revert" }))) return;
          try { await post(`/disks/${enc(id)}/snapshots/${enc(s.name)}/revert`); toast(`Reverted to ${s.name}`); } catch (error) { toast(error.message, "error"); }
          await refresh();
        }, { kind: "small", title: `Revert to ${s.name}` }),
        removeButton({ path: (x) => `/disks/${enc(id)}/snapshots/${enc(x.name)}`, name: (x) => x.name }, s, refresh)) },
    ], rows, { empty: "No snapshots (qcow2 disks only)." }));
  };
  main.append(h("p", {}, h("a", { href: "/console/disks" }, "← All disks")), info,
    h("section", { "aria-labelledby": "resize-title" }, h("h2", { id: "resize-title" }, "Resize"), resize),
    h("section", { "aria-labelledby": "snap-title" }, h("h2", { id: "snap-title" }, "Snapshots"), snapshot, snaps));
  await refresh();
  return follow(["disk"], refresh);
}

export const routes = [
  { path: "/console/disks", title: "Disks", render: disks },
  { path: "/console/disks/:id", title: "Disk", render: disk },
];
