// Alerts: the top bar's badge (open alerts not yet acknowledged, from each GET status's `alerts` summary) and the
// alerts view (#/alerts): the open alerts or the history (GET alerts), reloaded when the summary changes, with an
// Acknowledge button for operators (POST alerts/{id}/acknowledge; a refusal is shown in the server's words).
import { api } from "./api.js";
import { can } from "./auth.js";
import { fmtDateTime, fmtShort, h } from "./dom.js";

const KIND = {
  offline: "Device offline",
  below_comfort: "Below comfort",
  no_heat_rise: "Heater without effect",
  sensor_range: "Sensor out of range",
  sensor_frozen: "Sensor frozen",
  write_failures: "Writes failing",
  model_fit: "Model fit bad",
};

/// The badge in the top bar: the count of active (unacknowledged) alerts; acknowledged ones in its title.
export function updateAlertBadge(status) {
  const badge = document.getElementById("alert-count");
  if (!badge || !status || !status.alerts) return;
  const { active, acknowledged } = status.alerts;
  badge.textContent = String(active);
  badge.hidden = active === 0;
  badge.title = `${active} active, ${acknowledged} acknowledged`;
  const link = badge.closest("a");
  if (link) link.setAttribute("aria-label", `Alerts: ${active} active, ${acknowledged} acknowledged`);
}

const summaryKey = (s) => (s && s.alerts ? `${s.alerts.active}/${s.alerts.acknowledged}/${s.alerts.newest_raised_at}` : "");

function alertRow(a, onAck) {
  const cls = { active: "bad", acknowledged: "warn", cleared: "ok" }[a.state] || "";
  const raised = Date.parse(a.raised_at);
  const ackNote = a.acknowledged_by
    ? h("div", { class: "muted", "data-field": "acknowledged" }, `by ${a.acknowledged_by}, ${fmtShort(Date.parse(a.acknowledged_at))}`)
    : null;
  const action = a.state === "active" && can("operator")
    ? h("button", { class: "btn", type: "button", "data-ack": a.id, onclick: (e) => onAck(a, e.currentTarget) }, "Acknowledge")
    : null;
  return h("tr", { "data-alert-id": a.id, "data-state": a.state },
    h("td", { class: "time-cell", title: fmtDateTime(raised) }, fmtShort(raised)),
    h("td", {}, a.zone_name ? h("a", { href: `#/zone/${a.zone_id}` }, a.zone_name) : `zone ${a.zone_id}`),
    h("td", {}, KIND[a.kind] || a.kind),
    h("td", { class: "reason-cell" }, a.message, h("div", { class: "field-error", "data-field": "ack-error" })),
    h("td", {}, h("span", { class: `pill ${cls}` }, a.state), ackNote,
      a.cleared_at ? h("div", { class: "muted" }, `cleared ${fmtShort(Date.parse(a.cleared_at))}`) : null),
    h("td", {}, action));
}

/// The alerts view: open alerts (or all), reloaded when the status summary changes.
export function alertsView(main) {
  document.title = "Alerts · Heating dashboard";
  let showAll = false;
  let lastKey = null;
  const body = h("tbody", {});
  const note = h("p", { class: "muted m-0", id: "alerts-note" }, "");
  const toggle = h("button", { class: "btn", type: "button", id: "alerts-toggle", "aria-pressed": "false",
    onclick: () => { showAll = !showAll; toggle.setAttribute("aria-pressed", String(showAll)); toggle.textContent = showAll ? "Open only" : "Show history"; load(); } },
  "Show history");
  main.append(h("section", { class: "panel", "aria-labelledby": "alerts-heading" },
    h("div", { class: "panel-head" }, h("h1", { id: "alerts-heading", class: "m-0" }, "Alerts"), toggle),
    note,
    can("operator") ? null : h("p", { class: "muted" }, "Acknowledging an alert needs the operator role."),
    h("div", { class: "table-scroll" },
      h("table", { id: "alerts" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Raised"), h("th", { scope: "col" }, "Zone"), h("th", { scope: "col" }, "Alert"),
          h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, ""))),
        body))));

  async function acknowledge(a, button) {
    button.disabled = true;
    const row = button.closest("tr");
    try {
      await api("POST", `alerts/${a.id}/acknowledge`, {});
      await load();
    } catch (e) {
      button.disabled = false;
      const err = row && row.querySelector('[data-field="ack-error"]');
      if (err) err.textContent = e.message;
    }
  }

  async function load() {
    try {
      const list = await api("GET", `alerts?state=${showAll ? "all" : "open"}&limit=200`);
      body.textContent = "";
      note.textContent = showAll ? "Every alert, newest first (the latest 200)." : "Open alerts: active, or acknowledged and waiting for the condition to end.";
      if (!list.length) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, showAll ? "No alerts yet." : "No open alerts.")));
      for (const a of list) body.append(alertRow(a, acknowledge));
    } catch (e) {
      body.textContent = "";
      body.append(h("tr", {}, h("td", { colspan: 6, class: "field-error" }, e.message)));
    }
  }

  load();
  return {
    update(status) {
      const key = summaryKey(status);
      if (lastKey !== null && key !== lastKey) load();
      lastKey = key;
    },
  };
}
