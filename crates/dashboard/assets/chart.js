// Small SVG charts. `HeatChart.render`, for GET /zones/{id}/history: air temperature (mean line over a min-max
// band), target (dashed steps), outdoor temperature, and two strips below for heater-on and occupied shares.
// `HeatChart.renderPlan`, for GET /zones/{id}/plan: the predictive controller's next 24 hours.
// No library: a few hundred buckets are a few hundred path points.

const NS = "http://www.w3.org/2000/svg";
const MINUTE = 60e3, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
const X_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR,
  6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];
const Y_STEPS = [0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20];

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function median(values) {
  if (!values.length) return 0;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const f1 = (v) => v.toFixed(1);

/// Fills a chart's tooltip: a time line, then one "label value" line per row.
function fillTip(tip, time, rows) {
  tip.textContent = "";
  const head = document.createElement("p");
  head.className = "tip-time";
  head.textContent = time;
  tip.appendChild(head);
  for (const [k, v] of rows) {
    const row = document.createElement("p");
    const a = document.createElement("span"); a.className = "muted"; a.textContent = k;
    const c = document.createElement("span"); c.textContent = v;
    row.append(a, c);
    tip.appendChild(row);
  }
}

/// The temperature and time axes both charts share: a rounded °C range over [lo, hi] with grid lines and labels,
/// and time ticks on site-local boundaries (`opts.offsetMin`, labels by `opts.fmtTick`). `g`: the chart's
/// geometry { m, width, height, plotW, plotH, from, to, x }; `a`: { ticks (wanted on y), pxPerTick (x), unitY }.
/// Returns the y scale.
function axes(svg, g, lo, hi, a, opts) {
  const { m, width, height, plotW, plotH, from, to, x } = g;
  if (hi - lo < 2) { const mid = (hi + lo) / 2; lo = mid - 1; hi = mid + 1; }
  const yStep = Y_STEPS.find((s) => (hi - lo) / s <= a.ticks) || 50;
  lo = Math.floor(lo / yStep) * yStep; hi = Math.ceil(hi / yStep) * yStep;
  const y = (v) => m.top + (1 - (v - lo) / (hi - lo)) * plotH;

  const grid = el("g", { class: "grid" }, svg);
  for (let v = lo; v <= hi + yStep / 2; v += yStep) {
    el("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }, grid);
    const label = el("text", { x: m.left - 8, y: y(v) + 4, "text-anchor": "end" }, svg);
    label.textContent = yStep < 1 ? v.toFixed(1) : v.toFixed(0);
  }
  const unit = el("text", { x: m.left - 8, y: a.unitY, "text-anchor": "end" }, svg);
  unit.textContent = "°C";

  const off = (opts.offsetMin || 0) * MINUTE;
  const step = X_STEPS.find((s) => (to - from) / s <= plotW / a.pxPerTick) || 14 * DAY;
  for (let t = Math.ceil((from + off) / step) * step - off; t <= to; t += step) {
    el("line", { x1: x(t), x2: x(t), y1: m.top, y2: m.top + plotH }, grid);
    const label = el("text", { x: x(t), y: height - 8, "text-anchor": "middle" }, svg);
    label.textContent = opts.fmtTick(t, step);
  }
  return y;
}

/// The hover cursor, dot, transparent overlay (with `overlayAttrs`) and the tooltip element (in `container`) of a
/// chart; the cursor and overlay reach down to `bottom`.
function hoverParts(container, svg, g, bottom, overlayAttrs) {
  const { m, plotW } = g;
  const cursor = el("line", { class: "cursor", y1: m.top, y2: bottom, visibility: "hidden" }, svg);
  const dot = el("circle", { class: "dot", r: 4.5, fill: "var(--c-temp)", visibility: "hidden" }, svg);
  const overlay = el("rect", { ...overlayAttrs, x: m.left, y: m.top, width: plotW, height: bottom - m.top, fill: "transparent" }, svg);
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.hidden = true;
  container.appendChild(tip);
  return { cursor, dot, overlay, tip };
}

/// Shows the hover cursor and dot at (`xx`, `yy`).
function placeCursor(parts, xx, yy) {
  const { cursor, dot } = parts;
  cursor.setAttribute("x1", xx); cursor.setAttribute("x2", xx); cursor.setAttribute("visibility", "visible");
  dot.setAttribute("cx", xx); dot.setAttribute("cy", yy); dot.setAttribute("visibility", "visible");
}

function hideHover(parts) {
  parts.tip.hidden = true;
  parts.cursor.setAttribute("visibility", "hidden");
  parts.dot.setAttribute("visibility", "hidden");
}

// ---------- history ----------

/// Layout of a history chart in `container`: the plot, then the heater and occupancy strips below.
function historyGeometry(container, history) {
  const width = Math.max(300, Math.round(container.clientWidth || 800));
  const narrow = width < 560;
  const m = { left: 44, right: 12, top: 22 };
  const plotH = narrow ? 190 : 260;
  const stripH = 12, stripGap = 6;
  const stripY1 = m.top + plotH + 10;
  const stripY2 = stripY1 + stripH + stripGap;
  const height = stripY2 + stripH + 26;
  const plotW = width - m.left - m.right;
  const from = Date.parse(history.from), to = Date.parse(history.to);
  const x = (t) => m.left + ((t - from) / (to - from)) * plotW;
  return { m, width, height, plotW, plotH, from, to, x, narrow, stripH, stripY1, stripY2 };
}

/// Points: the bucket's middle, clipped to the range; and the gap between buckets that breaks the lines.
function historyPoints(buckets, bucketMs, to) {
  const pts = buckets.map((b) => {
    const start = Date.parse(b.start);
    return { b, start, t: Math.min(start + bucketMs / 2, to) };
  });
  const gaps = pts.slice(1).map((p, i) => p.start - pts[i].start);
  // A hole in the data (device offline) breaks the lines: much wider than the usual spacing of readings.
  const maxGap = Math.max(3 * median(gaps), 2.5 * bucketMs);
  return { pts, maxGap };
}

/// y domain over everything drawn.
function historyDomain(pts) {
  let lo = Infinity, hi = -Infinity;
  for (const { b } of pts) {
    lo = Math.min(lo, b.temperature.min); hi = Math.max(hi, b.temperature.max);
    for (const s of [b.target_temp, b.outdoor_temp]) {
      if (s) { lo = Math.min(lo, s.avg); hi = Math.max(hi, s.avg); }
    }
  }
  if (!isFinite(lo)) { lo = 15; hi = 22; }
  return [lo, hi];
}

/// Contiguous runs of points.
function runsOf(pts, maxGap) {
  const runs = [];
  for (let i = 0; i < pts.length; i++) {
    if (i === 0 || pts[i].start - pts[i - 1].start > maxGap) runs.push([]);
    runs[runs.length - 1].push(pts[i]);
  }
  return runs;
}

/// The path data of one run: the min-max band, the mean, the target steps, the outdoor line.
function runPaths(run, x, y) {
  const upper = run.map((p) => `${x(p.t).toFixed(1)},${y(p.b.temperature.max).toFixed(1)}`);
  const lower = run.slice().reverse().map((p) => `${x(p.t).toFixed(1)},${y(p.b.temperature.min).toFixed(1)}`);
  const band = `M${upper.join("L")}L${lower.join("L")}Z`;
  const temp = "M" + run.map((p) => `${x(p.t).toFixed(1)},${y(p.b.temperature.avg).toFixed(1)}`).join("L");
  let target = "", prev = null;
  for (const p of run) {
    if (!p.b.target_temp) { prev = null; continue; }
    const yy = y(p.b.target_temp.avg).toFixed(1), xx = x(p.t).toFixed(1);
    target += prev === null ? `M${xx},${yy}` : `L${xx},${prev}L${xx},${yy}`;
    prev = yy;
  }
  let outdoor = "", started = false;
  for (const p of run) {
    if (!p.b.outdoor_temp) { started = false; continue; }
    outdoor += `${started ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.b.outdoor_temp.avg).toFixed(1)}`;
    started = true;
  }
  return { band, temp, target, outdoor };
}

/// The band and the lines, run by run; a dot for each one-point run (which draws no line).
function historySeries(svg, pts, runs, x, y) {
  const paths = runs.map((run) => runPaths(run, x, y));
  const joined = (key) => paths.map((p) => p[key]).join("");
  el("path", { class: "band-temperature", d: joined("band") }, svg);
  el("path", { class: "series series-outdoor", d: joined("outdoor") }, svg);
  el("path", { class: "series series-target", d: joined("target") }, svg);
  el("path", { class: "series series-temperature", d: joined("temp"), "data-points": pts.length }, svg);
  for (const run of runs) {
    if (run.length === 1) {
      const p = run[0];
      el("circle", { class: "dot", cx: x(p.t), cy: y(p.b.temperature.avg), r: 3, fill: "var(--c-temp)" }, svg);
    }
  }
}

/// A strip: each bucket's share (`value(bucket)`) held until the next bucket (or for one bucket width across a hole).
function strip(svg, g, data, yTop, cls, name, value) {
  const { m, plotW, from, to, x, stripH } = g;
  const { pts, maxGap, bucketMs } = data;
  const group = el("g", { class: `strip ${cls}` }, svg);
  el("rect", { class: "strip-bg", x: m.left, y: yTop, width: plotW, height: stripH, rx: 3 }, group);
  for (let i = 0; i < pts.length; i++) {
    const share = value(pts[i].b);
    if (!share) continue;
    const start = pts[i].start;
    const next = i + 1 < pts.length && pts[i + 1].start - start <= maxGap ? pts[i + 1].start : start + bucketMs;
    const x0 = x(Math.max(start, from)), x1 = x(Math.min(next, to));
    el("rect", { class: "on", x: x0, y: yTop, width: Math.max(0.5, x1 - x0), height: stripH, "fill-opacity": share.toFixed(2) }, group);
  }
  const label = el("text", { class: "strip-label", x: m.left - 6, y: yTop + stripH - 2, "text-anchor": "end" }, svg);
  label.textContent = name;
}

/// The tooltip rows of a history bucket.
function historyTipRows(b) {
  return [
    ["Air", `${f1(b.temperature.avg)} °C` + (b.temperature.max - b.temperature.min >= 0.05 ? ` (${f1(b.temperature.min)}–${f1(b.temperature.max)})` : "")],
    ["Target", b.target_temp ? `${f1(b.target_temp.avg)} °C` : "–"],
    ["Outdoor", b.outdoor_temp ? `${f1(b.outdoor_temp.avg)} °C` : "–"],
    ["Heating", b.heater_on_fraction == null ? "–" : `${Math.round(b.heater_on_fraction * 100)} %`],
    ["Occupied", `${Math.round(b.occupied_fraction * 100)} %`],
  ];
}

/// Hover / touch: nearest bucket, with a tooltip.
function historyHover(container, svg, g, pts, y, opts) {
  const { m, width, plotW, from, to, x, stripY2, stripH } = g;
  const parts = hoverParts(container, svg, g, stripY2 + stripH, {});
  const { tip, overlay } = parts;
  function show(evt) {
    const rect = svg.getBoundingClientRect();
    const px = ((evt.clientX - rect.left) / rect.width) * width;
    const t = from + ((px - m.left) / plotW) * (to - from);
    let best = 0;
    for (let i = 1; i < pts.length; i++) if (Math.abs(pts[i].t - t) < Math.abs(pts[best].t - t)) best = i;
    const p = pts[best], b = p.b;
    placeCursor(parts, x(p.t), y(b.temperature.avg));
    fillTip(tip, opts.fmtTip(p.start), historyTipRows(b));
    tip.hidden = false;
    const scale = rect.width / width;
    const left = x(p.t) * scale;
    tip.style.left = `${Math.min(Math.max(0, left + 12), rect.width - tip.offsetWidth)}px`;
    tip.style.top = `${m.top * scale + 8}px`;
  }
  overlay.addEventListener("pointermove", show);
  overlay.addEventListener("pointerdown", show);
  overlay.addEventListener("pointerleave", () => hideHover(parts));
}

/// Renders `history` (the endpoint's JSON) into `container`. `opts`: { offsetMin, label, fmtTip(ms), fmtTick(ms, step) }.
function render(container, history, opts) {
  container.textContent = "";
  const buckets = history.buckets || [];
  const g = historyGeometry(container, history);
  const { m, width, height, plotW, plotH, narrow, stripY1, stripY2 } = g;
  const bucketMs = history.bucket_seconds * 1000;

  const svg = el("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "data-points": buckets.length, "data-readings": history.readings,
  }, container);
  const title = el("title", {}, svg);
  title.textContent = opts.label;

  const { pts, maxGap } = historyPoints(buckets, bucketMs, g.to);
  const [lo, hi] = historyDomain(pts);
  const y = axes(svg, g, lo, hi, { ticks: narrow ? 4 : 6, pxPerTick: narrow ? 70 : 95, unitY: 10 }, opts);
  el("line", { class: "axis-line", x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH }, svg);
  historySeries(svg, pts, runsOf(pts, maxGap), g.x, y);

  const data = { pts, maxGap, bucketMs };
  strip(svg, g, data, stripY1, "strip-heat", narrow ? "Heat" : "Heat", (b) => b.heater_on_fraction);
  strip(svg, g, data, stripY2, "strip-occ", narrow ? "Occ" : "Occ.", (b) => b.occupied_fraction);

  if (!pts.length) {
    const t = el("text", { x: m.left + plotW / 2, y: m.top + plotH / 2, "text-anchor": "middle" }, svg);
    t.textContent = "No readings in this range";
    return;
  }
  historyHover(container, svg, g, pts, y, opts);
}

// ---------- plan ----------

/// Layout of a plan chart in `container`: the plot, then the power bars and the price strip below.
function planGeometry(container, pts) {
  const width = Math.max(300, Math.round(container.clientWidth || 800));
  const narrow = width < 560;
  const m = { left: 44, right: 12, top: 24 };
  const plotH = narrow ? 170 : 220;
  const powerH = narrow ? 36 : 44, priceH = 10;
  const powerY = m.top + plotH + 12;
  const priceY = powerY + powerH + 8;
  const height = priceY + priceH + 26;
  const plotW = width - m.left - m.right;
  const from = pts.length ? pts[0].t : 0;
  const to = pts.length > 1 ? pts[pts.length - 1].t : from + DAY;
  const x = (t) => m.left + ((t - from) / (to - from)) * plotW;
  return { m, width, height, plotW, plotH, from, to, x, narrow, powerH, priceH, powerY, priceY, markBottom: priceY + priceH };
}

/// y domain: planned temperatures and bounds (the ceiling too).
function planDomain(pts) {
  let lo = Infinity, hi = -Infinity;
  for (const { p } of pts) {
    for (const v of [p.temp_c, p.lower_c, p.upper_c]) {
      if (v !== null && v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
  }
  if (!isFinite(lo)) { lo = 15; hi = 22; }
  return [lo - 0.5, hi + 0.3];
}

/// The path of a step line through `key` of each point (each value holds from its point to the next one).
function stepPath(pts, key, x, y, to) {
  let d = "", prev = null;
  for (let i = 0; i < pts.length; i++) {
    const v = pts[i].p[key];
    if (v === null || v === undefined) { prev = null; continue; }
    const x0 = x(pts[i].t).toFixed(1);
    const x1 = x(i + 1 < pts.length ? pts[i + 1].t : to).toFixed(1);
    const yy = y(v).toFixed(1);
    d += (prev === null ? `M${x0},${yy}` : `L${x0},${yy}`) + `L${x1},${yy}`;
    prev = yy;
  }
  return d;
}

/// The lowest allowed temperature (it holds from its point to the next one, shaded below), the highest allowed
/// (the ceiling band's top, dashed), and the planned one.
function planLines(svg, g, pts, y) {
  const { m, width, plotH, to, x } = g;
  const bottom = m.top + plotH;
  let boundD = "", areaD = "", prev = null;
  for (let i = 0; i < pts.length; i++) {
    const v = pts[i].p.lower_c;
    if (v === null || v === undefined) { prev = null; continue; }
    const x0 = x(pts[i].t).toFixed(1);
    const x1 = x(i + 1 < pts.length ? pts[i + 1].t : to).toFixed(1);
    const yy = y(v).toFixed(1);
    boundD += prev === null ? `M${x0},${yy}` : `L${x0},${yy}`;
    boundD += `L${x1},${yy}`;
    areaD += `M${x0},${bottom}L${x0},${yy}L${x1},${yy}L${x1},${bottom}Z`;
    prev = yy;
  }
  el("path", { class: "plan-bound-area", d: areaD }, svg);
  el("line", { class: "axis-line", x1: m.left, x2: width - m.right, y1: bottom, y2: bottom }, svg);
  el("path", { class: "series plan-bound", d: boundD }, svg);
  el("path", { class: "series plan-ceiling", d: stepPath(pts, "upper_c", x, y, to) }, svg);
  el("path", {
    class: "series plan-temp", "data-points": pts.length,
    d: pts.length ? "M" + pts.map(({ p, t }) => `${x(t).toFixed(1)},${y(p.temp_c).toFixed(1)}`).join("L") : "",
  }, svg);
}

/// Heater power, W, on its own scale: one bar per interval. With a building demand cap, the building's planned
/// power (all predictive zones, the joint plan) as pale bars behind the zone's, and the cap as a dashed step line.
function planPower(svg, g, pts, maxPowerW) {
  const { m, plotW, to, x, powerY, powerH } = g;
  const has = (v) => v !== null && v !== undefined;
  const kw = (key) => pts.map(({ p }) => p[key]).filter(has).map((v) => v * 1000);
  const maxW = Math.max(maxPowerW || 0, ...pts.map(({ p }) => p.power_w || 0), ...kw("cap_kw"), ...kw("building_kw"));
  const scaleKw = Math.max(0.5, Math.ceil(maxW / 500) / 2);
  const yKw = (v) => powerY + powerH - Math.min(1, v / scaleKw) * powerH;
  const power = el("g", { class: "plan-power" }, svg);
  el("rect", { class: "strip-bg", x: m.left, y: powerY, width: plotW, height: powerH, rx: 3 }, power);
  for (let i = 0; i + 1 < pts.length; i++) {
    const b = pts[i].p.building_kw;
    if (!has(b) || b * 1000 < 1) continue;
    const x0 = x(pts[i].t), x1 = x(pts[i + 1].t);
    const top = yKw(b);
    el("rect", { class: "building", x: x0 + 0.5, y: top, width: Math.max(0.5, x1 - x0 - 1), height: Math.max(1, powerY + powerH - top) }, power);
  }
  for (let i = 0; i + 1 < pts.length; i++) {
    const w = pts[i].p.power_w;
    if (!w || w < 1) continue;
    const hgt = Math.max(1, Math.min(1, w / 1000 / scaleKw) * powerH);
    const x0 = x(pts[i].t), x1 = x(pts[i + 1].t);
    el("rect", { class: "bar", x: x0 + 0.5, y: powerY + powerH - hgt, width: Math.max(0.5, x1 - x0 - 1), height: hgt }, power);
  }
  if (pts.some(({ p }) => has(p.cap_kw))) {
    const capPts = pts.map(({ p, t }, i) => ({ p: { v: i + 1 < pts.length ? p.cap_kw : null }, t }));
    const capD = stepPath(capPts, "v", x, yKw, to);
    el("path", { class: "series plan-cap", d: capD, "data-kw": pts.map(({ p }) => p.cap_kw).filter(has).join(" ") }, power);
  }
  const kwTop = el("text", { class: "strip-label", x: m.left - 6, y: powerY + 9, "text-anchor": "end" }, svg);
  kwTop.textContent = scaleKw.toFixed(1);
  const kwUnit = el("text", { class: "strip-label", x: m.left - 6, y: powerY + powerH - 2, "text-anchor": "end" }, svg);
  kwUnit.textContent = "kW";
}

/// Price per interval: darker is dearer.
function planPrice(svg, g, pts) {
  const { m, plotW, x, priceY, priceH } = g;
  const prices = pts.map(({ p }) => p.price_eur_kwh).filter((v) => v !== null && v !== undefined);
  const pMin = Math.min(...prices), pMax = Math.max(...prices);
  const price = el("g", { class: "plan-price" }, svg);
  el("rect", { class: "strip-bg", x: m.left, y: priceY, width: plotW, height: priceH, rx: 3 }, price);
  for (let i = 0; i + 1 < pts.length; i++) {
    const v = pts[i].p.price_eur_kwh;
    if (v === null || v === undefined) continue;
    const share = pMax > pMin ? (v - pMin) / (pMax - pMin) : 0.5;
    const x0 = x(pts[i].t), x1 = x(pts[i + 1].t);
    el("rect", { class: "on", x: x0, y: priceY, width: Math.max(0.5, x1 - x0 + 0.3), height: priceH, "fill-opacity": (0.12 + 0.88 * share).toFixed(2) }, price);
  }
  const priceLabel = el("text", { class: "strip-label", x: m.left - 6, y: priceY + priceH - 1, "text-anchor": "end" }, svg);
  priceLabel.textContent = "€/kWh";
}

/// Markers: now, and the start of the warm-up.
function planMarkers(svg, g, plan, opts) {
  const { m, width, from, to, x, markBottom } = g;
  if (opts.now !== undefined && opts.now !== null) {
    const xn = x(Math.min(Math.max(opts.now, from), to));
    el("line", { class: "plan-now", x1: xn, x2: xn, y1: m.top, y2: markBottom }, svg);
    const label = el("text", { class: "mark-label", x: xn + 4, y: m.top + 12 }, svg);
    label.textContent = "now";
  }
  if (plan.preheat_start) {
    const tp = Date.parse(plan.preheat_start);
    if (tp >= from && tp <= to) {
      const xp = x(tp);
      el("line", { class: "plan-preheat", x1: xp, x2: xp, y1: m.top - 4, y2: markBottom }, svg);
      const right = xp > width - m.right - 120;
      const label = el("text", { class: "mark-label preheat-label", x: right ? xp - 4 : xp + 4, y: m.top - 8, "text-anchor": right ? "end" : "start" }, svg);
      label.textContent = `Warm-up ${opts.fmtMark(tp)}`;
    }
  }
}

/// The tooltip rows of a plan point.
function planTipRows(p) {
  const has = (v) => v !== null && v !== undefined;
  return [
    ["Planned", `${f1(p.temp_c)} °C`],
    ["Lowest allowed", has(p.lower_c) ? `${f1(p.lower_c)} °C` : "–"],
    ["Highest allowed", has(p.upper_c) ? `${f1(p.upper_c)} °C` : "–"],
    ["Heater", has(p.power_w) ? (p.power_w < 1 ? "off" : `${(p.power_w / 1000).toFixed(2)} kW`) : "–"],
    ["Price", has(p.price_eur_kwh) ? `${p.price_eur_kwh.toFixed(3)} €/kWh` : "–"],
  ].concat(has(p.cap_kw) ? [
    ["Building", has(p.building_kw) ? `${p.building_kw.toFixed(2)} kW planned` : "–"],
    ["Building cap", `${p.cap_kw.toFixed(1)} kW`],
  ] : []);
}

/// Hover / touch: the nearest point, with a tooltip. The hovered time is kept on the container, so a redraw (with
/// a newer plan) shows the tooltip again where the pointer is.
function planHover(container, svg, g, pts, y, plan, opts) {
  const { m, width, plotW, from, to, x, markBottom } = g;
  const parts = hoverParts(container, svg, g, markBottom, { class: "plan-overlay" });
  const { tip, overlay } = parts;
  const stepMs = (plan.step_s || 900) * 1000;
  function show(evt) {
    const rect = svg.getBoundingClientRect();
    const px = ((evt.clientX - rect.left) / rect.width) * width;
    showAt(from + ((px - m.left) / plotW) * (to - from));
  }
  function showAt(t) {
    // Kept on the container: a redraw with a newer plan keeps the tooltip where the pointer is.
    container.dataset.hoverAt = String(t);
    const rect = svg.getBoundingClientRect();
    const best = Math.min(pts.length - 1, Math.max(0, Math.round((t - from) / stepMs)));
    const { p, t: at } = pts[best];
    placeCursor(parts, x(at), y(p.temp_c));
    fillTip(tip, opts.fmtTip(at), planTipRows(p));
    tip.hidden = false;
    const scale = rect.width / width;
    const left = x(at) * scale;
    const w = tip.offsetWidth;
    tip.style.left = `${left + 12 + w > rect.width ? Math.max(0, left - 12 - w) : left + 12}px`;
    tip.style.top = `${m.top * scale + 8}px`;
  }
  function hide() {
    delete container.dataset.hoverAt;
    hideHover(parts);
  }
  overlay.addEventListener("pointermove", show);
  overlay.addEventListener("pointerdown", show);
  overlay.addEventListener("pointerleave", hide);
  const hoverAt = Number(container.dataset.hoverAt);
  if (container.dataset.hoverAt && hoverAt >= from && hoverAt <= to) showAt(hoverAt);
}

/// Renders a plan of GET /zones/{id}/plan (its `plan` object) into `container`: the planned temperature, the
/// lowest temperature the plan allows (stepped, shaded below, so comfort periods stand out), the heater power per
/// interval as bars on their own kW scale, the price per interval as a colour strip, and markers for now and the
/// start of the warm-up. `opts`: { offsetMin, now (ms), maxPowerW, label, fmtTip(ms), fmtTick(ms, step),
/// fmtMark(ms) }.
function renderPlan(container, plan, opts) {
  container.textContent = "";
  const pts = (plan.points || []).map((p) => ({ p, t: Date.parse(p.at) }));
  const g = planGeometry(container, pts);
  const { width, height, narrow } = g;

  const svg = el("svg", {
    class: "chart plan-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": opts.label, "data-points": pts.length, "data-made-at": plan.made_at,
    "data-preheat": plan.preheat_start || "", "data-energy-kwh": plan.energy_kwh,
  }, container);

  const [lo, hi] = planDomain(pts);
  const y = axes(svg, g, lo, hi, { ticks: narrow ? 4 : 5, pxPerTick: narrow ? 60 : 80, unitY: 12 }, opts);
  planLines(svg, g, pts, y);
  planPower(svg, g, pts, opts.maxPowerW);
  planPrice(svg, g, pts);
  planMarkers(svg, g, plan, opts);
  if (!pts.length) return;
  planHover(container, svg, g, pts, y, plan, opts);
}

/// The two charts.
export const HeatChart = { render, renderPlan };
