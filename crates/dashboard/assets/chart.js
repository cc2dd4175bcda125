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

/// Renders `history` (the endpoint's JSON) into `container`. `opts`: { offsetMin, label, fmtTip(ms), fmtTick(ms, step) }.
function render(container, history, opts) {
  container.textContent = "";
  const buckets = history.buckets || [];
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
  const bucketMs = history.bucket_seconds * 1000;
  const x = (t) => m.left + ((t - from) / (to - from)) * plotW;

  const svg = el("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "data-points": buckets.length, "data-readings": history.readings,
  }, container);
  const title = el("title", {}, svg);
  title.textContent = opts.label;

  // Points: the bucket's middle, clipped to the range.
  const pts = buckets.map((b) => {
    const start = Date.parse(b.start);
    return { b, start, t: Math.min(start + bucketMs / 2, to) };
  });
  const gaps = pts.slice(1).map((p, i) => p.start - pts[i].start);
  // A hole in the data (device offline) breaks the lines: much wider than the usual spacing of readings.
  const maxGap = Math.max(3 * median(gaps), 2.5 * bucketMs);

  // y domain over everything drawn.
  let lo = Infinity, hi = -Infinity;
  for (const { b } of pts) {
    lo = Math.min(lo, b.temperature.min); hi = Math.max(hi, b.temperature.max);
    for (const s of [b.target_temp, b.outdoor_temp]) {
      if (s) { lo = Math.min(lo, s.avg); hi = Math.max(hi, s.avg); }
    }
  }
  if (!isFinite(lo)) { lo = 15; hi = 22; }
  const y = axes(svg, { m, width, height, plotW, plotH, from, to, x }, lo, hi,
    { ticks: narrow ? 4 : 6, pxPerTick: narrow ? 70 : 95, unitY: 10 }, opts);
  el("line", { class: "axis-line", x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH }, svg);

  // Contiguous runs of points.
  const runs = [];
  for (let i = 0; i < pts.length; i++) {
    if (i === 0 || pts[i].start - pts[i - 1].start > maxGap) runs.push([]);
    runs[runs.length - 1].push(pts[i]);
  }

  const bandD = [], tempD = [], targetD = [], outdoorD = [];
  for (const run of runs) {
    const upper = run.map((p) => `${x(p.t).toFixed(1)},${y(p.b.temperature.max).toFixed(1)}`);
    const lower = run.slice().reverse().map((p) => `${x(p.t).toFixed(1)},${y(p.b.temperature.min).toFixed(1)}`);
    bandD.push(`M${upper.join("L")}L${lower.join("L")}Z`);
    tempD.push("M" + run.map((p) => `${x(p.t).toFixed(1)},${y(p.b.temperature.avg).toFixed(1)}`).join("L"));
    let target = "", prev = null;
    for (const p of run) {
      if (!p.b.target_temp) { prev = null; continue; }
      const yy = y(p.b.target_temp.avg).toFixed(1), xx = x(p.t).toFixed(1);
      target += prev === null ? `M${xx},${yy}` : `L${xx},${prev}L${xx},${yy}`;
      prev = yy;
    }
    targetD.push(target);
    let outdoor = "", started = false;
    for (const p of run) {
      if (!p.b.outdoor_temp) { started = false; continue; }
      outdoor += `${started ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.b.outdoor_temp.avg).toFixed(1)}`;
      started = true;
    }
    outdoorD.push(outdoor);
  }
  // One-point runs draw no line: give them a dot.
  el("path", { class: "band-temperature", d: bandD.join("") }, svg);
  el("path", { class: "series series-outdoor", d: outdoorD.join("") }, svg);
  el("path", { class: "series series-target", d: targetD.join("") }, svg);
  el("path", { class: "series series-temperature", d: tempD.join(""), "data-points": pts.length }, svg);
  for (const run of runs) {
    if (run.length === 1) {
      const p = run[0];
      el("circle", { class: "dot", cx: x(p.t), cy: y(p.b.temperature.avg), r: 3, fill: "var(--c-temp)" }, svg);
    }
  }

  // Strips: each bucket's share held until the next bucket (or for one bucket width across a hole).
  function strip(yTop, cls, name, value) {
    const g = el("g", { class: `strip ${cls}` }, svg);
    el("rect", { class: "strip-bg", x: m.left, y: yTop, width: plotW, height: stripH, rx: 3 }, g);
    for (let i = 0; i < pts.length; i++) {
      const share = value(pts[i].b);
      if (!share) continue;
      const start = pts[i].start;
      const next = i + 1 < pts.length && pts[i + 1].start - start <= maxGap ? pts[i + 1].start : start + bucketMs;
      const x0 = x(Math.max(start, from)), x1 = x(Math.min(next, to));
      el("rect", { class: "on", x: x0, y: yTop, width: Math.max(0.5, x1 - x0), height: stripH, "fill-opacity": share.toFixed(2) }, g);
    }
    const label = el("text", { class: "strip-label", x: m.left - 6, y: yTop + stripH - 2, "text-anchor": "end" }, svg);
    label.textContent = name;
  }
  strip(stripY1, "strip-heat", narrow ? "Heat" : "Heat", (b) => b.heater_on_fraction);
  strip(stripY2, "strip-occ", narrow ? "Occ" : "Occ.", (b) => b.occupied_fraction);

  if (!pts.length) {
    const t = el("text", { x: m.left + plotW / 2, y: m.top + plotH / 2, "text-anchor": "middle" }, svg);
    t.textContent = "No readings in this range";
    return;
  }

  // Hover / touch: nearest bucket, with a tooltip.
  const cursor = el("line", { class: "cursor", y1: m.top, y2: stripY2 + stripH, visibility: "hidden" }, svg);
  const dot = el("circle", { class: "dot", r: 4.5, fill: "var(--c-temp)", visibility: "hidden" }, svg);
  const overlay = el("rect", { x: m.left, y: m.top, width: plotW, height: stripY2 + stripH - m.top, fill: "transparent" }, svg);
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.hidden = true;
  container.appendChild(tip);
  function show(evt) {
    const rect = svg.getBoundingClientRect();
    const px = ((evt.clientX - rect.left) / rect.width) * width;
    const t = from + ((px - m.left) / plotW) * (to - from);
    let best = 0;
    for (let i = 1; i < pts.length; i++) if (Math.abs(pts[i].t - t) < Math.abs(pts[best].t - t)) best = i;
    const p = pts[best], b = p.b;
    cursor.setAttribute("x1", x(p.t)); cursor.setAttribute("x2", x(p.t)); cursor.setAttribute("visibility", "visible");
    dot.setAttribute("cx", x(p.t)); dot.setAttribute("cy", y(b.temperature.avg)); dot.setAttribute("visibility", "visible");
    const rows = [
      ["Air", `${f1(b.temperature.avg)} °C` + (b.temperature.max - b.temperature.min >= 0.05 ? ` (${f1(b.temperature.min)}–${f1(b.temperature.max)})` : "")],
      ["Target", b.target_temp ? `${f1(b.target_temp.avg)} °C` : "–"],
      ["Outdoor", b.outdoor_temp ? `${f1(b.outdoor_temp.avg)} °C` : "–"],
      ["Heating", b.heater_on_fraction == null ? "–" : `${Math.round(b.heater_on_fraction * 100)} %`],
      ["Occupied", `${Math.round(b.occupied_fraction * 100)} %`],
    ];
    fillTip(tip, opts.fmtTip(p.start), rows);
    tip.hidden = false;
    const scale = rect.width / width;
    const left = x(p.t) * scale;
    tip.style.left = `${Math.min(Math.max(0, left + 12), rect.width - tip.offsetWidth)}px`;
    tip.style.top = `${m.top * scale + 8}px`;
  }
  function hide() {
    tip.hidden = true;
    cursor.setAttribute("visibility", "hidden");
    dot.setAttribute("visibility", "hidden");
  }
  overlay.addEventListener("pointermove", show);
  overlay.addEventListener("pointerdown", show);
  overlay.addEventListener("pointerleave", hide);
}

