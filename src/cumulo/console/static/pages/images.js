// Images: the catalogue and your own images (launch one, its build log, delete), and a build form
// whose log streams in as docker writes it (POST /images answers NDJSON: {log} lines, then {image}
// or {error}).
import { del, eachLine, enc, get, request } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { button, confirmDialog, curl, errorBox, form, notice, pageHeader, shellQuote, snippet, statusBadge, table, toast } from "../lib/ui.js";

async function images({ main }) {
  const list = h("div", {});
  const output = h("pre", { class: "log", id: "build-log", tabindex: "0", "aria-label": "Build log", hidden: true });
  const result = h("div", { id: "build-result", "aria-live": "polite" });
  const bodyOf = (v) => ({ name: v.name, tag: v.tag || "latest", dockerfile: v.dockerfile });
  const build = form({
    submit: "Build image",
    fields: [
      { name: "name", label: "Image name", required: true, placeholder: "myapp" },
      { name: "tag", label: "Tag", value: "latest" },
      { name: "dockerfile", label: "Dockerfile", type: "textarea", rows: 5, required: true,
        value: "FROM cumulo/busybox\nCMD [\"sh\", \"-c\", \"echo hello\"]\n" },
    ],
    onSubmit: async (v) => {
      clear(result);
      const res = await request("POST", "/images", { json: bodyOf(v), raw: true }); // a 4xx lands at the fields
      output.hidden = false;
      output.textContent = "";
      await eachLine(res, (item) => {
        if (item.log !== undefined) {
          output.textContent += item.log.endsWith("\n") ? item.log : `${item.log}\n`;
          output.scrollTop = output.scrollHeight;
        } else if (item.image) {
          clear(result, notice(`Built ${item.image.reference}.`, "ok"));
          toast(`${item.image.reference} built`);
        } else if (item.error) {
          clear(result, notice(`Build failed: ${item.error.message}`, "error"));
        }
      });
      await refresh();
    },
  });
  const refresh = async () => {
    let rows;
    try { rows = await get("/images"); } catch (error) { clear(list, errorBox(error)); return; }
    clear(list, table([
      { label: "Reference", cell: (i) => h("code", {}, i.reference) },
      { label: "Owner", cell: (i) => i.owner }, { label: "Status", cell: (i) => statusBadge(i.status) },
      { label: "Size", cell: (i) => `${Math.round(i.size_mb)} MB` },
      { label: "Description", cell: (i) => i.error || i.description || "—" },
      { label: "Created", cell: (i) => fmtDate(i.created_at) },
      { label: "Actions", cell: (i) => h("div", { class: "row-actions" },
        i.status === "READY" ? h("a", { class: "btn small", href: `/console/instances/new?image=${enc(i.reference)}` }, "Launch") : null,
        i.owner === "you" ? h("a", { class: "btn small", href: `/console/images/${enc(i.id)}/log`, "aria-label": `Build log of ${i.reference}` }, "Build log") : null,
        i.owner === "you" ? button("Delete", async () => {
          if (!(await confirmDialog(`Delete image ${i.reference}?`))) return;
          try { await del(`/images/${enc(i.id)}`); toast(`${i.reference} deleted`); } catch (error) { toast(error.message, "error"); }
          await refresh();
        }, { kind: "small danger", title: `Delete ${i.reference}` }) : null) },
    ], rows, { empty: "No images: run `cumulo images bootstrap`." }));
  };
  main.append(pageHeader("Images"), list,
    h("section", { "aria-labelledby": "build-title" }, h("h2", { id: "build-title" }, "Build an image"),
      h("div", { class: "create" }, build,
        snippet("CLI equivalent", () => `cumulo images build ${shellQuote(`${build.values().name || "NAME"}:${build.values().tag || "latest"}`)} -f Dockerfile`),
        snippet("curl equivalent", () => curl("POST", "/images", bodyOf(build.values())))),
      result, output));
  await refresh();
  return follow(["image"], refresh);
}

async function buildLog({ main, params }) {
  main.append(h("p", {}, h("a", { href: "/console/images" }, "← All images")));
  try {
    const image = await get(`/images/${enc(params.id)}`);
    const text = await get(`/images/${enc(params.id)}/log`);
    main.append(pageHeader(`Build log of ${image.reference}`, statusBadge(image.status)),
      h("pre", { class: "log", id: "build-log", tabindex: "0", "aria-label": "Build log" }, text || "(empty)"));
  } catch (error) { main.append(errorBox(error)); }
}

export const routes = [
  { path: "/console/images", title: "Images", render: images },
  { path: "/console/images/:id/log", title: "Build log", render: buildLog },
];
