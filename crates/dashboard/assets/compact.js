// The compact overview: one small tile per zone (name, air, target, state icons), in a collapsible section per
// group (floor), with filters, a search box and sorting (needs attention first). Built for 1,000 zones: the tiles
// are built once and updated in place from the rows of `GET status?view=compact`, only where a row changed.
import { h } from "./dom.js";

/// Bits of a compact row's `flags` (see `GET /status?view=compact`).
export const FLAG = { offline: 1, degraded: 2, below: 4, heating: 8, occupied: 16, hold: 32 };
/// The filters the toolbar offers: a zone shows when it matches any chosen one (and the search).
const FILTERS = [
  ["alerting", "Alerting", (z) => z.alerts > 0],
  ["offline", "Offline", (z) => z.flags & (FLAG.offline | FLAG.degraded)],
  ["below", "Below comfort", (z) => z.flags & FLAG.below],
  ["heating", "Heating", (z) => z.flags & FLAG.heating],
  ["occupied", "Occupied", (z) => z.flags & FLAG.occupied],
  ["hold", "Manual hold", (z) => z.flags & FLAG.hold],
];
/// Above this many zones the sections start collapsed (their headers carry the counts), so the page stays short.
const COLLAPSE_ABOVE = 200;

/// How much a zone needs attention: open alerts, then offline, below comfort, degraded, on hold; 0 for a zone that
/// is fine.
export function attention(z) {
  const f = z.flags;
  return (z.alerts > 0 ? 16 : 0) + (f & FLAG.offline ? 8 : 0) + (f & FLAG.below ? 4 : 0) + (f & FLAG.degraded ? 2 : 0) + (f & FLAG.hold ? 1 : 0);
}

/// The rows of a compact status as objects, by column name (columns may be added at the end).
export function rowsOf(s) {
  const c = Object.fromEntries(s.zone_columns.map((name, i) => [name, i]));
  return s.zone_rows.map((r) => ({
    id: r[c.id], name: r[c.name], group: r[c.group_id], health: r[c.health], air: r[c.air], target: r[c.target],
    flags: r[c.flags], alerts: c.alerts === undefined ? 0 : r[c.alerts] || 0,
  }));
}

const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1));

function iconsOf(z) {
  const out = [];
  if (z.alerts > 0) out.push(["i-alert", z.alerts > 1 ? `⚑${z.alerts}` : "⚑", z.alerts === 1 ? "1 open alert" : `${z.alerts} open alerts`]);
  if (z.flags & FLAG.offline) out.push(["i-off", "⚠", "offline"]);
  else if (z.flags & FLAG.degraded) out.push(["i-deg", "⚠", "degraded"]);
  if (z.flags & FLAG.below) out.push(["i-cold", "❄", "below comfort"]);
  if (z.flags & FLAG.heating) out.push(["i-heat", "♨", "heating"]);
  if (z.flags & FLAG.occupied) out.push(["i-occ", "●", "occupied"]);
  if (z.flags & FLAG.hold) out.push(["i-hold", "✋", "manual hold"]);
  return out;
}

function tile(z) {
  return h("a", { class: "tile", href: `#/zone/${z.id}`, "data-zone-id": z.id },
    h("span", { class: "t-name" }), h("span", { class: "t-air" }), h("span", { class: "t-target" }),
    h("span", { class: "t-icons" }));
}

function fillTile(el, z) {
  el.children[0].textContent = z.name;
  el.children[1].textContent = z.air === null ? "–" : `${fmt(z.air)}°`;
  el.children[2].textContent = z.target === null ? "" : `→ ${fmt(z.target)}`;
  const icons = iconsOf(z);
  const box = el.children[3];
  box.textContent = "";
  for (const [cls, glyph, label] of icons) box.append(h("span", { class: cls, title: label }, glyph));
  el.title = `${z.name}: ${z.air === null ? "no reading" : `${fmt(z.air)} °C`}${z.target === null ? "" : `, target ${fmt(z.target)} °C`}` +
    (icons.length ? ` · ${icons.map((i) => i[2]).join(", ")}` : "");
  el.dataset.flags = z.flags;
  el.dataset.alerts = z.alerts;
  el.dataset.health = z.health;
  el.className = `tile${z.flags & FLAG.heating ? " heating" : ""}${attention(z) >= 4 ? " alert" : ""}`;
}

