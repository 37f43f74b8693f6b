// The console's shell: who is logged in, the navigation, and a router from the URL to a page
// module (PAGES below: one module per service in pages/, exporting `routes`).
import { ApiError, del, get, onUnauthorized, retried } from "./lib/api.js";
import { clear, h } from "./lib/dom.js";
import * as live from "./lib/live.js";
import { errorBox } from "./lib/ui.js";

const BASE = "/console";

// One module per service in pages/, loaded when one of its pages is opened (the first load stays the
// same size however many services there are). An entry: the module's file, its navigation links (whose
// paths, and those under them, are its pages) and, for pages without a link, `paths`. A module exports
// `routes`: [{path: "/console/things/:id", title, render(ctx), public?}]. `admin: true`: linked only
// for administrators (the API refuses the others anyway).
const PAGES = [
  { module: "auth", paths: ["/console/login", "/console/signup", "/console/forgot", "/console/reset", "/console/verify"] },
  { module: "overview", nav: [["Overview", BASE]] },
  { module: "instances", nav: [["Instances", "/console/instances"]] },
  { module: "volumes", nav: [["Volumes", "/console/volumes"], ["Snapshots", "/console/snapshots"]] },
  { module: "disks", nav: [["Disks", "/console/disks"]] },
  { module: "networks", nav: [["Networks", "/console/vpcs"]] },
  { module: "buckets", nav: [["Buckets", "/console/buckets"]] },
  { module: "queues", nav: [["Queues", "/console/queues"]] },
  { module: "functions", nav: [["Functions", "/console/functions"]] },
  { module: "databases", nav: [["Databases", "/console/databases"], ["Caches", "/console/caches"]] },
  { module: "traffic", nav: [["Load balancers", "/console/loadbalancers"], ["Routes", "/console/routes"]] },
  { module: "autoscaling", nav: [["Auto-scaling groups", "/console/autoscaling"]] },
  { module: "cron", nav: [["Cron jobs", "/console/cron"]] },
  { module: "topics", nav: [["Topics", "/console/topics"]] },
  { module: "apps", nav: [["Apps", "/console/apps"], ["Deployments", "/console/deployments"]] },
  { module: "secrets", nav: [["Secrets", "/console/secrets"]] },
  { module: "keys", nav: [["API keys", "/console/keys"]] },
  { module: "billing", nav: [["Billing", "/console/billing"], ["Events", "/console/events"]] },
  { module: "images", nav: [["Images", "/console/images"]] },
  { module: "admin", nav: [["Users", "/console/admin/users"]], admin: true },
];

const loaded = new Map();
async function routesOf(entry) {
  if (!loaded.has(entry.module)) {
    const routes = retried(() => import(`./pages/${entry.module}.js`)).then((m) => m.routes.map((route) => {
      const names = [];
      const pattern = route.path.replace(/:([a-z_]+)/g, (_m, name) => { names.push(name); return "([^/]+)"; });
      return { ...route, names, regex: new RegExp(`^${pattern}/?$`) };
    }));
    routes.catch(() => loaded.delete(entry.module)); // a failed load (network) is tried again next time
    loaded.set(entry.module, routes);
  }
  return loaded.get(entry.module);
}

function owner(pathname) {
  const path = pathname.replace(/\/+$/, "") || BASE;
  return PAGES.find((entry) => [...(entry.paths || []), ...(entry.nav || []).map(([, href]) => href)].some((prefix) =>
    path === prefix || (prefix !== BASE && path.startsWith(`${prefix}/`))));
}

const app = { user: null, cleanup: null, root: document.getElementById("app") };
let renders = 0;

async function match(pathname) {
  const entry = owner(pathname);
  if (!entry) return null;
  for (const route of await routesOf(entry)) {
    const found = route.regex.exec(pathname);
    if (found) {
      const params = {};
      route.names.forEach((name, i) => { params[name] = decodeURIComponent(found[i + 1]); });
      return { route, params };
    }
  }
  return null;
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
}

