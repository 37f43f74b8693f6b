// Volumes: list (live status), create, delete.
import { del, enc, get, post } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { button, confirmDialog, curl, form, pageHeader, shellQuote, snippet, statusBadge, table, toast } from "../lib/ui.js";

export const nav = { label: "Volumes", href: "/console/volumes" };

async function render({ main }) {
  const body = h("div", {});
  const bodyOf = (v) => ({ name: v.name, size_gb: v.size_gb === "" ? undefined : Number(v.size_gb) });
  const f = form({
    submit: "Create volume",
    className: "inline",
    fields: [
      { name: "name", label: "Volume name", required: true, placeholder: "data" },
      { name: "size_gb", label: "Size (GiB)", type: "number", min: "1", required: true, value: "1" },
    ],
    onSubmit: async (v) => { await post("/volumes", bodyOf(v)); f.reset(); await refresh(); toast(`Volume ${v.name} created`); },
    onInput: () => { cli.refresh(); api.refresh(); },
  });
  const cli = snippet("CLI equivalent", () => `cumulo volumes create ${shellQuote(f.values().name || "NAME")} --size ${f.values().size_gb || 1}`);
  const api = snippet("curl equivalent", () => curl("POST", "/volumes", bodyOf(f.values())));
  main.append(pageHeader("Volumes"), f, cli, api, body);
  const refresh = async () => {
    const rows = await get("/volumes");
    clear(body, table([
      { label: "Name", cell: (v) => v.name },
      { label: "Size", cell: (v) => `${v.size_gb} GiB` },
      { label: "Status", cell: (v) => statusBadge(v.status) },
      { label: "Attached to", cell: (v) => (v.instance_id ? h("a", { href: `/console/instances/${enc(v.instance_id)}` }, `${v.instance_id.slice(0, 8)}… at ${v.mount_path}`) : "—") },
      { label: "Created", cell: (v) => fmtDate(v.created_at) },
      { label: "Actions", cell: (v) => button("Delete", async () => {
        if (!(await confirmDialog(`Delete volume "${v.name}" and its data?`))) return;
        try { await del(`/volumes/${enc(v.id)}`); toast(`Volume ${v.name} deleted`); } catch (error) { toast(error.message, "error"); }
        await refresh();
      }, { kind: "small danger", title: `Delete volume ${v.name}` }) },
    ], rows, { empty: "No volumes yet." }));
  };
  await refresh();
  return follow(["volume"], refresh);
}

export const routes = [{ path: "/console/volumes", title: "Volumes", render }];