/// The section label of each group: its path from the top ("HQ › Floor 2").
function groupLabels(groups) {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const label = new Map();
  for (const g of groups) {
    const names = [];
    const seen = new Set();
    for (let at = g; at && !seen.has(at.id); at = byId.get(at.parent_id)) {
      seen.add(at.id);
      names.unshift(at.name);
    }
    label.set(g.id, names.join(" › "));
  }
  return label;
}

/// The compact view in `root`; `update(status)` with a compact status.
export function compactView(root) {
  const state = { search: "", filters: new Set(), sort: "attention", open: new Map(), rows: [], groups: [] };
  const sections = new Map(); // group id (or "none") → { el, grid, head, count }
  const tiles = new Map(); // zone id → { el, key }
  const search = h("input", { type: "search", class: "input search", placeholder: "Search zones", "aria-label": "Search zones", id: "zone-search" });
  const sort = h("select", { class: "input", "aria-label": "Sort zones", id: "zone-sort" },
    h("option", { value: "attention" }, "Needs attention first"), h("option", { value: "name" }, "By name"),
    h("option", { value: "air" }, "Coldest first"));
  const chips = FILTERS.map(([key, label]) =>
    h("button", { type: "button", class: "chip", "data-filter": key, "aria-pressed": "false" }, label, h("span", { class: "chip-n" })));
  const shown = h("p", { class: "stat-note m-0", id: "zone-shown", "aria-live": "polite" });
  const list = h("div", { class: "group-list", id: "group-list" });
  root.append(h("div", { class: "toolbar", role: "search" }, search, h("div", { class: "chips", role: "group", "aria-label": "Filters" }, chips), sort, shown), list);

  search.addEventListener("input", () => { state.search = search.value.trim().toLowerCase(); apply(); });
  sort.addEventListener("change", () => { state.sort = sort.value; apply(); });
  for (const chip of chips) {
    chip.addEventListener("click", () => {
      const key = chip.dataset.filter;
      if (state.filters.has(key)) state.filters.delete(key); else state.filters.add(key);
      chip.setAttribute("aria-pressed", String(state.filters.has(key)));
      apply();
    });
  }

  function section(key, label) {
    let s = sections.get(key);
    if (s) {
      if (s.label !== label) { s.title.textContent = label; s.label = label; }
      return s;
    }
    const grid = h("div", { class: "tiles" });
    const title = h("span", { class: "g-name" }, label);
    const count = h("span", { class: "g-counts" });
    const head = h("button", { type: "button", class: "group-head", "aria-expanded": "true" }, h("span", { class: "chev", "aria-hidden": "true" }), title, count);
    const el = h("section", { class: "group-sec", "data-group-id": key }, h("h3", { class: "m-0" }, head), grid);
    head.addEventListener("click", () => {
      state.open.set(key, head.getAttribute("aria-expanded") !== "true");
      apply();
    });
    s = { el, grid, head, title, count, label };
    sections.set(key, s);
    return s;
  }

  function matches(z) {
    if (state.search && !z.name.toLowerCase().includes(state.search)) return false;
    if (!state.filters.size) return true;
    return FILTERS.some(([key, , test]) => state.filters.has(key) && test(z));
  }

  function order(a, b) {
    if (state.sort === "attention") return attention(b) - attention(a) || a.name.localeCompare(b.name, undefined, { numeric: true });
    if (state.sort === "air") return (a.air ?? Infinity) - (b.air ?? Infinity) || a.id - b.id;
    return a.name.localeCompare(b.name, undefined, { numeric: true });
  }

  /// Places every tile in its section, in order, showing the matching ones; collapses as chosen.
  function apply() {
    const labels = groupLabels(state.groups);
    const filtering = !!(state.search || state.filters.size);
    const collapseByDefault = state.rows.length > COLLAPSE_ABOVE;
    const bySection = new Map();
    for (const z of state.rows) {
      const key = z.group !== null && labels.has(z.group) ? String(z.group) : "none";
      if (!bySection.has(key)) bySection.set(key, []);
      bySection.get(key).push(z);
    }
    const keys = Array.from(bySection.keys()).sort((a, b) =>
      a === "none" ? 1 : b === "none" ? -1 : labels.get(Number(a)).localeCompare(labels.get(Number(b)), undefined, { numeric: true }));
    let visible = 0;
    const perFilter = Object.fromEntries(FILTERS.map(([k]) => [k, 0]));
    for (const z of state.rows) for (const [k, , test] of FILTERS) if (test(z)) perFilter[k] += 1;
    for (const key of keys) {
      const zones = bySection.get(key).sort(order);
      const s = section(key, key === "none" ? "No group" : labels.get(Number(key)));
      list.appendChild(s.el);
      let shownHere = 0, cold = 0, off = 0, heat = 0, alerting = 0;
      for (const z of zones) {
        const t = tiles.get(z.id);
        s.grid.appendChild(t.el); // keeps the order
        const ok = matches(z);
        t.el.hidden = !ok;
        shownHere += ok ? 1 : 0;
        cold += z.flags & FLAG.below ? 1 : 0;
        off += z.flags & FLAG.offline ? 1 : 0;
        heat += z.flags & FLAG.heating ? 1 : 0;
        alerting += z.alerts > 0 ? 1 : 0;
      }
      visible += shownHere;
      const chosen = state.open.get(key);
      const open = chosen !== undefined ? chosen : (filtering ? shownHere > 0 : !collapseByDefault);
      s.head.setAttribute("aria-expanded", String(open));
      s.grid.hidden = !open;
      s.el.hidden = filtering && shownHere === 0;
      const parts = [filtering ? `${shownHere} of ${zones.length} zones` : `${zones.length} zones`];
      if (alerting) parts.push(`${alerting} alerting`);
      if (off) parts.push(`${off} offline`);
      if (cold) parts.push(`${cold} below comfort`);
      if (heat) parts.push(`${heat} heating`);
      const text = parts.join(" · ");
      if (s.count.textContent !== text) s.count.textContent = text;
      s.el.dataset.shown = shownHere;
    }
    for (const [key, s] of sections) if (!bySection.has(key)) { s.el.remove(); sections.delete(key); }
    for (const chip of chips) chip.querySelector(".chip-n").textContent = ` ${perFilter[chip.dataset.filter]}`;
    shown.textContent = filtering ? `${visible} of ${state.rows.length} zones match` : `${state.rows.length} zones`;
    list.dataset.visible = visible;
  }

  return {
    /// Takes a compact status: tiles added, changed ones refilled, gone ones removed; then sections and filters.
    update(s) {
      const rows = rowsOf(s);
      const seen = new Set();
      for (const z of rows) {
        seen.add(z.id);
        let t = tiles.get(z.id);
        if (!t) { t = { el: tile(z), key: "" }; tiles.set(z.id, t); }
        const key = `${z.name}|${z.air}|${z.target}|${z.flags}|${z.health}|${z.alerts}`;
        if (t.key !== key) { fillTile(t.el, z); t.key = key; }
      }
      for (const [id, t] of tiles) if (!seen.has(id)) { t.el.remove(); tiles.delete(id); }
      state.rows = rows;
      state.groups = s.groups || [];
      apply();
    },
  };
}
