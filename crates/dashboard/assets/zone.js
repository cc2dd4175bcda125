// A zone's page (#/zone/{id}): what it shows now, the history chart over a chosen range, the plan panel (plan.js),
// the latest commands and who gave them, and manual control (a target with a hold, cancelling a hold) for the
// operator and admin roles; the link to edit the zone for admins.
import { api } from "./api.js";
import { can } from "./auth.js";
import { HeatChart } from "./chart.js";
import { activeTarget, healthPill, planText } from "./describe.js";
import {
  DAY, HOUR, deg, f1, fmtDateTime, fmtDay, fmtShort, fmtTime, fmtTimeS, fmtWhen, fromLocalInput, h, setText,
  statPanel, toLocalInput,
} from "./dom.js";
import { app, refreshNow, serverNow, siteOffsetMin } from "./live.js";
import { planPanel } from "./plan.js";

const RANGES = { "1h": HOUR, "24h": DAY, "7d": 7 * DAY };
/// How often (real ms) a chart of each range is reloaded while shown.
const REFRESH = { "1h": 10e3, "24h": 30e3, "7d": 120e3 };
const HOLDS = [
  ["30", "30 minutes"], ["60", "1 hour"], ["120", "2 hours"], ["240", "4 hours"], ["480", "8 hours"],
  ["1440", "24 hours"], ["10080", "7 days"], ["", "Until occupancy changes"],
];

/// The history panel: range buttons (1 h, 24 h, 7 d, custom), the chart, the energy used over the range.
/// Returns its section and chart element, `load()`, `redraw()` (the same data at the current width) and
/// `maybeReload()` (at each status: reload when the range's refresh interval has passed).
function historyPanel(id, zoneLabel) {
  let range = "24h";
  let lastHistory = 0, historySeq = 0;
  let lastDrawn = null; // [history, from, to]

  const chart = h("div", { class: "chart-wrap", id: "chart" });
  const fromInput = h("input", { type: "datetime-local", id: "range-from" });
  const toInput = h("input", { type: "datetime-local", id: "range-to" });
  const custom = h("form", { class: "custom-range", id: "custom-range", hidden: true, novalidate: true,
    onsubmit: (e) => { e.preventDefault(); loadHistory(); } },
    h("div", { class: "field m-0" }, h("label", { for: "range-from" }, "From"), fromInput),
    h("div", { class: "field m-0" }, h("label", { for: "range-to" }, "To"), toInput),
    h("button", { class: "btn primary", type: "submit" }, "Show range"));
  const rangeButtons = ["1h", "24h", "7d", "custom"].map((r) =>
    h("button", { type: "button", "data-range": r, "aria-pressed": String(r === range), onclick: () => pickRange(r) },
      { "1h": "1 h", "24h": "24 h", "7d": "7 d", custom: "Custom" }[r]));
  const energy = h("strong", { id: "energy" }, "–");
  const chartNote = h("p", { id: "chart-note", class: "m-0" }, "");
  const chartError = h("p", { class: "msg error", id: "chart-error", role: "alert" });
  const section = h("section", { class: "panel", "aria-labelledby": "history-heading" },
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
      h("p", { class: "m-0" }, "Energy used in this range: ", energy), chartNote),
    chartError);

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
      offsetMin: siteOffsetMin(),
      label: `Temperatures of ${zoneLabel()} from ${fmtDateTime(from)} to ${fmtDateTime(to)}: ${hist.buckets.length} points`,
      fmtTip: (ms) => (span > DAY ? fmtDateTime(ms) : fmtTime(ms)),
      fmtTick: (ms, step) => (step >= DAY || (span > DAY && fmtTime(ms) === "00:00") ? fmtDay(ms).replace(/ \w+$/, "") : fmtTime(ms)),
    });
  }

  return {
    section,
    chart,
    load: loadHistory,
    redraw() {
      if (lastDrawn) draw(...lastDrawn);
    },
    maybeReload() {
      // At once, then every 10 s for an hour, less often for longer ranges (a week of one-second readings is half
      // a second of database work).
      const sparse = !lastDrawn || lastDrawn[0].buckets.length < 2; // just started: look again soon
      if (range !== "custom" && Date.now() - lastHistory > (sparse ? 5000 : REFRESH[range])) loadHistory();
    },
  };
}

/// A table row for a command of GET commands/zone/{id}.
function commandRow(c) {
  const cls = { confirmed: "ok", failed: "bad", pending: "warn", sent: "warn" }[c.status] || "";
  return h("tr", { "data-command-id": c.id },
    h("td", { class: "time-cell", title: fmtDateTime(Date.parse(c.timestamp)) }, fmtShort(Date.parse(c.timestamp))),
    h("td", { class: "num" }, deg(c.target_temp)),
    h("td", {}, c.source),
    h("td", { "data-field": "actor" }, c.actor || ""),
    h("td", { class: "reason-cell hide-narrow" }, c.reason || "", c.error ? h("div", { class: "field-error" }, c.error) : null),
    h("td", {}, h("span", { class: `pill ${cls}`, title: c.error || "" }, c.status)));
}

