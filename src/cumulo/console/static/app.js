// The console's shell: who is logged in, the navigation, and a router from the URL to a page
// module. Each service is one module in pages/ exporting `nav` (optional) and `routes`.
import { ApiError, del, get, onUnauthorized } from "./lib/api.js";
import { clear, h } from "./lib/dom.js";
import * as live from "./lib/live.js";
import { errorBox } from "./lib/ui.js";
import * as apps from "./pages/apps.js";
import * as auth from "./pages/auth.js";
import * as billing from "./pages/billing.js";
import * as buckets from "./pages/buckets.js";
import * as databases from "./pages/databases.js";
import * as functions from "./pages/functions.js";
import * as instances from "./pages/instances.js";
import * as keys from "./pages/keys.js";
import * as networks from "./pages/networks.js";
import * as overview from "./pages/overview.js";
import * as queues from "./pages/queues.js";
import * as secrets from "./pages/secrets.js";
import * as volumes from "./pages/volumes.js";

// One module per service: `nav` (an entry or a list of them) and `routes`. The navigation follows this order.
const MODULES = [overview, instances, volumes, networks, buckets, queues, functions, databases, apps, secrets, keys, billing];
const BASE = "/console";

const routes = [...auth.routes, ...MODULES.flatMap((m) => m.routes)].map((route) => {
  const names = [];
  const pattern = route.path.replace(/:([a-z_]+)/g, (_m, name) => { names.push(name); return "([^/]+)"; });
  return { ...route, names, regex: new RegExp(`^${pattern}/?$`) };
});

const app = { user: null, cleanup: null, root: document.getElementById("app") };

function match(pathname) {
  for (const route of routes) {
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
  const navList = h("ul", {}, MODULES.flatMap((m) => [].concat(m.nav || [])).map((item) =>
    h("li", {}, h("a", { href: item.href, dataset: { nav: item.href } }, item.label))));
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
  const found = match(location.pathname) || { route: null, params: {} };
  const query = new URLSearchParams(location.search);
  if (found.route && found.route.public) {
    live.stop();
    const main = h("main", { id: "main", class: "public", tabindex: "-1" });
    clear(app.root, main);
    document.title = `${found.route.title || "Sign in"} · Cumulo`;
    app.cleanup = await found.route.render({ main, params: found.params, query, navigate, signedIn, user: app.user });
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
  clear(main);
  if (!found.route) {
    clear(main, h("h1", {}, "Not found"), h("p", {}, "No console page here. ", h("a", { href: BASE }, "Overview")));
    return;
  }
  document.title = `${found.route.title || "Console"} · Cumulo`;
  try {
    app.cleanup = await found.route.render({ main, params: found.params, query, navigate, user: app.user, live });
  } catch (error) {
    append404(main, error);
  }
  if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
  markInteractive();
}

// The first page is drawn with its data and answers input: bench/console.py reads this mark.
function markInteractive() {
  if (!performance.getEntriesByName("cumulo:interactive").length) performance.mark("cumulo:interactive");
}

function append404(main, error) {
  clear(main, errorBox(error));
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
