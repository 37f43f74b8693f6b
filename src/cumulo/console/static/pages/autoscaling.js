// Auto-scaling groups: list, create (a launch template, sizes and a target-tracking policy), and a
// group's page: its members, the desired capacity, and its scaling activities, followed live.
import { enc, get, put } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { collection } from "../lib/resource.js";
import { definitionList, errorBox, form, pageHeader, shellQuote, statusBadge, table, toast } from "../lib/ui.js";

const num = (value) => (value === "" || value === undefined ? undefined : Number(value));
const words = (text) => String(text || "").split(/\s+/).filter(Boolean);

function body(v) {
  const template = { image: v.launch_template };
  if (words(v.command).length) template.command = words(v.command);
  const out = { name: v.name, launch_template: template, min_size: num(v.min_size), max_size: num(v.max_size),
    desired_capacity: num(v.desired_capacity) };
  if (v.policies) out.policies = [{ metric: "cpu_percent", target_value: Number(v.policies) }];
  return out;
}

const groups = collection({
  title: "Auto-scaling groups",
  load: () => get("/autoscaling/groups"),
  live: ["autoscaling_group", "instance"],
  empty: "No auto-scaling groups yet.",
  create: {
    path: "/autoscaling/groups",
    submit: "Create group",
    inline: false,
    fields: [
      { name: "name", label: "Group name", required: true, placeholder: "workers" },
      { name: "launch_template", label: "Image", required: true, placeholder: "cumulo/busybox" },
      { name: "command", label: "Command (optional)", placeholder: "sleep 3600" },
      { name: "min_size", label: "Minimum size", type: "number", min: "0", value: "1" },
      { name: "max_size", label: "Maximum size", type: "number", min: "1", required: true, value: "3" },
      { name: "desired_capacity", label: "Desired capacity", type: "number", min: "0", help: "Empty: the minimum." },
      { name: "policies", label: "Target CPU % (optional)", type: "number", min: "1", help: "Scale to keep the average CPU near this." },
    ],
    body,
    cli: (v) => [`cumulo autoscaling create ${shellQuote(v.name || "NAME")} --image ${shellQuote(v.launch_template || "IMAGE")}`,
      ...words(v.command).map((w) => `--command ${shellQuote(w)}`), `--min ${v.min_size || 1} --max ${v.max_size || "MAX"}`,
      v.desired_capacity && `--desired ${v.desired_capacity}`, v.policies && `--policy cpu_percent=${v.policies}`].filter(Boolean).join(" "),
    open: (g) => `/console/autoscaling/${enc(g.id)}`,
  },
  columns: [
    { label: "Name", cell: (g) => h("a", { href: `/console/autoscaling/${enc(g.id)}` }, g.name) },
    { label: "Status", cell: (g) => statusBadge(g.status) },
    { label: "Capacity", cell: (g) => `${g.current_capacity} (desired ${g.desired_capacity}, ${g.min_size}-${g.max_size})` },
    { label: "Image", cell: (g) => h("code", {}, g.launch_template.image) },
  ],
  remove: { path: (g) => `/autoscaling/groups/${enc(g.id)}`, name: (g) => g.name, confirm: (g) => `Delete group "${g.name}" and its instances?` },
});

async function group({ main, params }) {
  const id = params.id;
  const info = h("div", {});
  const members = h("div", { id: "members" });
  const activities = h("div", { id: "activities", "aria-live": "polite" });
  const sizes = form({
    submit: "Save sizes",
    className: "inline",
    fields: [
      { name: "desired_capacity", label: "Desired", type: "number", min: "0" },
      { name: "min_size", label: "Min", type: "number", min: "0" },
      { name: "max_size", label: "Max", type: "number", min: "1" },
    ],
    onSubmit: async (v) => {
      await put(`/autoscaling/groups/${enc(id)}`, { desired_capacity: num(v.desired_capacity), min_size: num(v.min_size), max_size: num(v.max_size) });
      toast("Sizes saved");
      await refresh();
    },
  });
  const refresh = async () => {
    let g;
    try { g = await get(`/autoscaling/groups/${enc(id)}`); } catch (error) { clear(info, errorBox(error)); return; }
    clear(info, pageHeader(g.name, statusBadge(g.status)), definitionList([
      ["Capacity", `${g.current_capacity} of ${g.desired_capacity} desired (${g.min_size}-${g.max_size})`],
      ["Image", h("code", {}, g.launch_template.image)],
      ["Policies", g.policies.map((p) => `${p.metric} → ${p.target_value}`).join(", ") || "none"],
      ["Cooldown", `${g.cooldown_seconds} s`], ["Load balancer", g.load_balancer_id || "—"],
    ]));
    if (!sizes.contains(document.activeElement)) {
      sizes.inputs.desired_capacity.value = g.desired_capacity;
      sizes.inputs.min_size.value = g.min_size;
      sizes.inputs.max_size.value = g.max_size;
    }
    clear(members, table([
      { label: "Instance", cell: (m) => h("a", { href: `/console/instances/${enc(m.instance_id)}` }, m.name) },
      { label: "State", cell: (m) => m.state }, { label: "Status", cell: (m) => statusBadge(m.status) },
      { label: "Address", cell: (m) => m.address || "—" }, { label: "Warming up", cell: (m) => (m.warming_up ? "yes" : "no") },
    ], g.members, { empty: "No members." }));
    const rows = await get(`/autoscaling/groups/${enc(id)}/activities`).catch(() => []);
    clear(activities, table([
      { label: "Time", cell: (a) => fmtDate(a.time) }, { label: "Status", cell: (a) => statusBadge(a.status) },
      { label: "Change", cell: (a) => `${a.from_capacity} → ${a.to_capacity}` },
      { label: "Description", cell: (a) => a.description }, { label: "Cause", cell: (a) => a.cause },
    ], rows, { empty: "No activity yet." }));
  };
  main.append(h("p", {}, h("a", { href: "/console/autoscaling" }, "← All groups")), info,
    h("section", { "aria-labelledby": "sizes-title" }, h("h2", { id: "sizes-title" }, "Sizes"), sizes),
    h("section", { "aria-labelledby": "members-title" }, h("h2", { id: "members-title" }, "Members"), members),
    h("section", { "aria-labelledby": "activities-title" }, h("h2", { id: "activities-title" }, "Activities"), activities));
  await refresh();
  return follow(["autoscaling_group", "instance"], refresh);
}

export const routes = [
  { path: "/console/autoscaling", title: "Auto-scaling groups", render: groups },
  { path: "/console/autoscaling/:id", title: "Auto-scaling group", render: group },
];