/// The latest 20 commands. Returns the section, `load()` and `maybeReload()` (every 10 s).
function commandsPanel(id) {
  let lastCommands = 0;
  const commandsBody = h("tbody", {});
  const section = h("section", { class: "panel", "aria-labelledby": "commands-heading" },
    h("div", { class: "panel-head" }, h("h2", { id: "commands-heading" }, "Commands"), h("span", { class: "muted" }, "Latest 20")),
    h("div", { class: "table-scroll" },
      h("table", { id: "commands" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Time"), h("th", { scope: "col", class: "num" }, "Target"),
          h("th", { scope: "col" }, "Source"), h("th", { scope: "col", title: "Who gave the command" }, "By"),
          h("th", { scope: "col", class: "hide-narrow" }, "Reason"),
          h("th", { scope: "col" }, "Status"))),
        commandsBody)));

  async function loadCommands() {
    try {
      const cmds = await api("GET", `commands/zone/${id}?limit=20`);
      commandsBody.textContent = "";
      if (!cmds.length) {
        commandsBody.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No commands yet.")));
      }
      for (const c of cmds) commandsBody.append(commandRow(c));
    } catch (e) {
      commandsBody.textContent = "";
      commandsBody.append(h("tr", {}, h("td", { colspan: 6, class: "field-error" }, e.message)));
    }
  }

  return {
    section,
    load: loadCommands,
    maybeReload() {
      if (Date.now() - lastCommands > 10000) {
        if (lastCommands !== 0) loadCommands();
        lastCommands = Date.now();
      }
    },
  };
}

/// Manual control: a target with a hold, and cancelling the hold. `onSent()` runs after a target is accepted.
/// Returns the section and `update(z, t)` (`z`: this zone in the status, `t`: its target in force).
function controlPanel(id, onSent) {
  let hasHold = false;
  let prefilled = false;
  const targetInput = h("input", { id: "target-temp", name: "target_temp", type: "number", inputmode: "decimal",
    step: "0.5", min: "5", max: "35", required: true, "aria-describedby": "target-hint" });
  const holdSelect = h("select", { id: "hold-minutes", name: "hold_minutes", "aria-describedby": "hold-hint" },
    HOLDS.map(([v, label]) => h("option", { value: v, selected: v === "120" }, label)));
  const setButton = h("button", { class: "btn primary wide", type: "submit", id: "set-target" }, "Set target");
  const cancelButton = h("button", { class: "btn wide mt-10", type: "button", id: "cancel-hold", disabled: true, onclick: cancelHold }, "Cancel hold");
  const result = h("p", { class: "msg ok", id: "control-result", role: "status", "aria-live": "polite" });
  const error = h("p", { class: "msg error", id: "control-error", role: "alert" });
  const holdBox = h("p", { class: "hold-box", id: "hold-box", hidden: true });
  const section = h("section", { class: "panel", "aria-labelledby": "control-heading" },
    h("h2", { id: "control-heading", class: "mb-12" }, "Manual control"),
    holdBox,
    h("form", { id: "target-form", novalidate: true, onsubmit: setTarget },
      h("div", { class: "field" },
        h("label", { for: "target-temp" }, "Target temperature (°C)"), targetInput,
        h("span", { class: "hint", id: "target-hint", "data-field": "limits" }, "5.0–35.0 °C")),
      h("div", { class: "field" },
        h("label", { for: "hold-minutes" }, "Hold for"), holdSelect,
        h("span", { class: "hint", id: "hold-hint" }, "Server time. Automatic control resumes afterwards.")),
      setButton),
    cancelButton, result, error);

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
      await onSent();
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

  return {
    section,
    update(z, t) {
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
    },
  };
}

/// Rated power and the energy counter; an estimated counter (no meter: on-time × rated power) is marked "est.".
function heaterNote(r, est) {
  const rated = r.heater_power_w ? `Rated ${(r.heater_power_w / 1000).toFixed(1)} kW` : "Rated power unknown";
  const counter = r.energy_wh === null ? "no energy meter" : `counter ${(r.energy_wh / 1000).toFixed(1)} kWh${est ? " est." : ""}`;
  return `${rated} · ${counter}`;
}

