// SVG charts for the dashboard and the reports: bars, a line, bars with a line on a second axis, and horizontal
// bars in groups. Each is drawn at the pixel size of the box it is shown in (its viewBox is that box), so a label
// of FONT_PX is FONT_PX CSS pixels on the screen, whatever the screen: a picture drawn once and scaled into a
// smaller box made the labels of the reports' charts 7 px on a 1366x768 dashboard. A host that changes size is
// drawn again (one ResizeObserver); a chart may also be drawn into an <img> as an SVG image of the img's size.
//
// Colours and sizes are attributes and CSSOM styles, not a stylesheet: the same chart must read the same inline on
// any page and inside an <img>, where no page CSS reaches (a page may still colour its inline charts by class).
// Every bar and point carries data-label / data-value, so tests (and a curious manager's devtools) can read what
// was drawn without measuring pixels.

const SVG = "http://www.w3.org/2000/svg";
/** Every text of every chart, in CSS px as shown: readable at a desk, and never under 12 px. */
export const FONT_PX = 13;
const FONT = '"WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
  + "Arial, sans-serif";
const INK = { text: "#475569", grid: "#e2e8f0", bar: "#93c5fd", now: "#1d4ed8", line: "#b45309", red: "#c0262d",
  value: "#1e3a8a", second: "#f59e0b" };
/** Colours of the five 好差评 levels, 非常满意 (5) to 非常不满意 (1). */
export const LEVEL_COLOURS = { 5: "#15803d", 4: "#65a30d", 3: "#94a3b8", 2: "#d97706", 1: "#c0262d" };
const GAP = 6;
const MIN_PX = 60; // a host narrower or lower than this is hidden (a closed panel): drawn once it shows

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A text of the chart: its size and face set on the element itself, so no page's stylesheet can shrink it. */
function text(x, y, content, { cls = "tick", anchor = "middle", fill = INK.text, bold = false, transform } = {}) {
  const node = svgEl("text", { x, y, class: cls, "text-anchor": anchor, fill, "font-size": FONT_PX,
    "font-family": FONT, "font-weight": bold ? 700 : null, transform }, String(content));
  node.style.fontSize = `${FONT_PX}px`;
  node.style.fontFamily = FONT;
  return node;
}

let measurer = null;
/** The width a text takes at FONT_PX in the charts' face. */
function textWidth(content) {
  measurer ??= document.createElement("canvas").getContext("2d");
  measurer.font = `${FONT_PX}px ${FONT}`;
  return measurer.measureText(String(content)).width;
}

/** A "nice" axis top and step for values up to ``max``: 0, 5, 10 … rather than 0, 4.3, 8.6 … */
function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: ticks, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  return { top: step * Math.ceil(max / step), step };
}

function ticksOf(top, step) {
  const values = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(Number(v.toFixed(6)));
  return values;
}

/** How many ticks a vertical axis of ``height`` px has room for (a label's height and a gap each). */
function tickCount(height) {
  return Math.max(2, Math.min(5, Math.floor(height / (FONT_PX * 2.6))));
}

/** The legend under a chart: a swatch and a text per entry, centred, on one line. */
function legend(svg, entries, width, y) {
  const widths = entries.map((e) => 14 + textWidth(e.text));
  const total = widths.reduce((a, b) => a + b, 0) + 16 * (entries.length - 1);
  let x = Math.max(4, (width - total) / 2);
  entries.forEach((e, i) => {
    const swatch = e.kind === "line"
      ? svgEl("line", { x1: x, x2: x + 10, y1: y - FONT_PX / 3, y2: y - FONT_PX / 3, stroke: e.colour,
        "stroke-width": 2.5 })
      : e.kind === "mark"
        ? svgEl("line", { x1: x + 5, x2: x + 5, y1: y - FONT_PX + 2, y2: y + 1, stroke: e.colour, "stroke-width": 3 })
        : svgEl("rect", { x, y: y - FONT_PX + 3, width: 10, height: 10, rx: 2, fill: e.colour });
    svg.append(swatch, text(x + 14, y, e.text, { cls: "legend", anchor: "start" }));
    x += widths[i] + 16;
  });
}

