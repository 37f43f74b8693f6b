// Live updates: one EventSource on the API's own /events/stream (the caller's own audit events).
// A page subscribes and reads its data again when an event concerns it; `null` means "something may
// have been missed, read everything again" (a reconnect, or the stream fell behind). When the stream
// cannot be held open, pages are refreshed by polling until it comes back.

const subscribers = new Set();
const watchers = new Set();
let source = null;
let poller = null;
let state = "off";

function setState(next) {
  state = next;
  watchers.forEach((fn) => fn(state));
}

function emit(event) {
  for (const fn of [...subscribers]) {
    try { fn(event); } catch (error) { console.error(error); }
  }
}

function startPolling() {
  if (poller) return;
  poller = setInterval(() => emit(null), 3000);
}

function stopPolling() {
  if (poller) clearInterval(poller);
  poller = null;
}

export function start() {
  if (source || typeof EventSource === "undefined") { if (!source) startPolling(); return; }
  setState("connecting");
  source = new EventSource("/events/stream", { withCredentials: true });
  source.addEventListener("ready", () => { stopPolling(); setState("live"); emit(null); });
  source.addEventListener("change", (message) => {
    try { emit(JSON.parse(message.data)); } catch (error) { console.error(error); }
  });
  source.addEventListener("reload", () => emit(null));
  source.addEventListener("error", () => {
    if (!source) return;
    if (source.readyState === EventSource.CLOSED) {
      source = null;
      setState("polling");
      startPolling();
      setTimeout(() => { if (!source && state === "polling") start(); }, 5000);
    } else {
      setState("connecting");
    }
  });
}

export function stop() {
  if (source) source.close();
  source = null;
  stopPolling();
  setState("off");
}

export function subscribe(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

// Call `refresh` when an event concerns one of `types` (resource types), or after a gap. Events that
// arrive together (a burst of changes) make one call, 50 ms after the first: with that event when it
// was alone, else with `null` (read everything again).
export function follow(types, refresh) {
  const wanted = new Set(types);
  let batch = [];
  return subscribe((event) => {
    if (event !== null && !wanted.has(event.resource_type)) return;
    batch.push(event);
    if (batch.length > 1) return;
    setTimeout(() => {
      const arg = batch.length === 1 ? batch[0] : null;
      batch = [];
      Promise.resolve(refresh(arg)).catch((error) => console.error(error));
    }, 50);
  });
}

export function watchState(fn) {
  watchers.add(fn);
  fn(state);
  return () => watchers.delete(fn);
}
