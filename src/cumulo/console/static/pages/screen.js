// A VM's screen over its VNC WebSocket (/vm/{id}/vnc), drawn by noVNC (vendored, loaded on demand).
// The session cookie authenticates the socket (same origin, like the terminal): the relay is the
// lock, so the RFB handshake needs no VNC password. The socket is made here and handed to noVNC, so
// the API's refusal (a JSON text frame, then a 44xx close) is shown as its message.
import { h } from "../lib/dom.js";

let loaded = null;
const loadRfb = () => { loaded = loaded || import("../vendor/novnc/core/rfb.js"); return loaded; };

export async function open(box, vmId, { onState } = {}) {
  const { default: RFB } = await loadRfb();
  const state = h("p", { class: "term-state", role: "status", id: "screen-state" }, "Connecting…");
  const screen = h("div", { class: "screen", "aria-label": "VM screen", role: "application" });
  box.replaceChildren(state, screen);
  const say = (text) => { state.textContent = text; if (onState) onState(text); };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/vm/${encodeURIComponent(vmId)}/vnc`, ["binary"]);
  let refused = null;
  ws.addEventListener("message", (message) => {
    if (typeof message.data !== "string") return;
    try { refused = JSON.parse(message.data).error.message; } catch { refused = message.data; }
    say(refused);
  });
  const rfb = new RFB(screen, ws, { shared: true });
  rfb.scaleViewport = true;
  rfb.focusOnClick = true;
  let name = "";
  rfb.addEventListener("desktopname", (e) => { name = e.detail.name; });
  rfb.addEventListener("connect", () => { say(`Connected${name ? ` to ${name}` : ""}`); rfb.focus(); });
  rfb.addEventListener("disconnect", (e) => { if (!refused) say(e.detail.clean ? "Disconnected" : "The screen's connection was lost"); });
  rfb.addEventListener("securityfailure", (e) => say(`VNC refused the connection: ${e.detail.reason || e.detail.status}`));
  return {
    focus: () => rfb.focus(),
    ctrlAltDel: () => rfb.sendCtrlAltDel(),
    close: () => { try { rfb.disconnect(); } catch { /* already closed */ } box.replaceChildren(); },
  };
}
