// The overview (#/): the building's summary and outdoor conditions, and a card per zone, updated in place.
import { can } from "./auth.js";
import { activeTarget, healthPill, planText } from "./describe.js";
import { deg, f1, fmtShort, h, setText, statPanel } from "./dom.js";

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

/// The summary panels: zones online, heating, occupied, and the weather.
function fillSummary(main, s) {
  const zones = s.zones;
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

export function overviewView(main) {
  const grid = h("div", { class: "zone-grid", id: "zone-grid" });
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
  main.append(
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Building overview"), h("p", { "data-field": "subtitle" }, "Loading live status…"))),
    h("section", { class: "summary", "aria-label": "Building summary" },
      weather, statPanel("online", "Zones online"), statPanel("heating", "Heating now"), statPanel("occupied", "Occupied"),
      demandPanel),
    h("section", { "aria-labelledby": "zones-heading" },
      h("h2", { id: "zones-heading", class: "visually-hidden" }, "Zones"), grid));

  return {
    update(s) {
      fillGrid(grid, s.zones);
      fillSummary(main, s);
    },
  };
}
