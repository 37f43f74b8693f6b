// A small line chart as inline SVG (no library): one series over time, its axis from 0 to `max`
// (or the series' own top), the latest value in the caption and in the image's label for screen readers.
const NS = "http://www.w3.org/2000/svg";
const W = 320;
const H = 96;
const PAD = 4;

function svg(tag, attrs, text) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

// points: [{time, value}] oldest first; format(value) -> text.
export function lineChart(title, points, { max, format = (v) => String(v) } = {}) {
  const figure = document.createElement("figure");
  figure.className = "chart";
  const latest = points.length ? points[points.length - 1].value : null;
  const top = Math.max(max || 0, ...points.map((p) => p.value), 1e-9);
  const label = latest === null ? `${title}: no samples yet` : `${title}: ${format(latest)} now, ${points.length} samples`;
  const image = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-points": points.length,
    preserveAspectRatio: "none" });
  image.append(svg("rect", { x: 0, y: 0, width: W, height: H, class: "chart-bg" }));
  if (points.length) {
    const t0 = Date.parse(points[0].time);
    const span = Math.max(Date.parse(points[points.length - 1].time) - t0, 1);
    const xy = points.map((p) => {
      const x = points.length === 1 ? W / 2 : PAD + ((Date.parse(p.time) - t0) / span) * (W - 2 * PAD);
      const y = H - PAD - (p.value / top) * (H - 2 * PAD);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    if (points.length === 1) {
      const [x, y] = xy[0].split(",");
      image.append(svg("circle", { cx: x, cy: y, r: 2.5, class: "chart-line" }));
    } else {
      image.append(svg("polyline", { points: xy.join(" "), class: "chart-line", fill: "none" }));
    }
  }
  const caption = document.createElement("figcaption");
  caption.textContent = latest === null ? `${title}: no samples yet` : `${title}: ${format(latest)} (scale 0 – ${format(top)})`;
  figure.append(caption, image);
  return figure;
}
