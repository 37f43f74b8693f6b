// Shared widgets: labelled forms that show the API's validation messages at their fields, a
// confirmation dialog, copyable command snippets, tables, status badges and notices.
import { ApiError } from "./api.js";
import { h, uid } from "./dom.js";

export function pageHeader(title, ...actions) {
  return h("header", { class: "page-header" }, h("h1", {}, title), h("div", { class: "actions" }, actions));
}

// `title`: a longer accessible name that starts with the visible label ("Delete" -> "Delete queue jobs").
export function button(label, onclick, { kind = "", type = "button", title } = {}) {
  return h("button", { type, class: `btn ${kind}`.trim(), onclick, title, "aria-label": title }, label);
}

export function notice(message, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}

let toastBox = null;
export function toast(message, kind = "info") {
  if (!toastBox) {
    toastBox = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const item = h("div", { class: `toast ${kind}` }, message);
  toastBox.append(item);
  setTimeout(() => item.remove(), 5000);
}

const STATUS_KINDS = {
  RUNNING: "ok", ACTIVE: "ok", AVAILABLE: "ok", SUCCESS: "ok", READY: "ok", "IN-USE": "ok", IN_USE: "ok",
  STARTING: "busy", STOPPING: "busy", REBOOTING: "busy", PENDING: "busy", CREATING: "busy", BUILDING: "busy",
  HEALTHY: "ok", DELIVERED: "ok", PAUSED: "idle", DEAD_LETTERED: "bad", COMPLETED: "ok", SUCCEEDED: "ok", DEPLOYED: "ok", SERVING: "ok",
  DEPLOYING: "busy", PROVISIONING: "busy", BACKING_UP: "busy", RESTORING: "busy", DRAINING: "busy", QUEUED: "busy",
  STOPPED: "idle", ERROR: "bad", FAILED: "bad", UNHEALTHY: "bad", CRASHED: "bad",
};
export function statusBadge(status) {
  const value = String(status || "unknown");
  return h("span", { class: `badge ${STATUS_KINDS[value.toUpperCase()] || "idle"}`, dataset: { status: value } }, value);
}

export function table(columns, rows, { empty = "Nothing here yet." } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", { dataset: { id: row.id || row.name || "" } },
        columns.map((c) => h("td", { dataset: { label: c.label } }, c.cell(row))))))));
}