/** A label too wide for its slot in two lines: at the space nearest its middle, or (Chinese) at its middle. */
function wrap(label) {
  const words = label.split(" ");
  if (words.length > 1) {
    const imbalance = (n) => Math.abs(words.slice(0, n).join(" ").length - words.slice(n).join(" ").length);
    let best = 1;
    for (let k = 2; k < words.length; k += 1) if (imbalance(k) < imbalance(best)) best = k;
    return [words.slice(0, best).join(" "), words.slice(best).join(" ")];
  }
  const chars = Array.from(label);
  const half = Math.ceil(chars.length / 2);
  return chars.length > 1 ? [chars.slice(0, half).join(""), chars.slice(half).join("")] : [label];
}

/**
 * The frame the vertical charts share: gridlines, the left (and an optional right) axis with its ticks and
 * title, x labels, the x title and a legend. Returns the scales. Labels too wide for their slots go in two lines,
 * else alternate between two rows, else are thinned (every 2nd, 3rd …; of times of day, the whole hours).
 */
function frame(width, height, points, { yTitle, xTitle, format = String, max, right, legendEntries = [],
  valueLines = 1 }) {
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  svg.style.display = "block";
  svg.style.maxWidth = "100%"; // until the observer draws it again at a narrower host's size
  const line = FONT_PX + GAP;
  const times = points.length > 0 && points.every((p) => /^\d\d:\d\d$/.test(p.label));
  let layout;
  // Laid out twice at most: labels that must go in two lines take a line of the plot's height.
  for (const labelLines of [1, 2]) {
    const pad = { top: FONT_PX * valueLines + 8,
      bottom: line * (1 + labelLines) + (legendEntries.length ? line : 0) + 4 };
    const plotH = Math.max(10, height - pad.top - pad.bottom);
    const left = niceScale(max, tickCount(plotH));
    const leftTicks = ticksOf(left.top, left.step);
    pad.left = FONT_PX + 8 + Math.max(...leftTicks.map((v) => textWidth(format(v)))) + GAP;
    let rightScale = null;
    let rightTicks = [];
    pad.right = 14;
    if (right) {
      rightScale = niceScale(right.max, leftTicks.length - 1);
      rightTicks = ticksOf(rightScale.top, rightScale.step);
      pad.right = GAP + Math.max(...rightTicks.map((v) => textWidth((right.format ?? String)(v)))) + FONT_PX + 10;
    }
    const plotW = Math.max(10, width - pad.left - pad.right);
    const slot = plotW / Math.max(1, points.length);
    const widest = (labels) => Math.max(0, ...labels.map((l) => textWidth(l)));
    const fits = (labels, room = slot) => widest(labels) + 6 <= room;
    let lines = points.map((p) => [p.label]);
    let every = 1;
    if (labelLines === 2) {
      const wrapped = points.map((p) => (fits([p.label]) ? [p.label] : wrap(p.label)));
      if (fits(wrapped.flat())) lines = wrapped;
      else if (fits(points.map((p) => p.label), slot * 2)) {
        lines = points.map((p, i) => (i % 2 ? [null, p.label] : [p.label]));
      } else every = Math.ceil((widest(points.map((p) => p.label)) + 6) / slot);
    } else if (times) {
      every = Math.ceil((widest(points.map((p) => p.label)) + 6) / slot);
    }
    layout = { pad, plotH, plotW, left, leftTicks, rightScale, rightTicks, slot, lines, labelLines, every };
    if (labelLines === 2 || times || fits(points.map((p) => p.label))) break;
  }
  const { pad, plotH, plotW, left, leftTicks, rightScale, rightTicks, slot, lines, labelLines, every } = layout;
  const bottom = pad.top + plotH;
  const y = (v) => bottom - (v / left.top) * plotH;
  const yRight = rightScale ? (v) => bottom - (v / rightScale.top) * plotH : null;
  const x = (i) => pad.left + slot * i + slot / 2;

  for (const v of leftTicks) {
    svg.append(svgEl("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid",
      stroke: INK.grid, "stroke-width": 1 }));
    svg.append(text(pad.left - GAP, y(v) + FONT_PX / 3, format(v), { anchor: "end" }));
  }
  const middle = pad.top + plotH / 2;
  if (right) {
    rightTicks.forEach((v) => {
      svg.append(text(width - pad.right + GAP, yRight(v) + FONT_PX / 3, (right.format ?? String)(v),
        { anchor: "start" }));
    });
    // Turned a quarter clockwise, the glyphs stand right of the baseline: it sits a glyph's height in.
    const at = width - FONT_PX - 3;
    svg.append(text(at, middle, right.title, { cls: "axis-title", transform: `rotate(90 ${at} ${middle})` }));
  }
  const hoursEvery = points.some((p) => p.label.endsWith(":30")) ? Math.ceil(every / 2) : every;
  const labelY = bottom + FONT_PX + 4;
  points.forEach((p, i) => {
    const shown = every === 1 || (times
      ? p.label.endsWith(":00") && Number(p.label.slice(0, 2)) % hoursEvery === 0
      : i % every === 0);
    if (!shown) return;
    lines[i].forEach((part, k) => { if (part !== null) svg.append(text(x(i), labelY + k * (FONT_PX + 2), part)); });
  });
  const titleY = labelY + (labelLines - 1) * (FONT_PX + 2) + line;
  // Turned a quarter anticlockwise, the glyphs stand left of the baseline: it sits a glyph's height in.
  const at = FONT_PX + 3;
  svg.append(text(at, middle, yTitle, { cls: "axis-title", transform: `rotate(-90 ${at} ${middle})` }));
  svg.append(text(pad.left + plotW / 2, titleY, xTitle, { cls: "axis-title" }));
  if (legendEntries.length) legend(svg, legendEntries, width, titleY + line);
  return { svg, y, yRight, x, slot, plotBottom: bottom, left: pad.left, right: width - pad.right };
}

