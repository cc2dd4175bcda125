// DOM and formatting helpers: `h` builds elements, `setText` fills `data-field`s; numbers and site-local times as
// the page shows them.
import { offsetMs, serverNow, siteOffsetMin } from "./live.js";

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
export const MINUTE = 60e3, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

export function h(tag, attrs, ...children) {
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

export function setText(root, field, text) {
  for (const node of root.querySelectorAll(`[data-field="${field}"]`)) {
    if (node.textContent !== text) node.textContent = text;
  }
}

/// A stat panel: label, value (`data-field` = `field`) and note (`{field}-note`).
export const statPanel = (field, label) => h("div", { class: "panel" },
  h("p", { class: "stat-label" }, label),
  h("p", { class: "stat-value", "data-field": field }, "–"),
  h("p", { class: "stat-note", "data-field": `${field}-note` }, ""));

export const f1 = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1));
export const deg = (v) => (v === null || v === undefined ? "–" : `${f1(v)} °C`);
const pad = (n) => String(n).padStart(2, "0");
/// A Date whose UTC fields are the site-local time.
const site = (ms) => new Date(ms + offsetMs());
export const fmtTime = (ms) => { const d = site(ms); return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; };
export const fmtTimeS = (ms) => `${fmtTime(ms)}:${pad(site(ms).getUTCSeconds())}`;
export const fmtDay = (ms) => { const d = site(ms); return `${DAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`; };
export const fmtDateTime = (ms) => `${fmtDay(ms)}, ${fmtTime(ms)}`;
/// A time close to `now` without its date; otherwise with it.
export function fmtWhen(ms) {
  const now = serverNow();
  return fmtDay(ms) === fmtDay(now) ? fmtTime(ms) : fmtDateTime(ms);
}
/// Compact, for tables: "14:05" today, "Thu 14:05" this week, "26 Nov 14:05" before.
export function fmtShort(ms) {
  const now = serverNow();
  if (fmtDay(ms) === fmtDay(now)) return fmtTime(ms);
  const d = site(ms);
  if (Math.abs(now - ms) < 6 * DAY) return `${DAYS[d.getUTCDay()]} ${fmtTime(ms)}`;
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${fmtTime(ms)}`;
}
export function siteZoneLabel() {
  const off = siteOffsetMin();
  if (!off) return "UTC";
  const sign = off < 0 ? "−" : "+";
  const a = Math.abs(off);
  return `UTC${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}
/// A datetime-local value (site time) for an instant, and back.
export const toLocalInput = (ms) => { const d = site(ms); return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; };
export const fromLocalInput = (v) => { const t = Date.parse(`${v}:00Z`); return isNaN(t) ? NaN : t - offsetMs(); };
