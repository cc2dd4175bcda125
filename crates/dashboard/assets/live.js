// The live status: the page's shared state, one poller of GET status at the server's poll interval, and the
// server clock estimated from the last answer.
import { api } from "./api.js";

const MINUTE = 60e3;

export const app = {
  status: null, // last GET status
  fetchedAt: 0, // Date.now() when it arrived
  view: null, // the mounted view: { update(status) }, the update optional
  timer: null,
  flash: null, // message to show on the next view
  statusQuery: "status", // what the poller asks for: the overview asks for `status?view=compact` at scale
};

let onStatus = () => {};

/// The site's offset from UTC, in minutes (0 until the first status).
export const siteOffsetMin = () => (app.status && app.status.site_utc_offset_minutes) || 0;
export const offsetMs = () => siteOffsetMin() * MINUTE;

/// The server clock now, estimated from the last status and its scale.
export function serverNow() {
  if (!app.status) return Date.now();
  return Date.parse(app.status.now) + (Date.now() - app.fetchedAt) * (app.status.clock_scale || 1);
}

/// Shows `message` in the banner under the top bar (null: hides it).
export function banner(message) {
  const el = document.getElementById("banner");
  el.hidden = !message;
  el.textContent = message || "";
}

async function tick() {
  clearTimeout(app.timer);
  try {
    const s = await api("GET", app.statusQuery);
    app.status = s;
    app.fetchedAt = Date.now();
    banner(null);
    onStatus(s);
  } catch (e) {
    // Refused (401): the sign-in view takes over, and polling resumes after sign-in.
    if (e.status === 401) return;
    banner(`Live data unavailable: ${e.message} Retrying…`);
  }
  clearTimeout(app.timer);
  const secs = app.status ? Math.min(Math.max(app.status.poll_interval_s || 2, 0.5), 30) : 2;
  app.timer = setTimeout(tick, secs * 1000);
}

/// Starts polling (or polls now, when it runs already); `listener(status)` runs after each answer.
export function startPolling(listener) {
  onStatus = listener;
  return tick();
}

/// Polls now instead of at the next interval.
export function refreshNow() {
  clearTimeout(app.timer);
  return tick();
}
