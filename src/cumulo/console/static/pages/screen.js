// A screen over VNC, drawn by noVNC (vendored, loaded on demand): a VM's display (/vm/{id}/vnc:
// QEMU's, the relay is the lock, no VNC password) or a container's desktop (/instances/{id}/vnc:
// the cumulo/desktop image, whose VNC server asks for the instance's password, typed here and sent
// only in the RFB handshake). The session cookie authenticates the socket (same origin, like the
// terminal). The socket is made here and handed to noVNC, so the API's refusal (a JSON text frame,
// then a 44xx close) is shown as its message.
import { retried } from "../lib/api.js";
import { h } from "../lib/dom.js";

let loaded = null;
const loadRfb = () => {
  if (!loaded) {
    loaded = retried(() => import("../vendor/novnc/core/rfb.js"));
    loaded.catch(() => { loaded = null; }); // not loaded: tried again at the next screen opened
  }
  return loaded;
};

export async function open(box, inst, { onState } = {}) {
  const { default: RFB } = await loadRfb();
  const state = h("p", { class: "term-state", role: "status", id: "screen-state" }, "Connecting…");
  const screen = h("div", { class: "screen", "aria-label": "VM screen", role: "application" });
  const ask = h("form", { class: "form inline", "aria-label": "VNC password", style: "display: none" }); // .form sets display
  box.replaceChildren(state, ask, screen);
  const say = (text) => { state.textContent = text; if (onState) onState(text); };
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const path = inst.backend === "vm" ? `/vm/${encodeURIComponent(inst.id)}/vnc` : `/instances/${encodeURIComponent(inst.id)}/vnc`;
  const ws = new WebSocket(`${scheme}://${location.host}${path}`, ["binary"]);
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
  rfb.addEventListener("securityfailure", (e) => { refused = `VNC refused the connection: ${e.detail.reason || "wrong password"}`; say(refused); });
  rfb.addEventListener("credentialsrequired", () => {
    const input = h("input", { type: "password", id: "vnc-password", autocomplete: "off", required: true });
    ask.replaceChildren(h("div", { class: "field" }, h("label", { for: "vnc-password" }, "Instance password"), input),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary" }, "Connect")));
    ask.onsubmit = (event) => {
      event.preventDefault();
      ask.style.display = "none";
      say("Checking the password…");
      rfb.sendCredentials({ password: input.value });
      input.value = "";
    };
    ask.style.display = "";
    say("The desktop asks for the instance's password");
    input.focus();
  });
  return {
    focus: () => rfb.focus(),
    ctrlAltDel: () => rfb.sendCtrlAltDel(),
    close: () => { try { rfb.disconnect(); } catch { /* already closed */ } box.replaceChildren(); },
  };
}
