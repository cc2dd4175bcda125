// The overview (#/): the building's summary and outdoor conditions, then a card per zone (small sites) or the
// compact view of compact.js (above COMPACT_ABOVE zones, or when chosen with the layout toggle), updated in place.
import { can } from "./auth.js";
import { activeTarget, healthPill, planText } from "./describe.js";
import { compactView } from "./compact.js";
import { deg, f1, fmtShort, h, setText, statPanel } from "./dom.js";
import { app, refreshNow } from "./live.js";

function card(z) {
  return h("article", { class: "zone-card", "data-zone-id": z.id, "aria-labelledby": `zone-${z.id}-name` },
    h("header", {},
      h("div", {},
        h("h2", {}, h("a", { href: `#/zone/${z.id}`, id: `zone-${z.id}-name`, "data-field": "name" }, z.name)),
        h("p", { class: "endpoint", "data-field": "endpoint" }, "")),
      h("span", { class: "pill", "data-field": "health" }, "")),
    h("div", { class: "temp-row" },
      h("p", { class: "big-temp m-0", "aria-label": "Air temperature" },
        h("span", { "data-field": "temperature" }, "–"), h("span", { class: "unit" }, "°C")),
      h("p", { class: "target-line m-0" }, "Target ", h("strong", { "data-field": "target" }, "–"))),
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

/// A card per zone, in the server's order: new ones added, gone ones removed, the others updated in place.
function fillGrid(grid, zones) {
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
    grid.append(h("p", { class: "empty" }, "No zones yet.", can("admin") ? [" ", h("a", { href: "#/zones/new" }, "Add the first zone"), "."] : null));
  }
}

/// Zones by state, from a compact status's counts or the zones of a full one (the same rules as the server's).
function countsOf(s) {
  if (s.counts) return s.counts;
  const c = { zones: s.zones.length, with_device: 0, online: 0, offline: 0, degraded: 0, below_comfort: 0, heating: 0, occupied: 0, on_hold: 0, heater_power_w: 0 };
  for (const z of s.zones) {
    const r = z.reading;
    const st = z.health.state;
    c.with_device += st !== "no_device" ? 1 : 0;
    c.online += st === "online" ? 1 : 0;
    c.offline += st === "offline" ? 1 : 0;
    c.degraded += st === "degraded" ? 1 : 0;
    c.on_hold += z.hold ? 1 : 0;
    if (!r) continue;
    const target = z.active && z.active.target_temp !== null && z.active.target_temp !== undefined ? z.active.target_temp : r.target_temp;
    c.below_comfort += r.temperature < target - 0.5 ? 1 : 0;
    c.occupied += r.occupancy ? 1 : 0;
    if (r.heater_on) { c.heating += 1; c.heater_power_w += r.heater_power_w; }
  }
  return c;
}

/// The summary panels: zones online, heating, occupied, below comfort, and the weather. Counts only, one line
/// each, whatever the number of zones.
function fillSummary(main, s) {
  const c = countsOf(s);
  setText(main, "online", `${c.online} / ${c.with_device}`);
  const down = [c.offline ? `${c.offline} offline` : "", c.degraded ? `${c.degraded} degraded` : ""].filter(Boolean);
  setText(main, "online-note", down.length ? down.join(" · ") : "All devices answering");
  setText(main, "heating", String(c.heating));
  setText(main, "heating-note", c.heating ? `${(c.heater_power_w / 1000).toFixed(1)} kW rated load` : "No heater running");
  setText(main, "occupied", String(c.occupied));
  setText(main, "occupied-note", c.occupied ? `of ${c.zones} zone${c.zones === 1 ? "" : "s"}` : "Building vacant");
  setText(main, "below", String(c.below_comfort));
  setText(main, "below-note", c.on_hold ? `${c.on_hold} on manual hold` : "Over 0.5 K under target");
  setText(main, "subtitle", `${c.zones} zone${c.zones === 1 ? "" : "s"} · updated every ${s.poll_interval_s} s`);
  const w = s.weather;
  setText(main, "outdoor", deg(w.outdoor_c));
  setText(main, "forecast", w.next_24h_min_c === null || w.next_24h_min_c === undefined ? "–" : `${f1(w.next_24h_min_c)} to ${f1(w.next_24h_max_c)} °C`);
  const note = w.error ? `No forecast: ${w.error}` : `${w.provider}${w.location ? ` · ${w.location}` : ""}${w.stale ? " · stale" : ""}`;
  setText(main, "weather-note", note);
  // The building demand cap (null without DEMAND_CAP_KW): the cap now, this 15-minute window's mean so far, the
  // zones held off, and why comfort cannot be kept when the joint plan says so.
  const d = s.demand;
  const capPanel = main.querySelector("#demand-cap");
  if (capPanel) capPanel.hidden = !d;
  if (d) {
    setText(main, "demand", `${d.window_mean_kw.toFixed(1)} / ${d.cap_kw.toFixed(1)} kW`);
    const held = d.shed_zones.length ? ` · ${d.shed_zones.length} held off` : "";
    const limited = d.joint && d.joint.comfort_limited ? ` · ${d.joint.comfort_limited}` : "";
    setText(main, "demand-note", `15-min mean so far${held}${limited}`);
  }
}

/// Above this many zones the compact view is the default (the cards stay a click away, and remain the default below).
export const COMPACT_ABOVE = 24;
const MODE_KEY = "heating-dashboard.overview";

function chosenMode() {
  try { return localStorage.getItem(MODE_KEY); } catch { return null; }
}

export function overviewView(main) {
  const grid = h("div", { class: "zone-grid", id: "zone-grid" });
  const compactRoot = h("div", { id: "compact", hidden: true });
  const weather = h("div", { class: "panel weather-panel", id: "weather", "aria-label": "Outdoor conditions" },
    h("div", { class: "weather-now" },
      h("p", { class: "stat-label" }, "Outdoor now"),
      h("p", { class: "stat-value", "data-field": "outdoor" }, "–")),
    h("div", {},
      h("p", { class: "stat-label" }, "Next 24 hours"),
      h("p", { class: "stat-value text-md", "data-field": "forecast" }, "–"),
      h("p", { class: "stat-note", "data-field": "weather-note" }, "")));
  const demandPanel = statPanel("demand", "Demand cap");
  demandPanel.id = "demand-cap";
  demandPanel.hidden = true;
  const toggle = h("div", { class: "segmented", role: "group", "aria-label": "Overview layout", id: "view-toggle" },
    h("button", { type: "button", "data-mode": "compact", "aria-pressed": "false" }, "Compact"),
    h("button", { type: "button", "data-mode": "cards", "aria-pressed": "false" }, "Cards"));
  main.append(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Building overview"), h("p", { "data-field": "subtitle" }, "Loading live status…")),
      toggle),
    h("section", { class: "summary", "aria-label": "Building summary" },
      weather, statPanel("online", "Zones online"), statPanel("heating", "Heating now"), statPanel("occupied", "Occupied"),
      statPanel("below", "Below comfort"), demandPanel),
    h("section", { "aria-labelledby": "zones-heading" },
      h("h2", { id: "zones-heading", class: "visually-hidden" }, "Zones"), grid, compactRoot));

  let compact = null; // the compact view, built when first shown
  let zoneCount = null;
  const modeFor = (n) => chosenMode() || (n > COMPACT_ABOVE ? "compact" : "cards");
  /// Asks the poller for the status form `mode` needs; true when the status at hand is of another form.
  function want(mode) {
    const query = mode === "compact" ? "status?view=compact" : "status";
    if (app.statusQuery === query) return false;
    app.statusQuery = query;
    refreshNow();
    return true;
  }
  for (const b of toggle.querySelectorAll("button")) {
    b.addEventListener("click", () => {
      try { localStorage.setItem(MODE_KEY, b.dataset.mode); } catch { /* private mode: this page only */ }
      if (!want(b.dataset.mode) && app.status) view.update(app.status);
    });
  }

  const view = {
    compact: true, // takes compact statuses
    update(s) {
      fillSummary(main, s);
      zoneCount = countsOf(s).zones;
      const mode = modeFor(zoneCount);
      for (const b of toggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
      const isCompact = s.view === "compact";
      if (want(mode) || isCompact !== (mode === "compact")) return; // the right form comes with the next answer
      const t0 = performance.now();
      grid.hidden = mode === "compact";
      compactRoot.hidden = mode !== "compact";
      if (mode === "compact") {
        if (!compact) compact = compactView(compactRoot);
        compact.update(s);
        grid.textContent = "";
      } else {
        fillGrid(grid, s.zones);
      }
      void document.body.offsetHeight; // layout included in the figure
      main.dataset.renderMs = (performance.now() - t0).toFixed(1);
      main.dataset.renderedZones = String(zoneCount);
      main.dataset.mode = mode;
    },
  };
  return view;
}
