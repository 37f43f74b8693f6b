// Volumes: list (live status), create, snapshot, delete; snapshots: list, take, restore into a new
// volume, delete.
import { enc, get, post } from "../lib/api.js";
import { clear, fmtBytes, fmtDate, h } from "../lib/dom.js";
import { collection } from "../lib/resource.js";
import { button, form, shellQuote, statusBadge, toast } from "../lib/ui.js";

const render = collection({
  title: "Volumes",
  load: () => get("/volumes"),
  live: ["volume"],
  empty: "No volumes yet.",
  create: {
    path: "/volumes",
    submit: "Create volume",
    fields: [
      { name: "name", label: "Volume name", required: true, placeholder: "data" },
      { name: "size_gb", label: "Size (GiB)", type: "number", min: "1", required: true, value: "1" },
    ],
    body: (v) => ({ name: v.name, size_gb: v.size_gb === "" ? undefined : Number(v.size_gb) }),
    cli: (v) => `cumulo volumes create ${shellQuote(v.name || "NAME")} --size ${v.size_gb || 1}`,
  },
  columns: [
    { label: "Name", cell: (v) => v.name },
    { label: "Size", cell: (v) => `${v.size_gb} GiB` },
    { label: "Status", cell: (v) => statusBadge(v.status) },
    { label: "Attached to", cell: (v) => (v.instance_id ? h("a", { href: `/console/instances/${enc(v.instance_id)}` }, `${v.instance_id.slice(0, 8)}… at ${v.mount_path}`) : "—") },
    { label: "Created", cell: (v) => fmtDate(v.created_at) },
  ],
  actions: [(v, refresh) => button("Snapshot", async () => {
    try { await post(`/volumes/${enc(v.id)}/snapshots`, {}); toast(`${v.name}: snapshot taken`); } catch (error) { toast(error.message, "error"); }
    await refresh();
  }, { kind: "small", title: `Snapshot ${v.name}` })],
  remove: { path: (v) => `/volumes/${enc(v.id)}`, name: (v) => v.name, confirm: (v) => `Delete volume "${v.name}" and its data?` },
});

// The restore form of one snapshot, drawn above the table when its row's "Restore" is pressed.
const restoreArea = h("div", { id: "restore" });
function restoreForm(snap) {
  const f = form({
    submit: "Restore",
    className: "inline",
    fields: [{ name: "name", label: `New volume from ${snap.volume_name}'s snapshot`, required: true, placeholder: `${snap.volume_name}-copy` }],
    onSubmit: async (v) => {
      const vol = await post(`/snapshots/${enc(snap.id)}/restore`, { name: v.name });
      toast(`Restored into volume ${vol.name}`);
      clear(restoreArea);
    },
  });
  clear(restoreArea, f);
  f.inputs.name.focus();
}

const snapshots = async (ctx) => {
  const volumes = await get("/volumes").catch(() => []);
  clear(restoreArea);
  return collection({
    title: "Snapshots",
    load: () => get("/snapshots"),
    live: ["volume", "snapshot"],
    empty: "No snapshots yet.",
    create: {
      path: "/snapshots",
      submit: "Take snapshot",
      fields: [
        { name: "volume_id", label: "Volume", type: "select", required: true, options: volumes.map((v) => [v.id, v.name]) },
        { name: "description", label: "Description" },
      ],
      cli: (v) => `cumulo volumes snapshot ${shellQuote((volumes.find((x) => x.id === v.volume_id) || {}).name || "VOLUME")}${v.description ? ` -d ${shellQuote(v.description)}` : ""}`,
    },
    intro: restoreArea,
    columns: [
      { label: "Volume", cell: (s) => s.volume_name },
      { label: "Description", cell: (s) => s.description || "—" },
      { label: "Status", cell: (s) => statusBadge(s.status) },
      { label: "Size", cell: (s) => fmtBytes(s.bytes) },
      { label: "Created", cell: (s) => fmtDate(s.created_at) },
    ],
    actions: [(s) => button("Restore", () => restoreForm(s), { kind: "small", title: `Restore snapshot of ${s.volume_name} from ${fmtDate(s.created_at)}` })],
    remove: { path: (s) => `/snapshots/${enc(s.id)}`, name: (s) => `snapshot of ${s.volume_name}` },
  })(ctx);
};

export const routes = [
  { path: "/console/volumes", title: "Volumes", render },
  { path: "/console/snapshots", title: "Snapshots", render: snapshots },
];
