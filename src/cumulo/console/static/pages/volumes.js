// Volumes: list (live status), create, delete.
import { enc, get } from "../lib/api.js";
import { fmtDate, h } from "../lib/dom.js";
import { collection } from "../lib/resource.js";
import { shellQuote, statusBadge } from "../lib/ui.js";

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
  remove: { path: (v) => `/volumes/${enc(v.id)}`, name: (v) => v.name, confirm: (v) => `Delete volume "${v.name}" and its data?` },
});

export const routes = [{ path: "/console/volumes", title: "Volumes", render }];
