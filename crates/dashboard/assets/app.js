// Heating dashboard: a small single-page app over the server's REST API (same origin, relative URLs), as ES modules
// loaded without a build step. This entry point: the hash router mounting the views, the clock badge, the poller.
// Views (hash routes): #/ overview, #/zone/{id} detail and control, #/zone/{id}/edit, #/zones/new.
// Live data: GET status, polled at the server's poll interval (live.js).
import { fmtDay, fmtTimeS, h, siteZoneLabel } from "./dom.js";
import { zoneFormView } from "./forms.js";
import { app, serverNow, startPolling } from "./live.js";
import { overviewView } from "./overview.js";
import { zoneView } from "./zone.js";

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
    main.prepend(h("p", { class: "msg ok m-0 mb-16", role: "status" }, app.flash));
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
startPolling((s) => {
  updateClock();
  if (app.view && app.view.update) app.view.update(s);
});
