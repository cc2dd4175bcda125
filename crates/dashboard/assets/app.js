// Heating dashboard: a small single-page app over the server's REST API (same origin, relative URLs).
// Views (hash routes): #/ overview, #/zone/{id} detail and control, #/zone/{id}/edit, #/zones/new.
// Live data: GET status, polled at the server's poll interval.
"use strict";

(function () {
  const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const MINUTE = 60e3, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  const RANGES = { "1h": HOUR, "24h": DAY, "7d": 7 * DAY };
  /// How often (real ms) a chart of each range is reloaded while shown.
  const REFRESH = { "1h": 10e3, "24h": 30e3, "7d": 120e3 };
  const RULES = {
    manual_hold: "Manual hold",
    schedule: "Timer program",
    occupied: "Occupied comfort",
    unoccupied: "Unoccupied setback",
    skipped: "Control paused",
    constant: "Constant setpoint",
    scheduled: "Occupancy schedule",
    predictive: "Predictive plan",
  };
  const HEALTH = {
    online: ["Online", "ok"],
    degraded: ["Degraded", "warn"],
    offline: ["Offline", "bad"],
    unknown: ["Waiting", ""],
    no_device: ["No device", ""],
  };
  const HOLDS = [
    ["30", "30 minutes"], ["60", "1 hour"], ["120", "2 hours"], ["240", "4 hours"], ["480", "8 hours"],
    ["1440", "24 hours"], ["10080", "7 days"], ["", "Until occupancy changes"],
  ];
  const PREFS = [
    ["occupied_temp", "Occupied", "Target while people are in"],
    ["unoccupied_temp", "Unoccupied", "Setback while vacant"],
    ["min_temp", "Minimum", "No target below this"],
    ["max_temp", "Maximum", "No target above this"],
  ];

  const app = {
    status: null, // last GET status
    fetchedAt: 0, // Date.now() when it arrived
    view: null, // the mounted view: { update(status), unmount() }
    timer: null,
    flash: null, // message to show on the next view
  };

  // ---------- helpers ----------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  /// A JSON request to the API. Errors carry the server's `detail` as their message.
  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "The server cannot be reached.");
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!resp.ok) throw new ApiError(resp.status, (data && data.detail) || `The server answered ${resp.status}.`);
    return data;
  }

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function setText(root, field, text) {
    for (const node of root.querySelectorAll(`[data-field="${field}"]`)) {
      if (node.textContent !== text) node.textContent = text;
    }
  }

  const f1 = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1));
  const deg = (v) => (v === null || v === undefined ? "–" : `${f1(v)} °C`);
  const pad = (n) => String(n).padStart(2, "0");
  const offsetMs = () => ((app.status && app.status.site_utc_offset_minutes) || 0) * MINUTE;
  /// A Date whose UTC fields are the site-local time.
  const site = (ms) => new Date(ms + offsetMs());
  const fmtTime = (ms) => { const d = site(ms); return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; };
  const fmtTimeS = (ms) => `${fmtTime(ms)}:${pad(site(ms).getUTCSeconds())}`;
  const fmtDay = (ms) => { const d = site(ms); return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`; };
  const fmtDateTime = (ms) => `${fmtDay(ms)}, ${fmtTime(ms)}`;
  /// A time close to `now` without its date; otherwise with it.
  function fmtWhen(ms) {
    const now = serverNow();
    return fmtDay(ms) === fmtDay(now) ? fmtTime(ms) : fmtDateTime(ms);
  }
  /// Compact, for tables: "14:05" today, "Thu 14:05" this week, "26 Nov 14:05" before.
  function fmtShort(ms) {
    const now = serverNow();
    if (fmtDay(ms) === fmtDay(now)) return fmtTime(ms);
    const d = site(ms);
    if (Math.abs(now - ms) < 6 * DAY) return `${DAYS[d.getUTCDay()]} ${fmtTime(ms)}`;
    return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${fmtTime(ms)}`;
  }
  function siteZoneLabel() {
    const off = (app.status && app.status.site_utc_offset_minutes) || 0;
    if (!off) return "UTC";
    const sign = off < 0 ? "−" : "+";
    const a = Math.abs(off);
    return `UTC${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  }
  /// The server clock now, estimated from the last status and its scale.
  function serverNow() {
    if (!app.status) return Date.now();
    return Date.parse(app.status.now) + (Date.now() - app.fetchedAt) * (app.status.clock_scale || 1);
  }
  /// A datetime-local value (site time) for an instant, and back.
  const toLocalInput = (ms) => { const d = site(ms); return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; };
  const fromLocalInput = (v) => { const t = Date.parse(`${v}:00Z`); return isNaN(t) ? NaN : t - offsetMs(); };

  function healthPill(health) {
    const [label, cls] = HEALTH[health.state] || [health.state, ""];
    return { label, cls: `pill ${cls}` };
  }

  /// The target in force for a zone, and why.
  // The zone's control strategy and, for the predictive one, when its plan starts preheating.
  function planText(z) {
    if (!z.strategy) return "";
    const pre = z.planned_preheat_start ? ` · preheat from ${fmtShort(Date.parse(z.planned_preheat_start))}` : "";
    return `Strategy: ${z.strategy}${pre}`;
  }

  function activeTarget(z) {
    if (z.hold) {
      const until = z.hold.until ? `until ${fmtWhen(Date.parse(z.hold.until))}` : "until occupancy changes";
      return { value: z.hold.target_temp, why: `Manual hold ${until}`, reason: `Set ${fmtWhen(Date.parse(z.hold.set_at))} (${z.hold.source})` };
    }
    const a = z.active;
    if (a && a.target_temp !== null && a.target_temp !== undefined) {
      let why = RULES[a.rule] || a.rule;
      if (a.weather_adjustment_k) why += ` · weather ${a.weather_adjustment_k > 0 ? "+" : "−"}${Math.abs(a.weather_adjustment_k).toFixed(1)} K`;
      return { value: a.target_temp, why, reason: a.reason };
    }
    const device = z.reading ? z.reading.target_temp : null;
    if (a) return { value: device, why: RULES.skipped, reason: a.reason };
    if (z.reading) return { value: device, why: "Device setpoint", reason: "Automatic control has not run yet" };
    return { value: null, why: "No reading yet", reason: "" };
  }

  function banner(message) {
    const el = document.getElementById("banner");
    el.hidden = !message;
    el.textContent = message || "";
  }

  // ---------- polling ----------

  async function tick() {
    try {
      const s = await api("GET", "status");
      app.status = s;
      app.fetchedAt = Date.now();
      banner(null);
      updateClock();
      if (app.view && app.view.update) app.view.update(s);
    } catch (e) {
      banner(`Live data unavailable: ${e.message} Retrying…`);
    } finally {
      clearTimeout(app.timer);
      const secs = app.status ? Math.min(Math.max(app.status.poll_interval_s || 2, 0.5), 30) : 2;
      app.timer = setTimeout(tick, secs * 1000);
    }
  }

  function refreshNow() {
    clearTimeout(app.timer);
    return tick();
  }

  function updateClock() {
    const el = document.getElementById("clock");
    const s = app.status;
    if (!s) return;
    const now = serverNow();
    el.textContent = "";
    if (s.clock_scale !== 1) {
      el.append(h("span", { class: "badge", title: "The demo runs on a simulated clock" }, `Simulated ×${s.clock_scale}`));
    }
    el.append(h("strong", { "data-field": "server-time" }, `${fmtDay(now)} ${fmtTimeS(now)}`), h("span", {}, siteZoneLabel()));
  }

  // ---------- overview ----------

  function overviewView(main) {
    const grid = h("div", { class: "zone-grid", id: "zone-grid" });
    const weather = h("div", { class: "panel weather-panel", id: "weather", "aria-label": "Outdoor conditions" },
      h("div", { class: "weather-now" },
        h("p", { class: "stat-label" }, "Outdoor now"),
        h("p", { class: "stat-value", "data-field": "outdoor" }, "–")),
      h("div", {},
        h("p", { class: "stat-label" }, "Next 24 hours"),
        h("p", { class: "stat-value", "data-field": "forecast", style: "font-size:1.5rem" }, "–"),
        h("p", { class: "stat-note", "data-field": "weather-note" }, "")));
    const stat = (id, label) => h("div", { class: "panel" },
      h("p", { class: "stat-label" }, label),
      h("p", { class: "stat-value", "data-field": id }, "–"),
      h("p", { class: "stat-note", "data-field": `${id}-note` }, ""));
    main.append(
      h("div", { class: "page-head" },
        h("div", {}, h("h1", {}, "Building overview"), h("p", { "data-field": "subtitle" }, "Loading live status…"))),
      h("section", { class: "summary", "aria-label": "Building summary" },
        weather, stat("online", "Zones online"), stat("heating", "Heating now"), stat("occupied", "Occupied")),
      h("section", { "aria-labelledby": "zones-heading" },
        h("h2", { id: "zones-heading", class: "visually-hidden" }, "Zones"), grid));

    function card(z) {
      return h("article", { class: "zone-card", "data-zone-id": z.id, "aria-labelledby": `zone-${z.id}-name` },
        h("header", {},
          h("div", {},
            h("h2", {}, h("a", { href: `#/zone/${z.id}`, id: `zone-${z.id}-name`, "data-field": "name" }, z.name)),
            h("p", { class: "endpoint", "data-field": "endpoint" }, "")),
          h("span", { class: "pill", "data-field": "health" }, "")),
        h("div", { class: "temp-row" },
          h("p", { class: "big-temp", style: "margin:0", "aria-label": "Air temperature" },
            h("span", { "data-field": "temperature" }, "–"), h("span", { class: "unit" }, "°C")),
          h("p", { class: "target-line", style: "margin:0" }, "Target ", h("strong", { "data-field": "target" }, "–"))),
        h("p", { class: "why" }, h("span", { "data-field": "why" }, ""), h("span", { class: "reason", "data-field": "reason" }, "")),
        h("p", { class: "why" }, h("span", { class: "reason", "data-field": "plan" }, "")),
        h("dl", { class: "facts" },
          h("div", {}, h("dt", {}, "Occupancy"), h("dd", { "data-field": "occupancy" }, "–")),
          h("div", {}, h("dt", {}, "Heater"), h("dd", { "data-field": "heater" }, "–")),
          h("div", {}, h("dt", {}, "Last seen"), h("dd", { "data-field": "last-seen" }, "–"))));
    }

    function fillCard(el, z) {
      const r = z.reading;
      const t = activeTarget(z);
      const pill = healthPill(z.health);
      setText(el, "name", z.name);
      setText(el, "endpoint", z.endpoint || "No Modbus device");
      const hp = el.querySelector('[data-field="health"]');
      hp.className = pill.cls;
      setText(el, "health", pill.label);
      hp.title = z.health.last_error || "";
      setText(el, "temperature", r ? f1(r.temperature) : "–");
      setText(el, "target", deg(t.value));
      setText(el, "why", t.why);
      setText(el, "reason", t.reason || "");
      el.querySelector('[data-field="reason"]').title = t.reason || "";
      setText(el, "plan", planText(z));
      const occ = el.querySelector('[data-field="occupancy"]');
      setText(el, "occupancy", r ? (r.occupancy ? "Occupied" : "Vacant") : "–");
      occ.className = r && r.occupancy ? "occ" : "";
      const heater = el.querySelector('[data-field="heater"]');
      setText(el, "heater", r ? (r.heater_on ? "On" : "Off") : "–");
      heater.className = r && r.heater_on ? "on" : "";
      heater.title = r ? `Rated ${(r.heater_power_w / 1000).toFixed(1)} kW` : "";
      setText(el, "last-seen", z.health.last_seen ? fmtShort(Date.parse(z.health.last_seen)) : "never");
      el.classList.toggle("heating", !!(r && r.heater_on));
      el.dataset.readingTs = r ? r.timestamp : "";
      el.dataset.health = z.health.state;
    }

    return {
      update(s) {
        const zones = s.zones;
        const seen = new Set();
        for (const z of zones) {
          seen.add(String(z.id));
          let el = grid.querySelector(`[data-zone-id="${z.id}"]`);
          if (!el) el = card(z);
          grid.appendChild(el); // keeps the server's order
          fillCard(el, z);
        }
        for (const el of Array.from(grid.children)) if (!seen.has(el.dataset.zoneId)) el.remove();
        if (!zones.length) {
          grid.append(h("p", { class: "empty" }, "No zones yet. ", h("a", { href: "#/zones/new" }, "Add the first zone"), "."));
        }
        const withDevice = zones.filter((z) => z.health.state !== "no_device");
        const online = withDevice.filter((z) => z.health.state === "online").length;
        const heating = zones.filter((z) => z.reading && z.reading.heater_on);
        const occupied = zones.filter((z) => z.reading && z.reading.occupancy);
        setText(main, "online", `${online} / ${withDevice.length}`);
        const down = withDevice.filter((z) => z.health.state === "offline" || z.health.state === "degraded");
        setText(main, "online-note", down.length ? `Check ${down.map((z) => z.name).join(", ")}` : "All devices answering");
        setText(main, "heating", String(heating.length));
        const kw = heating.reduce((sum, z) => sum + z.reading.heater_power_w, 0) / 1000;
        setText(main, "heating-note", heating.length ? `${kw.toFixed(1)} kW rated load` : "No heater running");
        setText(main, "occupied", String(occupied.length));
        setText(main, "occupied-note", occupied.length ? occupied.map((z) => z.name).join(", ") : "Building vacant");
        setText(main, "subtitle", `${zones.length} zone${zones.length === 1 ? "" : "s"} · updated every ${s.poll_interval_s} s`);
        const w = s.weather;
        setText(main, "outdoor", deg(w.outdoor_c));
        setText(main, "forecast", w.next_24h_min_c === null || w.next_24h_min_c === undefined ? "–" : `${f1(w.next_24h_min_c)} to ${f1(w.next_24h_max_c)} °C`);
        const note = w.error ? `No forecast: ${w.error}` : `${w.provider}${w.location ? ` · ${w.location}` : ""}${w.stale ? " · stale" : ""}`;
        setText(main, "weather-note", note);
      },
    };
  }

  // ---------- zone detail ----------

  function zoneView(main, id) {
    let zone = null; // GET zones/{id}
    let range = "24h";
    let lastHistory = 0, historySeq = 0;
    let hasHold = false;
    let lastDrawn = null; // [history, from, to]
    let lastCommands = 0;
    let prefilled = false;
    let planKey = null, planSeq = 0;
    let lastPlan = null; // GET zones/{id}/plan
    let lastZone = null; // this zone in the last status

    const chart = h("div", { class: "chart-wrap", id: "chart" });
    const fromInput = h("input", { type: "datetime-local", id: "range-from" });
    const toInput = h("input", { type: "datetime-local", id: "range-to" });
    const custom = h("form", { class: "custom-range", id: "custom-range", hidden: true, novalidate: true,
      onsubmit: (e) => { e.preventDefault(); loadHistory(); } },
      h("div", { class: "field", style: "margin:0" }, h("label", { for: "range-from" }, "From"), fromInput),
      h("div", { class: "field", style: "margin:0" }, h("label", { for: "range-to" }, "To"), toInput),
      h("button", { class: "btn primary", type: "submit" }, "Show range"));
    const rangeButtons = ["1h", "24h", "7d", "custom"].map((r) =>
      h("button", { type: "button", "data-range": r, "aria-pressed": String(r === range), onclick: () => pickRange(r) },
        { "1h": "1 h", "24h": "24 h", "7d": "7 d", custom: "Custom" }[r]));
    const energy = h("strong", { id: "energy" }, "–");
    const chartNote = h("p", { id: "chart-note", style: "margin:0" }, "");
    const chartError = h("p", { class: "msg error", id: "chart-error", role: "alert" });
    const commandsBody = h("tbody", {});

    const planChart = h("div", { class: "plan-wrap", id: "plan-chart" });
    const planSummary = h("p", { class: "plan-summary", id: "plan-summary" });
    const planReason = h("p", { class: "plan-reason", id: "plan-reason" });
    const planError = h("p", { class: "msg error", id: "plan-error", role: "alert" });
    const planLegend = h("ul", { class: "legend", "aria-label": "Plan legend", hidden: true },
      h("li", {}, h("span", { class: "swatch temp" }), "Planned air"),
      h("li", {}, h("span", { class: "swatch bound" }), "Lowest allowed (comfort when occupied)"),
      h("li", {}, h("span", { class: "swatch heat" }), "Heater power"),
      h("li", {}, h("span", { class: "swatch price" }), h("span", { "data-field": "price-range" }, "Price")),
      h("li", {}, h("span", { class: "swatch preheat" }), "Warm-up start"));

    const targetInput = h("input", { id: "target-temp", name: "target_temp", type: "number", inputmode: "decimal",
      step: "0.5", min: "5", max: "35", required: true, "aria-describedby": "target-hint" });
    const holdSelect = h("select", { id: "hold-minutes", name: "hold_minutes", "aria-describedby": "hold-hint" },
      HOLDS.map(([v, label]) => h("option", { value: v, selected: v === "120" }, label)));
    const setButton = h("button", { class: "btn primary wide", type: "submit", id: "set-target" }, "Set target");
    const cancelButton = h("button", { class: "btn wide", type: "button", id: "cancel-hold", disabled: true, style: "margin-top:10px", onclick: cancelHold }, "Cancel hold");
    const result = h("p", { class: "msg ok", id: "control-result", role: "status", "aria-live": "polite" });
    const error = h("p", { class: "msg error", id: "control-error", role: "alert" });
    const holdBox = h("p", { class: "hold-box", id: "hold-box", hidden: true });

    const nowCell = (field, label) => h("div", { class: "panel" },
      h("p", { class: "stat-label" }, label),
      h("p", { class: "stat-value", "data-field": field }, "–"),
      h("p", { class: "stat-note", "data-field": `${field}-note` }, ""));

    main.append(
      h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), " › ", h("span", { "data-field": "name" }, `Zone ${id}`)),
      h("div", { class: "page-head" },
        h("div", {},
          h("h1", { "data-field": "name", id: "zone-title" }, `Zone ${id}`),
          h("p", {}, h("span", { class: "pill", "data-field": "health" }, "–"), " ", h("span", { "data-field": "endpoint" }, ""))),
        h("div", { class: "actions" }, h("a", { class: "btn", href: `#/zone/${id}/edit` }, "Edit zone"))),
      h("section", { class: "now-strip", "aria-label": "Now" },
        nowCell("temperature", "Air"), nowCell("target", "Target"), nowCell("occupancy", "Occupancy"),
        nowCell("heater", "Heater"), nowCell("outdoor", "Outdoor"), nowCell("last-seen", "Last seen")),
      h("div", { class: "detail-grid" },
        h("div", {},
          h("section", { class: "panel", "aria-labelledby": "history-heading" },
            h("div", { class: "panel-head" },
              h("h2", { id: "history-heading" }, "History"),
              h("div", { class: "segmented", role: "group", "aria-label": "Time range" }, rangeButtons)),
            custom, chart,
            h("ul", { class: "legend", "aria-label": "Legend" },
              h("li", {}, h("span", { class: "swatch temp" }), "Air (mean, min–max band)"),
              h("li", {}, h("span", { class: "swatch target" }), "Target"),
              h("li", {}, h("span", { class: "swatch outdoor" }), "Outdoor"),
              h("li", {}, h("span", { class: "swatch heat" }), "Heater on"),
              h("li", {}, h("span", { class: "swatch occ" }), "Occupied")),
            h("div", { class: "chart-foot" },
              h("p", { style: "margin:0" }, "Energy used in this range: ", energy), chartNote),
            chartError),
          h("section", { class: "panel", id: "plan", "aria-labelledby": "plan-heading" },
            h("div", { class: "panel-head", style: "margin-bottom:8px" }, h("h2", { id: "plan-heading" }, "Plan — next 24 h")),
            planSummary, planReason, planChart, planLegend, planError),
          h("section", { class: "panel", "aria-labelledby": "commands-heading" },
            h("div", { class: "panel-head" }, h("h2", { id: "commands-heading" }, "Commands"), h("span", { class: "muted" }, "Latest 20")),
            h("div", { class: "table-scroll" },
              h("table", { id: "commands" },
                h("thead", {}, h("tr", {},
                  h("th", { scope: "col" }, "Time"), h("th", { scope: "col", class: "num" }, "Target"),
                  h("th", { scope: "col" }, "Source"), h("th", { scope: "col", class: "hide-narrow" }, "Reason"),
                  h("th", { scope: "col" }, "Status"))),
                commandsBody)))),
        h("aside", {},
          h("section", { class: "panel", "aria-labelledby": "control-heading" },
            h("h2", { id: "control-heading", style: "margin-bottom:12px" }, "Manual control"),
            holdBox,
            h("form", { id: "target-form", novalidate: true, onsubmit: setTarget },
              h("div", { class: "field" },
                h("label", { for: "target-temp" }, "Target temperature (°C)"), targetInput,
                h("span", { class: "hint", id: "target-hint", "data-field": "limits" }, "5.0–35.0 °C")),
              h("div", { class: "field" },
                h("label", { for: "hold-minutes" }, "Hold for"), holdSelect,
                h("span", { class: "hint", id: "hold-hint" }, "Server time. Automatic control resumes afterwards.")),
              setButton),
            cancelButton, result, error))));

    function pickRange(r) {
      range = r;
      for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b.dataset.range === r));
      custom.hidden = r !== "custom";
      if (r === "custom") {
        const now = serverNow();
        if (!fromInput.value) fromInput.value = toLocalInput(now - DAY);
        if (!toInput.value) toInput.value = toLocalInput(now);
        fromInput.focus();
      }
      loadHistory();
    }

    function rangeBounds() {
      if (range === "custom") return [fromLocalInput(fromInput.value), fromLocalInput(toInput.value)];
      const now = serverNow();
      return [now - RANGES[range], now];
    }

    async function loadHistory() {
      const [from, to] = rangeBounds();
      if (!(from < to)) {
        chartError.textContent = "Choose a start before the end.";
        return;
      }
      const mine = ++historySeq; // a newer request (another range) wins over this one
      lastHistory = Date.now();
      const points = Math.min(2000, Math.max(60, Math.round((chart.clientWidth || 800) / 2)));
      const q = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}&points=${points}`;
      try {
        const hist = await api("GET", `zones/${id}/history?${q}`);
        if (mine !== historySeq) return;
        chartError.textContent = "";
        lastDrawn = [hist, from, to];
        draw(hist, from, to);
        energy.textContent = hist.energy_kwh === null ? "–" : `${hist.energy_kwh.toFixed(2)} kWh`;
        const per = hist.bucket_seconds >= 3600 ? `${(hist.bucket_seconds / 3600).toFixed(1)} h` : hist.bucket_seconds >= 60 ? `${(hist.bucket_seconds / 60).toFixed(1)} min` : `${hist.bucket_seconds.toFixed(0)} s`;
        chartNote.textContent = `${hist.readings} readings · ${hist.buckets.length} points of ${per}`;
      } catch (e) {
        if (mine === historySeq) chartError.textContent = e.message;
      }
    }

    function draw(hist, from, to) {
        const span = to - from;
        HeatChart.render(chart, hist, {
          offsetMin: (app.status && app.status.site_utc_offset_minutes) || 0,
          label: `Temperatures of ${zone ? zone.name : `zone ${id}`} from ${fmtDateTime(from)} to ${fmtDateTime(to)}: ${hist.buckets.length} points`,
          fmtTip: (ms) => (span > DAY ? fmtDateTime(ms) : fmtTime(ms)),
          fmtTick: (ms, step) => (step >= DAY || (span > DAY && fmtTime(ms) === "00:00") ? fmtDay(ms).replace(/ \w+$/, "") : fmtTime(ms)),
        });
    }

    // Redraw at the new width (the data stays).
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (!document.body.contains(chart)) return;
        if (lastDrawn) draw(...lastDrawn);
        if (lastPlan) drawPlan(lastPlan);
      }, 150);
    });

    async function loadPlan() {
      const mine = ++planSeq;
      try {
        const r = await api("GET", `zones/${id}/plan`);
        if (mine !== planSeq) return;
        planError.textContent = "";
        lastPlan = r;
        drawPlan(r);
      } catch (e) {
        if (mine === planSeq) planError.textContent = e.message;
      }
    }

    function drawPlan(r) {
      const plan = r.plan;
      if (!plan) {
        planChart.textContent = "";
        delete planChart.dataset.hoverAt;
        planSummary.textContent = "";
        planLegend.hidden = true;
        planReason.textContent = r.reason || "No plan.";
        return;
      }
      planReason.textContent = "";
      const z = lastZone;
      const pts = plan.points;
      const from = Date.parse(plan.made_at);
      const to = pts.length ? Date.parse(pts[pts.length - 1].at) : from + DAY;
      const preheat = plan.preheat_start ? Date.parse(plan.preheat_start) : null;
      const warm = preheat === null ? "No warm-up planned" : `Warm-up from ${fmtShort(preheat)}`;
      const fitted = plan.model_source === "identified" && z && z.model_fitted_at ? ` (fitted ${fmtShort(Date.parse(z.model_fitted_at))})`
        : plan.model_source === "fallback" ? " (no good fit yet)" : "";
      const energyText = `${plan.energy_kwh.toFixed(1)} kWh`, costText = `${plan.cost_eur.toFixed(2)} €`;
      planSummary.textContent = "";
      const nb = (text) => text.replace(/ /g, "\u00a0"); // a figure and its unit on one line
      planSummary.append(h("strong", {}, nb(warm).replace("\u00a0from", " from")),
        ` · ${nb(energyText)} · ${nb(costText)} planned · model: ${plan.model_source}${fitted}`);
      const temps = pts.map((p) => p.temp_c);
      const heated = pts.filter((p) => p.power_w !== null && p.power_w >= 1).length;
      const prices = pts.map((p) => p.price_eur_kwh).filter((v) => v !== null && v !== undefined);
      setText(main, "price-range", prices.length ? `Price ${Math.min(...prices).toFixed(2)}–${Math.max(...prices).toFixed(2)} €/kWh` : "Price");
      planLegend.hidden = false;
      const label = `Plan for ${zone ? zone.name : `zone ${id}`} from ${fmtTime(from)} to ${fmtShort(to)}: ` +
        `${preheat === null ? "no warm-up planned" : `warm-up from ${fmtShort(preheat)}`}; planned air ${f1(Math.min(...temps))} to ${f1(Math.max(...temps))} °C; ` +
        `heating in ${heated} of ${Math.max(0, pts.length - 1)} intervals; ${energyText}, ${costText}.`;
      HeatChart.renderPlan(planChart, plan, {
        offsetMin: (app.status && app.status.site_utc_offset_minutes) || 0,
        now: serverNow(),
        maxPowerW: z && z.reading ? z.reading.heater_power_w : 0,
        label,
        fmtTip: (ms) => `${fmtShort(ms)}–${fmtTime(ms + plan.step_s * 1000)}`,
        fmtTick: (ms) => (fmtTime(ms) === "00:00" ? fmtDay(ms).replace(/ \w+$/, "") : fmtTime(ms)),
        fmtMark: (ms) => fmtShort(ms),
      });
    }

    async function loadCommands() {
      try {
        const cmds = await api("GET", `commands/zone/${id}?limit=20`);
        commandsBody.textContent = "";
        if (!cmds.length) {
          commandsBody.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No commands yet.")));
        }
        for (const c of cmds) {
          const cls = { confirmed: "ok", failed: "bad", pending: "warn", sent: "warn" }[c.status] || "";
          commandsBody.append(h("tr", { "data-command-id": c.id },
            h("td", { class: "time-cell", title: fmtDateTime(Date.parse(c.timestamp)) }, fmtShort(Date.parse(c.timestamp))),
            h("td", { class: "num" }, deg(c.target_temp)),
            h("td", {}, c.source),
            h("td", { class: "reason-cell hide-narrow" }, c.reason || "", c.error ? h("div", { class: "field-error" }, c.error) : null),
            h("td", {}, h("span", { class: `pill ${cls}`, title: c.error || "" }, c.status))));
        }
      } catch (e) {
        commandsBody.textContent = "";
        commandsBody.append(h("tr", {}, h("td", { colspan: 5, class: "field-error" }, e.message)));
      }
    }

    async function setTarget(e) {
      e.preventDefault();
      result.textContent = "";
      error.textContent = "";
      const raw = targetInput.value.trim().replace(",", ".");
      const value = Number(raw);
      if (!raw || !isFinite(value)) {
        targetInput.setAttribute("aria-invalid", "true");
        error.textContent = "Enter a target temperature in °C, e.g. 21.5.";
        targetInput.focus();
        return;
      }
      targetInput.removeAttribute("aria-invalid");
      const body = { target_temp: value };
      if (holdSelect.value) body.hold_minutes = Number(holdSelect.value);
      setButton.disabled = true;
      setButton.textContent = "Sending…";
      try {
        const r = await api("POST", `zones/${id}/target`, body);
        const until = r.hold.until ? `held until ${fmtWhen(Date.parse(r.hold.until))}` : "held until occupancy changes";
        result.dataset.commandId = r.command.id;
        result.textContent = `Command #${r.command.id} ${r.command.status}: ${deg(r.command.target_temp)}, ${until}.`;
        await Promise.all([refreshNow(), loadCommands()]);
        loadHistory();
      } catch (err) {
        targetInput.setAttribute("aria-invalid", String(err.status === 422));
        error.textContent = err.message;
      } finally {
        setButton.disabled = false;
        setButton.textContent = "Set target";
      }
    }

    async function cancelHold() {
      result.textContent = "";
      error.textContent = "";
      cancelButton.disabled = true;
      try {
        await api("DELETE", `zones/${id}/hold`);
        result.textContent = "Hold cancelled: automatic control takes over at its next run.";
        await refreshNow();
      } catch (err) {
        error.textContent = err.message;
        cancelButton.disabled = !hasHold;
      }
    }

    api("GET", `zones/${id}`).then((z) => {
      zone = z;
      setText(main, "name", z.name);
      document.title = `${z.name} · Heating dashboard`;
      const p = z.preferences;
      setText(main, "limits", `This zone accepts ${f1(p.min_temp)}–${f1(p.max_temp)} °C`);
    }).catch((e) => {
      main.textContent = "";
      main.append(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview")),
        h("h1", {}, "Zone not available"), h("p", { class: "msg error", role: "alert" }, e.message));
      app.view = null;
    });
    loadCommands();

    return {
      update(s) {
        const z = s.zones.find((zz) => zz.id === id);
        if (!z) return;
        lastZone = z;
        // The plan changes with each control run (and with the strategy or a hold): fetch it then, not every poll.
        const key = `${z.active ? z.active.decided_at : ""}|${z.strategy}|${z.hold ? z.hold.set_at : ""}`;
        if (key !== planKey) {
          planKey = key;
          loadPlan();
        }
        const r = z.reading;
        const t = activeTarget(z);
        const pill = healthPill(z.health);
        setText(main, "name", z.name);
        const hp = main.querySelector('[data-field="health"]');
        hp.className = pill.cls;
        setText(main, "health", pill.label);
        setText(main, "endpoint", z.endpoint ? `Modbus ${z.endpoint}` : "No Modbus device");
        setText(main, "temperature", r ? deg(r.temperature) : "–");
        setText(main, "temperature-note", r ? `Read ${fmtTimeS(Date.parse(r.timestamp))}` : "");
        setText(main, "target", deg(t.value));
        setText(main, "target-note", [t.why, planText(z)].filter(Boolean).join(" · "));
        setText(main, "occupancy", r ? (r.occupancy ? "Occupied" : "Vacant") : "–");
        setText(main, "occupancy-note", "");
        setText(main, "heater", r ? (r.heater_on ? "On" : "Off") : "–");
        setText(main, "heater-note", r ? `Rated ${(r.heater_power_w / 1000).toFixed(1)} kW · counter ${(r.energy_wh / 1000).toFixed(1)} kWh` : "");
        setText(main, "outdoor", r ? deg(r.outdoor_temp) : deg(s.weather.outdoor_c));
        setText(main, "outdoor-note", s.weather.next_24h_min_c === null || s.weather.next_24h_min_c === undefined ? "" : `Next 24 h ${f1(s.weather.next_24h_min_c)} to ${f1(s.weather.next_24h_max_c)} °C`);
        setText(main, "last-seen", z.health.last_seen ? fmtTimeS(Date.parse(z.health.last_seen)) : "never");
        setText(main, "last-seen-note", z.health.last_error ? z.health.last_error : z.health.consecutive_failures ? `${z.health.consecutive_failures} failures` : "");
        hasHold = !!z.hold;
        cancelButton.disabled = !hasHold;
        holdBox.hidden = !hasHold;
        if (z.hold) {
          holdBox.textContent = `${deg(z.hold.target_temp)} held ${z.hold.until ? `until ${fmtWhen(Date.parse(z.hold.until))}` : "until occupancy changes"}.`;
        }
        // Offer the target in force once; never touch the field again while someone may be typing in it.
        if (!prefilled && t.value !== null && t.value !== undefined) {
          targetInput.value = f1(t.value);
          prefilled = true;
        }
        // Commands refresh every 10 s; charts at once, then every 10 s for an hour, less often for longer ranges
        // (a week of one-second readings is half a second of database work).
        if (Date.now() - lastCommands > 10000) {
          if (lastCommands !== 0) loadCommands();
          lastCommands = Date.now();
        }
        const sparse = !lastDrawn || lastDrawn[0].buckets.length < 2; // just started: look again soon
        if (range !== "custom" && Date.now() - lastHistory > (sparse ? 5000 : REFRESH[range])) loadHistory();
      },
    };
  }

  // ---------- add / edit zone ----------

  function zoneFormView(main, id) {
    const editing = id !== null;
    const fields = {};
    const input = (key, label, attrs, hint) => {
      const inputId = `f-${key}`;
      const hintId = hint ? `${inputId}-hint` : null;
      const errId = `${inputId}-error`;
      const el = h("input", Object.assign({ id: inputId, name: key, "aria-describedby": [hintId, errId].filter(Boolean).join(" ") }, attrs));
      const err = h("span", { class: "field-error", id: errId });
      fields[key] = { el, err };
      return h("div", { class: "field" }, h("label", { for: inputId }, label), el, hint ? h("span", { class: "hint", id: hintId }, hint) : null, err);
    };
    const formError = h("p", { class: "msg error", id: "form-error", role: "alert" });
    const saveButton = h("button", { class: "btn primary", type: "submit" }, editing ? "Save changes" : "Add zone");
    const form = h("form", { class: "panel form-narrow", id: "zone-form", novalidate: true, onsubmit: save },
      h("fieldset", {}, h("legend", {}, "Zone"),
        input("name", "Name", { type: "text", required: true, maxlength: "100", autocomplete: "off" }, "Unique, 1 to 100 characters")),
      h("fieldset", {}, h("legend", {}, "Modbus device"),
        h("div", { class: "field-row" },
          input("modbus_host", "Host", { type: "text", value: "localhost", autocomplete: "off" }),
          input("modbus_port", "Port", { type: "number", min: "1", max: "65535", inputmode: "numeric" }, "Empty: no device"),
          input("modbus_unit_id", "Unit id", { type: "number", min: "0", max: "255", value: "1", inputmode: "numeric" }))),
      h("fieldset", {}, h("legend", {}, "Comfort preferences (°C)"),
        h("div", { class: "field-row" },
          PREFS.map(([key, label, hint]) => input(key, label, { type: "number", step: "0.5", min: "5", max: "35", inputmode: "decimal" }, hint)))),
      h("div", { class: "actions" }, saveButton, h("a", { class: "btn", href: editing ? `#/zone/${id}` : "#/" }, "Cancel")),
      formError);

    main.append(
      h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), " › ",
        editing ? h("a", { href: `#/zone/${id}`, "data-field": "name" }, `Zone ${id}`) : "Add zone"),
      h("div", { class: "page-head" }, h("h1", {}, editing ? "Edit zone" : "Add a zone")),
      form);

    if (editing) {
      const deleteError = h("p", { class: "msg error", id: "delete-error", role: "alert" });
      const confirmBox = h("div", { id: "delete-confirm", hidden: true },
        h("p", {}, "Delete this zone together with all its readings and commands? This cannot be undone."),
        h("div", { class: "actions" },
          h("button", { class: "btn danger solid", type: "button", id: "delete-yes", onclick: remove }, "Delete zone and history"),
          h("button", { class: "btn", type: "button", onclick: () => { confirmBox.hidden = true; startButton.hidden = false; startButton.focus(); } }, "Keep it")));
      const startButton = h("button", { class: "btn danger", type: "button", id: "delete-start",
        onclick: () => { confirmBox.hidden = false; startButton.hidden = true; document.getElementById("delete-yes").focus(); } }, "Delete zone…");
      main.append(h("section", { class: "panel danger-zone form-narrow", "aria-labelledby": "delete-heading", style: "margin-top:16px" },
        h("h2", { id: "delete-heading" }, "Delete zone"),
        h("p", { class: "muted" }, "Polling and control stop for this zone, and its history is deleted."),
        startButton, confirmBox, deleteError));

      async function remove() {
        deleteError.textContent = "";
        try {
          await api("DELETE", `zones/${id}?cascade=true`);
          app.flash = "Zone deleted.";
          location.hash = "#/";
        } catch (e) {
          deleteError.textContent = e.message;
        }
      }

      api("GET", `zones/${id}`).then((z) => {
        setText(main, "name", z.name);
        fields.name.el.value = z.name;
        fields.modbus_host.el.value = z.modbus_host;
        fields.modbus_port.el.value = z.modbus_port === null ? "" : String(z.modbus_port);
        fields.modbus_unit_id.el.value = String(z.modbus_unit_id);
        for (const [key] of PREFS) fields[key].el.value = z.preferences[key] === undefined ? "" : f1(z.preferences[key]);
      }).catch((e) => { formError.textContent = e.message; });
    } else {
      fields.occupied_temp.el.value = "21.0";
      fields.unoccupied_temp.el.value = "17.0";
      fields.min_temp.el.value = "10.0";
      fields.max_temp.el.value = "28.0";
    }
    fields.name.el.focus();

    function fieldError(key, message) {
      const f = fields[key];
      f.err.textContent = message;
      f.el.setAttribute("aria-invalid", "true");
    }

    function clearErrors() {
      formError.textContent = "";
      for (const f of Object.values(fields)) { f.err.textContent = ""; f.el.removeAttribute("aria-invalid"); }
    }

    /// The body to send, or null after marking the fields in error.
    function collect() {
      let ok = true;
      const v = (key) => fields[key].el.value.trim();
      const body = { name: v("name"), modbus_host: v("modbus_host") || "localhost" };
      if (!body.name) { fieldError("name", "Enter a name."); ok = false; }
      const port = v("modbus_port");
      if (port === "") body.modbus_port = null;
      else if (!/^\d+$/.test(port) || +port < 1 || +port > 65535) { fieldError("modbus_port", "A port is a whole number from 1 to 65535."); ok = false; }
      else body.modbus_port = +port;
      const unit = v("modbus_unit_id");
      if (!/^\d+$/.test(unit) || +unit > 255) { fieldError("modbus_unit_id", "A unit id is a whole number from 0 to 255."); ok = false; }
      else body.modbus_unit_id = +unit;
      body.preferences = {};
      for (const [key] of PREFS) {
        const raw = v(key).replace(",", ".");
        if (raw === "") continue;
        const n = Number(raw);
        if (!isFinite(n)) { fieldError(key, "Enter a temperature in °C."); ok = false; }
        else body.preferences[key] = n;
      }
      return ok ? body : null;
    }

    async function save(e) {
      e.preventDefault();
      clearErrors();
      const body = collect();
      if (!body) {
        formError.textContent = "Please correct the marked fields.";
        const first = Object.values(fields).find((f) => f.el.getAttribute("aria-invalid") === "true");
        if (first) first.el.focus();
        return;
      }
      if (!editing && body.modbus_port === null) delete body.modbus_port;
      saveButton.disabled = true;
      try {
        const z = editing ? await api("PUT", `zones/${id}`, body) : await api("POST", "zones", body);
        app.flash = editing ? "Zone saved." : `Zone ${z.name} added.`;
        location.hash = `#/zone/${z.id}`;
        refreshNow();
      } catch (err) {
        formError.textContent = err.message;
        // The server's message names the field: mark it.
        const key = Object.keys(fields).find((k) => err.message.includes(k)) ||
          (/name/i.test(err.message) ? "name" : /endpoint|port/i.test(err.message) ? "modbus_port" : null);
        if (key) fieldError(key, err.message);
      } finally {
        saveButton.disabled = false;
      }
    }

    return {};
  }

  // ---------- routing ----------

  function render() {
    const hash = location.hash || "#/";
    const main = document.getElementById("main");
    main.textContent = "";
    document.title = "Heating dashboard";
    let m, nav = "overview";
    if ((m = hash.match(/^#\/zone\/(\d+)\/edit$/))) app.view = zoneFormView(main, Number(m[1]));
    else if ((m = hash.match(/^#\/zone\/(\d+)$/))) app.view = zoneView(main, Number(m[1]));
    else if (hash === "#/zones/new") { app.view = zoneFormView(main, null); nav = "new"; }
    else app.view = overviewView(main);
    if (!/^#\/zone/.test(hash) && hash !== "#/zones/new") nav = "overview";
    else if (hash !== "#/zones/new") nav = null;
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    if (app.flash) {
      main.prepend(h("p", { class: "msg ok", role: "status", style: "margin:0 0 16px" }, app.flash));
      app.flash = null;
    }
    if (app.status && app.view && app.view.update) app.view.update(app.status);
    window.scrollTo(0, 0);
  }

  document.querySelector(".skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", render);
  setInterval(updateClock, 1000);
  render();
  tick();
})();
