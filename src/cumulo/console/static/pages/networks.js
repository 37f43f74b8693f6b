// Networks: VPCs (isolated networks) and their subnets.
import { enc, get } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { collection } from "../lib/resource.js";
import { shellQuote } from "../lib/ui.js";

const vpcs = collection({
  title: "VPCs",
  load: () => get("/vpcs"),
  live: ["vpc", "subnet"],
  empty: "No VPCs yet: one is made for you at your first instance.",
  create: {
    path: "/vpcs",
    submit: "Create VPC",
    fields: [
      { name: "name", label: "VPC name", required: true, placeholder: "prod" },
      { name: "cidr_block", label: "CIDR block", placeholder: "10.20.0.0/16", help: "Empty: a free block." },
    ],
    body: (v) => ({ name: v.name, cidr_block: v.cidr_block || undefined }),
    cli: (v) => `cumulo vpcs create ${shellQuote(v.name || "NAME")}${v.cidr_block ? ` --cidr ${v.cidr_block}` : ""}`,
  },
  columns: [
    { label: "Name", cell: (v) => h("a", { href: `/console/vpcs/${enc(v.id)}` }, v.name) },
    { label: "CIDR", cell: (v) => v.cidr_block },
    { label: "Subnets", cell: (v) => v.subnet_count },
    { label: "Default", cell: (v) => (v.is_default ? "yes" : "no") },
  ],
  remove: { path: (v) => `/vpcs/${enc(v.id)}`, name: (v) => v.name, confirm: (v) => `Delete VPC "${v.name}"? It must have no instances.` },
});

async function subnets(ctx) {
  const vpc = await get(`/vpcs/${enc(ctx.params.id)}`);
  return collection({
    title: `VPC ${vpc.name} (${vpc.cidr_block})`,
    intro: h("p", {}, h("a", { href: "/console/vpcs" }, "← All VPCs")),
    load: () => get(`/vpcs/${enc(vpc.id)}/subnets`),
    live: ["subnet"],
    empty: "No subnets yet.",
    create: {
      path: `/vpcs/${enc(vpc.id)}/subnets`,
      submit: "Create subnet",
      fields: [
        { name: "name", label: "Subnet name", required: true, placeholder: "web" },
        { name: "cidr_block", label: "CIDR block", required: true, placeholder: vpc.cidr_block.replace(/\.0\.0\/16$/, ".1.0/24") },
      ],
      cli: (v) => `cumulo subnets create ${shellQuote(vpc.name)} ${shellQuote(v.name || "NAME")} --cidr ${v.cidr_block || "CIDR"}`,
    },
    columns: [
      { label: "Name", cell: (s) => s.name },
      { label: "CIDR", cell: (s) => s.cidr_block },
      { label: "Zone", cell: (s) => s.availability_zone || "—" },
    ],
    remove: { path: (s) => `/subnets/${enc(s.id)}`, name: (s) => s.name },
  })(ctx);
}

export const routes = [
  { path: "/console/vpcs", title: "VPCs", render: vpcs },
  { path: "/console/vpcs/:id", title: "VPC", render: subnets },
];