/**
 * Bars: one <rect class="bar"> per point, with data-label and data-value; above each its value, or the point's
 * own text (a string, or lines, the last nearest the bar), when it fits the bar's slot.
 */
function bars(svg, points, { x, y, slot, plotBottom }, { highlight, format = String, colour = INK.bar,
  values = true }) {
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  points.forEach((p, i) => {
    const value = p.value ?? 0;
    const top = y(value);
    const bar = svgEl("rect", { x: x(i) - barW / 2, y: top, width: barW, height: Math.max(0, plotBottom - top),
      rx: 2, class: p.label === highlight ? "bar now" : "bar", fill: p.label === highlight ? INK.now : colour });
    if (p.colour) bar.style.fill = p.colour; // its own colour (a rating level), whatever a page says of .bar
    bar.dataset.label = p.label;
    bar.dataset.value = String(value);
    const said = p.text === undefined ? null : [p.text].flat();
    bar.append(svgEl("title", {}, `${p.label}  ${said ? said.join(" ") : format(value)}`));
    svg.append(bar);
    if (!values) return;
    const shown = said ?? (value > 0 ? [format(value)] : []);
    if (shown.length && Math.max(...shown.map((l) => textWidth(l))) <= slot - 2) {
      shown.forEach((part, k) => svg.append(text(x(i), top - 4 - (shown.length - 1 - k) * (FONT_PX + 1), part,
        { cls: "value", fill: INK.value, bold: true })));
    }
  });
}

function barSvg(width, height, { name, points, yTitle, xTitle, highlight, format = String, legendEntries }) {
  const max = Math.max(0, ...points.map((p) => p.value ?? 0));
  const valueLines = Math.max(1, ...points.map((p) => (Array.isArray(p.text) ? p.text.length : 1)));
  const f = frame(width, height, points, { yTitle, xTitle, max, legendEntries, valueLines });
  bars(f.svg, points, f, { highlight, format });
  f.svg.dataset.chart = name;
  f.svg.dataset.bars = String(points.length);
  return f.svg;
}

/** A line through the points that have a value (null: nothing then, so the line breaks rather than dropping). */
function linePath(svg, points, x, y, { format = String, colour = INK.line }) {
  let d = "";
  let drawing = false;
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined) { drawing = false; return; }
    d += `${drawing ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)} `;
    drawing = true;
  });
  svg.append(svgEl("path", { d: d.trim(), class: "line", fill: "none", stroke: colour, "stroke-width": 2.5,
    "stroke-linejoin": "round" }));
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined) return;
    const dot = svgEl("circle", { cx: x(i), cy: y(p.value), r: 4, class: "point", fill: "#fff", stroke: colour,
      "stroke-width": 2 });
    dot.dataset.label = p.label;
    dot.dataset.value = String(p.value);
    dot.append(svgEl("title", {}, `${p.label}  ${format(p.value)}`));
    svg.append(dot);
  });
}

