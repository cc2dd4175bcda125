// The plan panel of a zone page: the predictive controller's next 24 hours from GET zones/{id}/plan, fetched when
// the control decision changes (not at every poll); for other strategies, why there is no plan.
import { api } from "./api.js";
import { HeatChart } from "./chart.js";
import { DAY, f1, fmtDay, fmtShort, fmtTime, h, setText } from "./dom.js";
import { serverNow, siteOffsetMin } from "./live.js";

/// The summary line above the chart: warm-up start, planned energy and cost, the model used.
function fillSummary(planSummary, plan, z, warm, energyText, costText) {
  const fitted = plan.model_source === "identified" && z && z.model_fitted_at ? ` (fitted ${fmtShort(Date.parse(z.model_fitted_at))})`
    : plan.model_source === "fallback" ? " (no good fit yet)" : "";
  planSummary.textContent = "";
  const nb = (text) => text.replace(/ /g, "\u00a0"); // a figure and its unit on one line
  planSummary.append(h("strong", {}, nb(warm).replace("\u00a0from", " from")),
    ` · ${nb(energyText)} · ${nb(costText)} planned · model: ${plan.model_source}${fitted}`);
}

/// The plan panel for zone `id`; `zoneLabel()` names the zone in the chart's accessible name. Returns its section,
/// `update(z, prices)` for each status (`z`: this zone in it, `prices`: the status' prices) and `redraw()` (the same plan at the current width).
export function planPanel(id, zoneLabel) {
  let planKey = null, planSeq = 0;
  let lastPlan = null; // GET zones/{id}/plan
  let lastZone = null; // this zone in the last status
  let lastPrices = null; // `prices` of the last status (where the plan's prices come from)

  const planChart = h("div", { class: "plan-wrap", id: "plan-chart" });
  const planSummary = h("p", { class: "plan-summary", id: "plan-summary" });
  const planReason = h("p", { class: "plan-reason", id: "plan-reason" });
  const planError = h("p", { class: "msg error", id: "plan-error", role: "alert" });
  const planLegend = h("ul", { class: "legend", "aria-label": "Plan legend", hidden: true },
    h("li", {}, h("span", { class: "swatch temp" }), "Planned air"),
    h("li", {}, h("span", { class: "swatch bound" }), "Lowest allowed (comfort when occupied)"),
    h("li", {}, h("span", { class: "swatch ceiling" }), "Highest allowed (ceiling)"),
    h("li", {}, h("span", { class: "swatch heat" }), "Heater power"),
    h("li", { "data-field": "legend-building", hidden: true }, h("span", { class: "swatch building" }), "Building power (joint plan)"),
    h("li", { "data-field": "legend-cap", hidden: true }, h("span", { class: "swatch cap" }), h("span", { "data-field": "cap-range" }, "Building cap")),
    h("li", {}, h("span", { class: "swatch price" }), h("span", { "data-field": "price-range" }, "Price")),
    h("li", {}, h("span", { class: "swatch preheat" }), "Warm-up start"));
  const section = h("section", { class: "panel", id: "plan", "aria-labelledby": "plan-heading" },
    h("div", { class: "panel-head mb-8" }, h("h2", { id: "plan-heading" }, "Plan — next 24 h")),
    planSummary, planReason, planChart, planLegend, planError);

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
    const energyText = `${plan.energy_kwh.toFixed(1)} kWh`, costText = `${plan.cost_eur.toFixed(2)} €`;
    fillSummary(planSummary, plan, z, warm, energyText, costText);
    const temps = pts.map((p) => p.temp_c);
    const heated = pts.filter((p) => p.power_w !== null && p.power_w >= 1).length;
    const prices = pts.map((p) => p.price_eur_kwh).filter((v) => v !== null && v !== undefined);
    const source = lastPrices && lastPrices.current_from === "series" ? ` (${lastPrices.stale ? "stale " : ""}feed)` : "";
    setText(section, "price-range", prices.length ? `Price ${Math.min(...prices).toFixed(2)}–${Math.max(...prices).toFixed(2)} €/kWh${source}` : "Price");
    planLegend.hidden = false;
    const caps = pts.map((p) => p.cap_kw).filter((v) => v !== null && v !== undefined);
    const building = pts.some((p) => p.building_kw !== null && p.building_kw !== undefined);
    planLegend.querySelector('[data-field="legend-cap"]').hidden = !caps.length;
    planLegend.querySelector('[data-field="legend-building"]').hidden = !building;
    const capRange = caps.length ? `${Math.min(...caps).toFixed(1)}${Math.max(...caps) > Math.min(...caps) ? `–${Math.max(...caps).toFixed(1)}` : ""} kW` : "";
    setText(section, "cap-range", caps.length ? `Building cap ${capRange}` : "Building cap");
    const uppers = pts.map((p) => p.upper_c).filter((v) => v !== null && v !== undefined);
    const label = `Plan for ${zoneLabel()} from ${fmtTime(from)} to ${fmtShort(to)}: ` +
      `${preheat === null ? "no warm-up planned" : `warm-up from ${fmtShort(preheat)}`}; planned air ${f1(Math.min(...temps))} to ${f1(Math.max(...temps))} °C; ` +
      `heating in ${heated} of ${Math.max(0, pts.length - 1)} intervals; ${energyText}, ${costText}` +
      (uppers.length ? `; highest allowed ${f1(Math.min(...uppers))} to ${f1(Math.max(...uppers))} °C` : "") +
      (caps.length ? `; building cap ${capRange}` : "") + ".";
    HeatChart.renderPlan(planChart, plan, {
      offsetMin: siteOffsetMin(),
      now: serverNow(),
      maxPowerW: z && z.reading ? z.reading.heater_power_w : 0,
      label,
      fmtTip: (ms) => `${fmtShort(ms)}–${fmtTime(ms + plan.step_s * 1000)}`,
      fmtTick: (ms) => (fmtTime(ms) === "00:00" ? fmtDay(ms).replace(/ \w+$/, "") : fmtTime(ms)),
      fmtMark: (ms) => fmtShort(ms),
    });
  }

  return {
    section,
    update(z, prices) {
      lastZone = z;
      lastPrices = prices || null;
      // The plan changes with each control run (and with the strategy or a hold): fetch it then, not every poll.
      const key = `${z.active ? z.active.decided_at : ""}|${z.strategy}|${z.hold ? z.hold.set_at : ""}`;
      if (key !== planKey) {
        planKey = key;
        loadPlan();
      }
    },
    redraw() {
      if (lastPlan) drawPlan(lastPlan);
    },
  };
}
