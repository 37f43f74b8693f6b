// Overview: counts of the caller's resources and their recent events, live.
import { get } from "../lib/api.js";
import { clear, fmtDate, h } from "../lib/dom.js";
import { follow } from "../lib/live.js";
import { pageHeader, table } from "../lib/ui.js";

const COUNTS = [
  ["Instances", "/instances", "/console/instances"],
  ["Volumes", "/volumes", "/console/volumes"],
  ["Buckets", "/storage/buckets", "/console/buckets"],
  ["Queues", "/queues", "/console/queues"],
  ["Functions", "/functions", "/console/functions"],
  ["Secrets", "/secrets", "/console/secrets"],
];

async function render({ main, user }) {
  const cards = h("div", { class: "cards" });
  const events = h("section", { "aria-labelledby": "recent" });
  main.append(pageHeader(`Welcome, ${user.name || user.email}`), cards, events);
  const refresh = async () => {
    const counts = await Promise.all(COUNTS.map(([, path]) => get(path).then((rows) => rows.length, () => "—")));
    clear(cards, COUNTS.map(([label, , href], i) => h("a", { class: "card", href }, h("strong", {}, String(counts[i])), label)));
    const recent = await get("/events?limit=15");
    clear(events, h("h2", { id: "recent" }, "Recent activity"), table([
      { label: "When", cell: (e) => fmtDate(e.created_at) },
      { label: "Action", cell: (e) => e.action },
      { label: "Resource", cell: (e) => `${e.resource_type} ${e.data?.name || e.resource_id || ""}` },
    ], recent, { empty: "No activity yet." }));
  };
  await refresh();
  return follow(["instance", "volume", "bucket", "queue", "function", "secret", "apikey", "user"], refresh);
}

export const routes = [{ path: "/console", title: "Overview", render }];