function lineSvg(width, height, { name, points, yTitle, xTitle, format = String, reference }) {
  const values = points.map((p) => p.value).filter((v) => v !== null && v !== undefined);
  const max = Math.max(0, ...values, reference?.value ?? 0);
  const f = frame(width, height, points, { yTitle, xTitle, format, max });
  if (reference) {
    f.svg.append(svgEl("line", { x1: f.left, x2: f.right, y1: f.y(reference.value), y2: f.y(reference.value),
      class: "reference", stroke: INK.red, "stroke-dasharray": "5 4" }));
    f.svg.append(text(f.right, f.y(reference.value) - 4, reference.label,
      { cls: "reference-label", anchor: "end", fill: INK.red }));
  }
  linePath(f.svg, points, f.x, f.y, { format });
  f.svg.dataset.chart = name;
  f.svg.dataset.points = String(values.length);
  return f.svg;
}

/** Bars (left axis) and a line (right axis) over the same labels: points = [{label, bar, line}]. */
function barLineSvg(width, height, { name, points, barTitle, lineTitle, xTitle, lineFormat = String }) {
  const lineValues = points.map((p) => p.line).filter((v) => v !== null && v !== undefined);
  const f = frame(width, height, points, {
    yTitle: barTitle, xTitle, max: Math.max(0, ...points.map((p) => p.bar ?? 0)),
    right: { title: lineTitle, format: lineFormat, max: Math.max(0, ...lineValues) },
    legendEntries: [{ text: barTitle, colour: INK.bar }, { text: lineTitle, colour: INK.line, kind: "line" }],
  });
  // No values over these bars: the line's points would sit on them; the axes say both.
  bars(f.svg, points.map((p) => ({ label: p.label, value: p.bar })), f, { values: false });
  linePath(f.svg, points.map((p) => ({ label: p.label, value: p.line })), f.x, f.yRight, { format: lineFormat });
  f.svg.dataset.chart = name;
  f.svg.dataset.bars = String(points.length);
  f.svg.dataset.points = String(lineValues.length);
  return f.svg;
}

/**
 * Horizontal bars, a group per row: rows = [{label, values: [a, b], mark}], series = [{title, colour}]; an optional
 * mark per row (a target) is a red tick titled ``markTitle``. Each bar is a <rect class="bar"> with data-label,
 * data-series and data-value.
 */
function hbarSvg(width, height, { name, rows, series, markTitle, xTitle, format = String }) {
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  svg.style.display = "block";
  svg.style.maxWidth = "100%";
  const line = FONT_PX + GAP;
  const entries = series.map((s) => ({ text: s.title, colour: s.colour }));
  if (markTitle && rows.some((r) => r.mark !== null && r.mark !== undefined)) {
    entries.push({ text: markTitle, colour: INK.red, kind: "mark" });
  }
  const pad = { top: 8, bottom: line * 3 + 4, right: 18 };
  pad.left = Math.min(width * 0.4, Math.max(0, ...rows.map((r) => textWidth(r.label))) + GAP * 2);
  const plotW = Math.max(10, width - pad.left - pad.right);
  const plotH = Math.max(10, height - pad.top - pad.bottom);
  const max = Math.max(0, ...rows.flatMap((r) => [...r.values.map((v) => v ?? 0), r.mark ?? 0]));
  const { top, step } = niceScale(max, Math.max(2, Math.min(5, Math.floor(plotW / 90))));
  const x = (v) => pad.left + (v / top) * plotW;
  const bottom = pad.top + plotH;
  for (const v of ticksOf(top, step)) {
    svg.append(svgEl("line", { x1: x(v), x2: x(v), y1: pad.top, y2: bottom, class: "grid", stroke: INK.grid }));
    svg.append(text(x(v), bottom + FONT_PX + 4, format(v)));
  }
  const slot = plotH / Math.max(1, rows.length);
  const barH = Math.max(2, Math.min(16, (slot * 0.8) / series.length));
  // Row labels when they fit their slot; else every 2nd, 3rd …
  const every = Math.max(1, Math.ceil((FONT_PX + 2) / slot));
  rows.forEach((r, i) => {
    const middle = pad.top + slot * i + slot / 2;
    if (i % every === 0) svg.append(text(pad.left - GAP, middle + FONT_PX / 3, r.label, { anchor: "end" }));
    series.forEach((s, k) => {
      const value = r.values[k] ?? 0;
      const barY = middle - (barH * series.length) / 2 + barH * k;
      const bar = svgEl("rect", { x: pad.left, y: barY, width: Math.max(0, x(value) - pad.left), height: barH - 1,
        rx: 2, class: "bar", fill: s.colour });
      bar.style.fill = s.colour;
      bar.dataset.label = r.label;
      bar.dataset.series = String(k);
      bar.dataset.value = String(value);
      bar.append(svgEl("title", {}, `${r.label} · ${s.title}  ${format(value)}`));
      svg.append(bar);
    });
    if (r.mark !== null && r.mark !== undefined) {
      svg.append(svgEl("line", { x1: x(r.mark), x2: x(r.mark), y1: middle - (barH * series.length) / 2 - 3,
        y2: middle + (barH * series.length) / 2 + 3, class: "mark", stroke: INK.red, "stroke-width": 3 }));
    }
  });
  svg.append(text(pad.left + plotW / 2, bottom + FONT_PX + 4 + line, xTitle, { cls: "axis-title" }));
  legend(svg, entries, width, bottom + FONT_PX + 4 + line * 2);
  svg.dataset.chart = name;
  svg.dataset.bars = String(rows.length);
  return svg;
}