/// The page head and the "now" strip, from status `s` and this zone `z` in it (`t`: its target in force).
function fillNow(main, s, z, t) {
  const r = z.reading;
  const pill = healthPill(z.health);
  setText(main, "name", z.name);
  const hp = main.querySelector('[data-field="health"]');
  hp.className = pill.cls;
  setText(main, "health", pill.label);
  setText(main, "endpoint", z.endpoint ? `Modbus ${z.endpoint} · ${z.device_profile}` : "No Modbus device");
  setText(main, "temperature", r ? deg(r.temperature) : "–");
  setText(main, "temperature-note", r ? `Read ${fmtTimeS(Date.parse(r.timestamp))}` : "");
  setText(main, "target", deg(t.value));
  setText(main, "target-note", [t.why, planText(z)].filter(Boolean).join(" · "));
  // What the device cannot tell is filled in by the server and marked "est." (see `estimated` in /status).
  const est = (field) => (r && (r.estimated || []).includes(field) ? " (est.)" : "");
  setText(main, "occupancy", r ? (r.occupancy ? "Occupied" : "Vacant") + est("occupancy") : "–");
  setText(main, "occupancy-note", est("occupancy") ? "No occupancy sensor: from the zone's schedule" : "");
  setText(main, "heater", r ? (r.heater_on ? "On" : "Off") + est("heater_on") : "–");
  setText(main, "heater-note", r ? heaterNote(r, est("energy_wh")) : "");
  setText(main, "outdoor", r && r.outdoor_temp !== null ? deg(r.outdoor_temp) : deg(s.weather.outdoor_c));
  setText(main, "outdoor-note", s.weather.next_24h_min_c === null || s.weather.next_24h_min_c === undefined ? "" : `Next 24 h ${f1(s.weather.next_24h_min_c)} to ${f1(s.weather.next_24h_max_c)} °C`);
  setText(main, "last-seen", z.health.last_seen ? fmtTimeS(Date.parse(z.health.last_seen)) : "never");
  setText(main, "last-seen-note", z.health.last_error ? z.health.last_error : z.health.consecutive_failures ? `${z.health.consecutive_failures} failures` : "");
}

export function zoneView(main, id) {
  let zone = null; // GET zones/{id}
  // The name from GET zones/{id}, else from the last status (whichever arrived first), else the id.
  const known = () => (app.status ? app.status.zones.find((zz) => zz.id === id) : null);
  const zoneLabel = () => (zone || known() || { name: `zone ${id}` }).name;
  const history = historyPanel(id, zoneLabel);
  const plan = planPanel(id, zoneLabel);
  const commands = commandsPanel(id);
  // Manual control for operators and admins; a viewer is told why there is none.
  const control = can("operator") ? controlPanel(id, async () => {
    await Promise.all([refreshNow(), commands.load()]);
    history.load();
  }) : null;
  const aside = control ? control.section : h("section", { class: "panel", id: "control-note", "aria-labelledby": "control-heading" },
    h("h2", { id: "control-heading" }, "Manual control"),
    h("p", { class: "muted" }, "Setting a target or a hold needs the operator role."));

  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview"), " › ", h("span", { "data-field": "name" }, `Zone ${id}`)),
    h("div", { class: "page-head" },
      h("div", {},
        h("h1", { "data-field": "name", id: "zone-title" }, `Zone ${id}`),
        h("p", {}, h("span", { class: "pill", "data-field": "health" }, "–"), " ", h("span", { "data-field": "endpoint" }, ""))),
      can("admin") ? h("div", { class: "actions" }, h("a", { class: "btn", href: `#/zone/${id}/edit` }, "Edit zone")) : null),
    h("section", { class: "now-strip", "aria-label": "Now" },
      statPanel("temperature", "Air"), statPanel("target", "Target"), statPanel("occupancy", "Occupancy"),
      statPanel("heater", "Heater"), statPanel("outdoor", "Outdoor"), statPanel("last-seen", "Last seen")),
    h("div", { class: "detail-grid" },
      h("div", {}, history.section, plan.section, commands.section),
      h("aside", {}, aside)));

  // Redraw at the new width (the data stays).
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!document.body.contains(history.chart)) return;
      history.redraw();
      plan.redraw();
    }, 150);
  });

  // The view may have been replaced (another route, the sign-in view) by the time the zone arrives.
  api("GET", `zones/${id}`).then((z) => {
    if (app.view !== view) return;
    zone = z;
    setText(main, "name", z.name);
    document.title = `${z.name} · Heating dashboard`;
    const p = z.preferences;
    setText(main, "limits", `This zone accepts ${f1(p.min_temp)}–${f1(p.max_temp)} °C`);
  }).catch((e) => {
    if (app.view !== view) return;
    main.textContent = "";
    main.append(h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Overview")),
      h("h1", {}, "Zone not available"), h("p", { class: "msg error", role: "alert" }, e.message));
    app.view = null;
  });
  commands.load();

  const view = {
    update(s) {
      const z = s.zones.find((zz) => zz.id === id);
      if (!z) return;
      plan.update(z, s.prices);
      const t = activeTarget(z);
      fillNow(main, s, z, t);
      if (control) control.update(z, t);
      // Commands refresh every 10 s; charts at once, then every 10 s for an hour, less often for longer ranges.
      commands.maybeReload();
      history.maybeReload();
    },
  };
  return view;
}
