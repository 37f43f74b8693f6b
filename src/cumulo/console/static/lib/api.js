// The console talks only to the public API, with the session cookie (HttpOnly: never readable here)
// and, on unsafe methods, the CSRF token of the readable cumulo_csrf cookie (double submit).

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `request failed (${status})`);
    this.status = status;
    this.code = err.code || "ERROR";
    this.fields = Array.isArray(err.details) ? err.details.filter((d) => d && d.field) : [];
  }
}

const listeners = { unauthorized: [] };
export function onUnauthorized(fn) { listeners.unauthorized.push(fn); }

export function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("cumulo_csrf="));
  return found ? decodeURIComponent(found.slice("cumulo_csrf=".length)) : "";
}

function headersFor(method, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (!["GET", "HEAD", "OPTIONS"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
  return headers;
}

async function failure(res) {
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  const error = new ApiError(res.status, body);
  if (res.status === 401) listeners.unauthorized.forEach((fn) => fn(error));
  return error;
}

// A load the network dropped (fetch's TypeError: the connection reset, or the browser saw its
// network change and aborted what was in flight) is tried again a moment later, twice at most. Only
// what is safe to repeat goes through it: reads and module imports, never a write.
const RETRY_MS = [250, 1000];
const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export async function retried(load) {
  for (let i = 0; ; i += 1) {
    try {
      return await load();
    } catch (error) {
      if (!(error instanceof TypeError) || i >= RETRY_MS.length) throw error;
      await pause(RETRY_MS[i]);
    }
  }
}

export async function request(method, path, { json, body, headers, raw } = {}) {
  const init = { method, credentials: "same-origin", headers: headersFor(method, headers) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const safe = ["GET", "HEAD"].includes(method);
  const res = await (safe ? retried(() => fetch(path, init)) : fetch(path, init));
  if (!res.ok) throw await failure(res);
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

export const get = (path) => request("GET", path);

// One page of a list the API searches and pages on the server (?q=&status=&limit=&offset=):
// {rows, total} from the body and X-Total-Count.
export async function getPage(path, { q = "", status = "", limit = 50, offset = 0 } = {}) {
  const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
  if (q) params.set("q", q);
  if (status) params.set("status", status);
  const res = await request("GET", `${path}${path.includes("?") ? "&" : "?"}${params}`, { raw: true });
  const rows = await res.json();
  const total = Number(res.headers.get("x-total-count") ?? rows.length);
  return { rows, total };
}
export const post = (path, json) => request("POST", path, { json });
export const put = (path, json) => request("PUT", path, { json });
export const del = (path) => request("DELETE", path);

// An upload with progress (fetch has none for request bodies): XMLHttpRequest, same cookie and token.
export function upload(method, path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    if (file.type) xhr.setRequestHeader("Content-Type", file.type);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(file.size, file.size); resolve(body); }
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { error: { message: "network error" } })));
    xhr.send(file);
  });
}

export const enc = encodeURIComponent;
export function encPath(key) { return key.split("/").map(encodeURIComponent).join("/"); }

// Read an NDJSON response (a build log streaming in) object by object as it arrives.
export async function eachLine(res, fn) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    rest += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = rest.split("\n");
    rest = lines.pop();
    for (const line of lines) if (line.trim()) fn(JSON.parse(line));
    if (done) break;
  }
  if (rest.trim()) fn(JSON.parse(rest));
}
