// A terminal over the instance console WebSocket (/instances/{id}/console): the session cookie
// authenticates it (same origin); binary frames carry the bytes, {"resize": [cols, rows]} resizes.
import { retried } from "../lib/api.js";
import { h } from "../lib/dom.js";

let loaded = null;
function loadXterm() {
  if (!loaded) {
    document.head.append(h("link", { rel: "stylesheet", href: "/console/assets/vendor/xterm/xterm.css" }));
    loaded = Promise.all([retried(() => import("../vendor/xterm/xterm.mjs")),
      retried(() => import("../vendor/xterm/addon-fit.mjs"))]);
    loaded.catch(() => { loaded = null; }); // not loaded: tried again at the next terminal opened
  }
  return loaded;
}

export async function open(box, instanceId) {
  const [{ Terminal }, { FitAddon }] = await loadXterm();
  const state = h("p", { class: "term-state", role: "status" }, "Connecting…");
  const screen = h("div", { class: "terminal", "aria-label": "Instance terminal" });
  box.replaceChildren(state, screen);
  const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 5000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/instances/${encodeURIComponent(instanceId)}/console?cols=${term.cols}&rows=${term.rows}`;
  const ws = new WebSocket(url, ["cumulo.console"]);
  ws.binaryType = "arraybuffer";
  const encoder = new TextEncoder();
  ws.addEventListener("open", () => { state.textContent = "Connected"; term.focus(); });
  ws.addEventListener("message", (message) => {
    if (typeof message.data === "string") {
      try { state.textContent = JSON.parse(message.data).error.message; } catch { term.write(message.data); }
    } else {
      term.write(new Uint8Array(message.data));
    }
  });
  ws.addEventListener("close", (event) => {
    if (event.code >= 4000) return; // the error text was shown
    state.textContent = "Disconnected";
  });
  term.onData((data) => { if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data)); });
  term.onResize(({ cols, rows }) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: [cols, rows] })); });
  const onWindow = () => fit.fit();
  window.addEventListener("resize", onWindow);
  return {
    focus: () => term.focus(),
    close: () => { window.removeEventListener("resize", onWindow); ws.close(); term.dispose(); box.replaceChildren(); },
  };
}