/// Renders a plan of GET /zones/{id}/plan (its `plan` object) into `container`: the planned temperature, the
/// lowest temperature the plan allows (stepped, shaded below, so comfort periods stand out), the heater power per
/// interval as bars on their own kW scale, the price per interval as a colour strip, and markers for now and the
/// start of the warm-up. `opts`: { offsetMin, now (ms), maxPowerW, label, fmtTip(ms), fmtTick(ms, step),
/// fmtMark(ms) }.
function renderPlan(container, plan, opts) {
  container.textContent = "";
  const pts = (plan.points || []).map((p) => ({ p, t: Date.parse(p.at) }));
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

  const svg = el("svg", {
    class: "chart plan-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": opts.label, "data-points": pts.length, "data-made-at": plan.made_at,
    "data-preheat": plan.preheat_start || "", "data-energy-kwh": plan.energy_kwh,
  }, container);

  // y domain: planned temperatures and bounds.
  let lo = Infinity, hi = -Infinity;
  for (const { p } of pts) {
    for (const v of [p.temp_c, p.lower_c]) {
      if (v !== null && v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
  }
  if (!isFinite(lo)) { lo = 15; hi = 22; }
  lo -= 0.5; hi += 0.3;
  const y = axes(svg, { m, width, height, plotW, plotH, from, to, x }, lo, hi,
    { ticks: narrow ? 4 : 5, pxPerTick: narrow ? 60 : 80, unitY: 12 }, opts);
  const bottom = m.top + plotH;

  // The lowest allowed temperature: it holds from its point to the next one.
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
  el("path", {
    class: "series plan-temp", "data-points": pts.length,
    d: pts.length ? "M" + pts.map(({ p, t }) => `${x(t).toFixed(1)},${y(p.temp_c).toFixed(1)}`).join("L") : "",
  }, svg);

  // Heater power, W, on its own scale: one bar per interval.
  const maxW = Math.max(opts.maxPowerW || 0, ...pts.map(({ p }) => p.power_w || 0));
  const scaleKw = Math.max(0.5, Math.ceil(maxW / 500) / 2);
  const power = el("g", { class: "plan-power" }, svg);
  el("rect", { class: "strip-bg", x: m.left, y: powerY, width: plotW, height: powerH, rx: 3 }, power);
  for (let i = 0; i + 1 < pts.length; i++) {
    const w = pts[i].p.power_w;
    if (!w || w < 1) continue;
    const hgt = Math.max(1, Math.min(1, w / 1000 / scaleKw) * powerH);
    const x0 = x(pts[i].t), x1 = x(pts[i + 1].t);
    el("rect", { class: "bar", x: x0 + 0.5, y: powerY + powerH - hgt, width: Math.max(0.5, x1 - x0 - 1), height: hgt }, power);
  }
  const kwTop = el("text", { class: "strip-label", x: m.left - 6, y: powerY + 9, "text-anchor": "end" }, svg);
  kwTop.textContent = scaleKw.toFixed(1);
  const kwUnit = el("text", { class: "strip-label", x: m.left - 6, y: powerY + powerH - 2, "text-anchor": "end" }, svg);
  kwUnit.textContent = "kW";

  // Price per interval: darker is dearer.
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

  // Markers: now, and the start of the warm-up.
  const markBottom = priceY + priceH;
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

  if (!pts.length) return;

  // Hover / touch: the nearest point, with a tooltip.
  const cursor = el("line", { class: "cursor", y1: m.top, y2: markBottom, visibility: "hidden" }, svg);
  const dot = el("circle", { class: "dot", r: 4.5, fill: "var(--c-temp)", visibility: "hidden" }, svg);
  const overlay = el("rect", { class: "plan-overlay", x: m.left, y: m.top, width: plotW, height: markBottom - m.top, fill: "transparent" }, svg);
  const tip = document.createElement("div");
  tip.className = "chart-tip";
  tip.hidden = true;
  container.appendChild(tip);
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
    cursor.setAttribute("x1", x(at)); cursor.setAttribute("x2", x(at)); cursor.setAttribute("visibility", "visible");
    dot.setAttribute("cx", x(at)); dot.setAttribute("cy", y(p.temp_c)); dot.setAttribute("visibility", "visible");
    const has = (v) => v !== null && v !== undefined;
    const rows = [
      ["Planned", `${f1(p.temp_c)} °C`],
      ["Lowest allowed", has(p.lower_c) ? `${f1(p.lower_c)} °C` : "–"],
      ["Heater", has(p.power_w) ? (p.power_w < 1 ? "off" : `${(p.power_w / 1000).toFixed(2)} kW`) : "–"],
      ["Price", has(p.price_eur_kwh) ? `${p.price_eur_kwh.toFixed(3)} €/kWh` : "–"],
    ];
    fillTip(tip, opts.fmtTip(at), rows);
    tip.hidden = false;
    const scale = rect.width / width;
    const left = x(at) * scale;
    const w = tip.offsetWidth;
    tip.style.left = `${left + 12 + w > rect.width ? Math.max(0, left - 12 - w) : left + 12}px`;
    tip.style.top = `${m.top * scale + 8}px`;
  }
  function hide() {
    delete container.dataset.hoverAt;
    tip.hidden = true;
    cursor.setAttribute("visibility", "hidden");
    dot.setAttribute("visibility", "hidden");
  }
  overlay.addEventListener("pointermove", show);
  overlay.addEventListener("pointerdown", show);
  overlay.addEventListener("pointerleave", hide);
  const hoverAt = Number(container.dataset.hoverAt);
  if (container.dataset.hoverAt && hoverAt >= from && hoverAt <= to) showAt(hoverAt);
}

/// The two charts.
export const HeatChart = { render, renderPlan };
