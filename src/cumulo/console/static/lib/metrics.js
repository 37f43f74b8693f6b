// CPU and memory charts of a resource from the metrics API (an instance's /instances/{id}/metrics, a
// database's /databases/{id}/metrics/series, a deployment's /deployments/{id}/metrics: its replicas
// summed), drawn into `box` and redrawn at the sampler's interval until the returned stop() is called.
import { get } from "./api.js";
import { lineChart } from "./chart.js";
import { clear, fmtBytes } from "./dom.js";
import { errorBox } from "./ui.js";

export function metricsCharts(box, path, { cpuMax = 100 } = {}) {
  let timer = null;
  let stopped = false;
  const load = async () => {
    let series;
    try { series = await get(path); } catch (error) { if (!stopped) clear(box, errorBox(error)); return; }
    if (stopped) return;
    const at = (value) => series.points.map((p) => ({ time: p.time, value: value(p) }));
    const last = series.points.length ? series.points[series.points.length - 1] : null;
    const members = last && last.members > 1 ? ` (${last.members} replicas)` : "";
    clear(box,
      lineChart(`CPU${members}`, at((p) => p.cpu_percent), { max: cpuMax, format: (v) => `${v.toFixed(1)} %` }),
      lineChart(`Memory${members}`, at((p) => p.memory_bytes), { max: last ? last.memory_limit_bytes : 0, format: fmtBytes }));
    timer = setTimeout(load, Math.max(2, series.interval_seconds) * 1000);
  };
  load();
  return () => { stopped = true; clearTimeout(timer); };
}