const RENDER = { bar: barSvg, line: lineSvg, barLine: barLineSvg, hbar: hbarSvg };

// -- drawing into a host, or into an <img> -------------------------------------------------------------
const drawn = new WeakMap(); // element -> {kind, options, image, width, height, url}: to draw again on a resize
let observer = null;

function boxOf(node) {
  const box = node.getBoundingClientRect();
  return { width: Math.floor(box.width), height: Math.floor(box.height) };
}

function render(node, kind, options, image) {
  const { width, height } = boxOf(node);
  if (!drawn.has(node)) {
    observer ??= new ResizeObserver((entries) => {
      for (const entry of entries) {
        const last = drawn.get(entry.target);
        const now = boxOf(entry.target);
        if (last && (now.width !== last.width || now.height !== last.height)) {
          render(entry.target, last.kind, last.options, last.image);
        }
      }
    });
    observer.observe(node);
  }
  const entry = { kind, options, image, width, height, url: drawn.get(node)?.url };
  drawn.set(node, entry);
  if (width < MIN_PX || height < MIN_PX) return; // hidden: the observer draws it when it shows
  const svg = RENDER[kind](width, height, options);
  if (!image) {
    node.replaceChildren(svg);
    return;
  }
  svg.setAttribute("xmlns", SVG);
  const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: "image/svg+xml" }));
  if (entry.url) URL.revokeObjectURL(entry.url); // the image it replaces
  entry.url = url;
  node.src = url;
  node.dataset.chart = options.name;
  node.dataset.drawn = `${width}x${height}`;
}

/** Bars: points = [{label: "09:30", value: 12, text?, colour?}]; the <svg> gets data-chart and data-bars. */
export function barChart(host, options) { render(host, "bar", options, false); }

/** A line: points = [{label, value|null}]; an optional reference (e.g. a target) is a dashed, labelled line. */
export function lineChart(host, options) { render(host, "line", options, false); }

/** Bars with a line on a second axis: points = [{label, bar, line|null}], barTitle, lineTitle, lineFormat. */
export function barLineChart(host, options) { render(host, "barLine", options, false); }

/** Horizontal grouped bars: rows = [{label, values, mark}], series = [{title, colour}], markTitle. */
export function hbarChart(host, options) { render(host, "hbar", options, false); }

/** Any of the charts ("bar", "line", "barLine", "hbar") by its kind, drawn in ``host``. */
export function chart(host, kind, options) { render(host, kind, options, false); }

/** Any of the charts ("bar", "line", "barLine", "hbar") as an SVG image in ``img``, drawn at the img's box. */
export function chartImage(img, kind, options) { render(img, kind, options, true); }