function shell() {
  const liveDot = h("span", { class: "live", "aria-live": "polite" });
  live.watchState((state) => {
    liveDot.dataset.state = state;
    liveDot.textContent = { live: "Live", connecting: "Connecting…", polling: "Polling", off: "" }[state] || state;
  });
  const shown = PAGES.filter((entry) => !entry.admin || app.user.role === "admin");
  const navList = h("ul", {}, shown.flatMap((entry) => entry.nav || []).map(([label, href]) =>
    h("li", {}, h("a", { href, dataset: { nav: href } }, label))));
  const menu = h("button", { class: "btn menu", type: "button", "aria-expanded": "false", "aria-controls": "nav",
    onclick: () => {
      const open = menu.getAttribute("aria-expanded") !== "true";
      menu.setAttribute("aria-expanded", String(open));
      document.getElementById("nav").classList.toggle("open", open);
    } }, "Menu");
  const logout = h("button", { class: "btn small", type: "button", onclick: signOut }, "Log out");
  return h("div", { class: "shell" },
    h("header", { class: "top" },
      menu,
      h("a", { class: "brand", href: BASE }, h("img", { src: "/console/assets/icon.svg", alt: "" }), "Cumulo"),
      h("span", { class: "spacer" }),
      liveDot,
      h("span", { class: "who", title: app.user.email }, app.user.name || app.user.email),
      logout),
    h("nav", { id: "nav", "aria-label": "Services" }, navList),
    h("main", { id: "main", tabindex: "-1" }));
}

async function signOut() {
  try { await del("/auth/session"); } catch { /* the cookies are cleared either way */ }
  app.user = null;
  live.stop();
  navigate(`${BASE}/login`);
}

async function whoami() {
  try { return await get("/auth/me"); } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function signedIn(user) {
  app.user = user || (await whoami());
  const next = new URLSearchParams(location.search).get("next");
  navigate(next && next.startsWith(BASE) && !next.startsWith(`${BASE}/login`) ? next : BASE, { replace: true });
}

async function render() {
  if (app.cleanup) { try { app.cleanup(); } catch (error) { console.error(error); } app.cleanup = null; }
  const turn = ++renders; // a later navigation wins over this one while its module loads
  let found;
  try { found = (await match(location.pathname)) || { route: null, params: {} }; } catch (error) {
    const main = document.getElementById("main") || app.root;
    clear(main, errorBox(error), h("p", {}, h("a", { href: location.pathname + location.search }, "Try again")));
    return;
  }
  if (turn !== renders) return;
  const query = new URLSearchParams(location.search);
  if (found.route && found.route.public) {
    live.stop();
    const main = h("main", { id: "main", class: "public", tabindex: "-1" });
    clear(app.root, main);
    document.title = `${found.route.title || "Sign in"} · Cumulo`;
    const cleanup = await found.route.render({ main, params: found.params, query, navigate, signedIn, user: app.user });
    if (turn === renders) app.cleanup = cleanup; else if (cleanup) cleanup();
    markInteractive();
    return;
  }
  if (!app.user) app.user = await whoami();
  if (!app.user) {
    navigate(`${BASE}/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    return;
  }
  let main = document.getElementById("main");
  if (!main || main.classList.contains("public")) {
    clear(app.root, shell());
    main = document.getElementById("main");
  }
  live.start();
  document.getElementById("nav").classList.remove("open");
  for (const a of document.querySelectorAll("nav a")) {
    const current = location.pathname === a.dataset.nav || (a.dataset.nav !== BASE && location.pathname.startsWith(a.dataset.nav));
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  // each page draws into a view of its own: what a page still writes after the user moved on (a
  // slow request) lands in its detached view, never on the next page
  const view = h("div", { class: "view" });
  clear(main, view);
  if (!found.route) {
    clear(view, h("h1", {}, "Not found"), h("p", {}, "No console page here. ", h("a", { href: BASE }, "Overview")));
    return;
  }
  document.title = `${found.route.title || "Console"} · Cumulo`;
  let cleanup;
  try {
    cleanup = await found.route.render({ main: view, params: found.params, query, navigate, user: app.user, live });
  } catch (error) {
    clear(view, errorBox(error));
  }
  if (turn !== renders) { // the user moved on meanwhile: stop this page's live updates at once
    if (cleanup) cleanup();
    return;
  }
  app.cleanup = cleanup;
  if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
  markInteractive();
}

// The first page is drawn with its data and answers input: bench/console.py reads this mark.
function markInteractive() {
  if (!performance.getEntriesByName("cumulo:interactive").length) performance.mark("cumulo:interactive");
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a");
  if (!a || a.target || a.hasAttribute("download") || event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);
onUnauthorized(() => {
  if (app.user) { app.user = null; live.stop(); navigate(`${BASE}/login?next=${encodeURIComponent(location.pathname)}`); }
});

render();