export function definitionList(pairs) {
  return h("dl", { class: "details" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

// A copyable snippet (the CLI or curl equivalent of a form).
export function snippet(title, textFn) {
  const code = h("code", {});
  const refresh = () => { code.textContent = textFn(); };
  refresh();
  const copy = button("Copy", async () => {
    try { await navigator.clipboard.writeText(code.textContent); toast("Copied"); }
    catch { toast("Select the text and copy it", "error"); }
  }, { kind: "small" });
  const box = h("details", { class: "snippet" }, h("summary", {}, title), h("pre", {}, code), copy);
  box.refresh = refresh;
  return box;
}

export function confirmDialog(message, { confirm = "Delete", kind = "danger" } = {}) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-label": "Confirm" },
      h("form", { method: "dialog" },
        h("p", {}, message),
        h("div", { class: "actions" },
          h("button", { class: "btn", value: "cancel", type: "submit" }, "Cancel"),
          h("button", { class: `btn ${kind}`, value: "ok", type: "submit" }, confirm))));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(dialog.returnValue === "ok"); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// fields: [{name, label, type, required, placeholder, options, help, value, min, max, step, rows}]
// The API answers bad input with {error: {message, details: [{field, message}]}}: each message is
// shown under its input (matched on the field's first segment), the rest above the button.
export function form({ fields, submit = "Create", onSubmit, onInput, className = "" }) {
  const inputs = {};
  const errors = {};
  const formError = h("p", { class: "form-error", role: "alert", hidden: true });
  const rows = fields.map((f) => {
    const id = uid(f.name);
    const errId = `${id}-error`;
    const attrs = { id, name: f.name, required: f.required, placeholder: f.placeholder, min: f.min, max: f.max,
      step: f.step, "aria-describedby": `${errId}${f.help ? ` ${id}-help` : ""}`, autocomplete: f.autocomplete };
    let input;
    if (f.type === "select") {
      input = h("select", attrs, (f.options || []).map((o) => {
        const [value, label] = Array.isArray(o) ? o : [o, o];
        return h("option", { value, selected: value === f.value }, label);
      }));
    } else if (f.type === "textarea") {
      input = h("textarea", { ...attrs, rows: f.rows || 4 }, f.value || "");
    } else if (f.type === "checkbox") {
      input = h("input", { ...attrs, type: "checkbox", checked: !!f.value });
    } else {
      input = h("input", { ...attrs, type: f.type || "text", value: f.value ?? "" });
    }
    inputs[f.name] = input;
    errors[f.name] = h("p", { class: "field-error", id: errId, hidden: true });
    return h("div", { class: `field ${f.type === "checkbox" ? "check" : ""}` },
      h("label", { for: id }, f.label), input,
      f.help ? h("p", { class: "help", id: `${id}-help` }, f.help) : null, errors[f.name]);
  });
  const go = h("button", { type: "submit", class: "btn primary" }, submit);
  const el = h("form", { class: `form ${className}`.trim(), novalidate: true }, rows, formError, h("div", { class: "actions" }, go));

  const values = () => {
    const out = {};
    for (const f of fields) {
      const input = inputs[f.name];
      if (f.type === "checkbox") out[f.name] = input.checked;
      else if (f.type === "file") out[f.name] = input.files[0] || null;
      else out[f.name] = input.value;
    }
    return out;
  };
  const reset = () => {
    formError.hidden = true;
    for (const [name, p] of Object.entries(errors)) {
      p.hidden = true; p.textContent = "";
      inputs[name].removeAttribute("aria-invalid");
    }
  };
  const show = (error) => {
    const loose = [];
    const shown = Array.isArray(error.fields) ? error.fields : [];
    for (const item of shown) {
      const name = String(item.field).split(".")[0];
      if (errors[name]) {
        errors[name].textContent = errors[name].textContent ? `${errors[name].textContent}; ${item.message}` : item.message;
        errors[name].hidden = false;
        inputs[name].setAttribute("aria-invalid", "true");
      } else loose.push(`${item.field}: ${item.message}`);
    }
    if (!shown.length || loose.length) {
      formError.textContent = shown.length ? loose.join("; ") : error.message;
      formError.hidden = false;
    }
    const first = el.querySelector("[aria-invalid=true]");
    if (first) first.focus();
  };
  el.addEventListener("input", () => onInput && onInput(values()));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    reset();
    go.disabled = true;
    try { await onSubmit(values(), el); }
    catch (error) { show(error); }
    finally { go.disabled = false; }
  });
  el.inputs = inputs;
  el.values = values;
  el.showError = show;
  return el;
}

// An object as "A=1\nB=2" lines (the inverse of parsePairs).
export function pairsText(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `${k}=${v}`).join("\n");
}

// Split "A=1\nB=2" into an object (env vars in forms).
export function parsePairs(text) {
  const out = {};
  for (const line of String(text || "").split("\n")) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf("=");
    if (at < 0) out[trimmed] = "";
    else out[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  return out;
}

export function shellQuote(value) {
  const text = String(value);
  return /^[A-Za-z0-9_./:@=,-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

export function curl(method, path, body) {
  const parts = [`curl -X ${method} "$CUMULO_URL${path}"`, '-H "X-API-Key: $CUMULO_API_KEY"'];
  if (body !== undefined) parts.push('-H "Content-Type: application/json"', `-d ${shellQuote(JSON.stringify(body))}`);
  return parts.join(" \\\n  ");
}

export function errorBox(error) {
  return notice(error instanceof ApiError ? `${error.message} (${error.code})` : String(error.message || error), "error");
}

// "Showing 51–100 of 1000" with Previous/Next, for a list paged on the server.
export function pager({ offset, limit, total, shown, go, what = "rows" }) {
  if (!total) return h("p", { class: "pager", role: "status" }, "");
  const first = offset + 1;
  const last = offset + shown;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("span", { role: "status" }, `Showing ${first}–${last} of ${total} ${what}`),
    h("button", { type: "button", class: "btn small", disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, "Previous"),
    h("button", { type: "button", class: "btn small", disabled: last >= total, onclick: () => go(offset + limit) }, "Next"));
}
