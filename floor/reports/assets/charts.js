// Two small SVG charts for the dashboard: bars (arrivals per half hour) and a line (average wait per half
// hour). Drawn at the host's pixel size so text stays crisp and undistorted; call again on resize. Every
// bar and point carries data-label / data-value, so tests (and a curious manager's devtools) can read what
// was drawn without measuring pixels.

const SVG = "http://www.w3.org/2000/svg";
const PAD = { left: 52, right: 14, top: 16, bottom: 42 };

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A "nice" axis top and step for values up to ``max``: 0, 5, 10 … rather than 0, 4.3, 8.6 … */
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return { top: step * Math.ceil(max / step), step };
}

/** The frame both charts share: gridlines, y ticks, x labels thinned to fit, axis titles. */
function frame(host, points, { yTitle, xTitle, format = String, max }) {
  const width = Math.max(240, host.clientWidth);
  const height = Math.max(140, host.clientHeight);
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const { top, step } = niceScale(max);
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  const slot = plotW / Math.max(1, points.length);
  const x = (i) => PAD.left + slot * i + slot / 2;

  for (let v = 0; v <= top + step / 2; v += step) {
    svg.append(svgEl("line", { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(svgEl("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, format(v)));
  }
  // Label every half hour when there is room (about 40 px a label), else whole hours, else every 2nd, 3rd … hour.
  const every = Math.max(1, Math.ceil(40 / slot));
  const hoursEvery = Math.ceil(every / 2);
  points.forEach((p, i) => {
    const onHour = p.label.endsWith(":00") && Number(p.label.slice(0, 2)) % hoursEvery === 0;
    if (every === 1 || onHour) {
      svg.append(svgEl("text", { x: x(i), y: height - PAD.bottom + 16, "text-anchor": "middle", class: "tick" },
        p.label));
    }
  });
  svg.append(svgEl("text", { x: 12, y: PAD.top + plotH / 2, class: "axis-title", "text-anchor": "middle",
    transform: `rotate(-90 12 ${PAD.top + plotH / 2})` }, yTitle));
  svg.append(svgEl("text", { x: PAD.left + plotW / 2, y: height - 6, class: "axis-title", "text-anchor": "middle" },
    xTitle));
  return { svg, y, x, slot, width, plotBottom: PAD.top + plotH };
}

/**
 * Bars: points = [{label: "09:30", value: 12}, …]. One <rect class="bar"> per point (zero-height when
 * zero), each with data-label and data-value; the <svg> gets data-chart=name and data-bars=points.length.
 */
export function barChart(host, { name, points, yTitle, xTitle, highlight }) {
  const max = Math.max(0, ...points.map((p) => p.value ?? 0));
  const { svg, y, x, slot, plotBottom } = frame(host, points, { yTitle, xTitle, max });
  const barW = Math.max(2, Math.min(36, slot * 0.7));
  points.forEach((p, i) => {
    const value = p.value ?? 0;
    const top = y(value);
    const bar = svgEl("rect", { x: x(i) - barW / 2, y: top, width: barW, height: Math.max(0, plotBottom - top),
      rx: 2, class: p.label === highlight ? "bar now" : "bar" });
    bar.dataset.label = p.label;
    bar.dataset.value = String(value);
    bar.append(svgEl("title", {}, `${p.label}  ${value}`));
    svg.append(bar);
    if (value > 0 && barW >= 14) {
      svg.append(svgEl("text", { x: x(i), y: top - 4, "text-anchor": "middle", class: "value" }, String(value)));
    }
  });
  svg.dataset.chart = name;
  svg.dataset.bars = String(points.length);
  host.replaceChildren(svg);
}

/**
 * A line through the points that have a value (null: nothing happened in that half hour, so the line
 * breaks rather than dropping to zero). Each point is a <circle class="point"> with data-label/data-value;
 * an optional reference (e.g. a target) is a dashed line labelled ``reference.label``.
 */
export function lineChart(host, { name, points, yTitle, xTitle, format = String, reference }) {
  const values = points.map((p) => p.value).filter((v) => v !== null && v !== undefined);
  const max = Math.max(0, ...values, reference?.value ?? 0);
  const { svg, y, x, width } = frame(host, points, { yTitle, xTitle, format, max });
  if (reference) {
    svg.append(svgEl("line", { x1: PAD.left, x2: width - PAD.right, y1: y(reference.value),
      y2: y(reference.value), class: "reference" }));
    svg.append(svgEl("text", { x: width - PAD.right, y: y(reference.value) - 4, "text-anchor": "end",
      class: "reference-label" }, reference.label));
  }
  let d = "";
  let drawing = false;
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined) { drawing = false; return; }
    d += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)} `;
    drawing = true;
  });
  svg.append(svgEl("path", { d: d.trim(), class: "line" }));
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined) return;
    const dot = svgEl("circle", { cx: x(i), cy: y(p.value), r: 4, class: "point" });
    dot.dataset.label = p.label;
    dot.dataset.value = String(p.value);
    dot.append(svgEl("title", {}, `${p.label}  ${format(p.value)}`));
    svg.append(dot);
  });
  svg.dataset.chart = name;
  svg.dataset.points = String(values.length);
  host.replaceChildren(svg);
}
