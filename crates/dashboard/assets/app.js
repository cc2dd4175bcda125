// Heating dashboard: a small single-page app over the server's REST API (same origin, relative URLs), as ES modules
// loaded without a build step. This entry point: who the page acts as (auth.js), the hash router mounting the
// views, the clock badge, the poller.
// Views (hash routes): #/ overview, #/zone/{id} detail and control, #/zone/{id}/edit, #/zones/new, #/alerts,
// #/groups, #/signin. The top bar's alert badge follows each status.
// Live data: GET status, polled at the server's poll interval (live.js), once GET auth/whoami has answered.
import { alertsView, updateAlertBadge } from "./alerts.js";
import { forgetToken, onUnauthorized } from "./api.js";
import { can, refusedWith, session, showWho, signinView, whoami } from "./auth.js";
import { fmtDay, fmtTimeS, h, siteZoneLabel } from "./dom.js";
import { zoneFormView } from "./forms.js";
import { groupsView } from "./groups.js";
import { app, banner, refreshNow, serverNow, startPolling } from "./live.js";
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

/// The view for `hash`, mounted in `main`, and the main navigation entry it belongs to.
function mount(main, hash) {
  let m;
  if (hash === "#/signin") return [signinView(main, (user) => signedIn(user, true)), null];
  if (!session.user) {
    // Not known yet who we are (or refused): the sign-in view once a 401 said so, else wait for whoami.
    if (session.signInNeeded) needSignIn();
    else main.append(h("p", { class: "loading" }, "Loading…"));
    return [null, null];
  }
  if ((m = hash.match(/^#\/zone\/(\d+)\/edit$/))) return [zoneFormView(main, Number(m[1])), null];
  if ((m = hash.match(/^#\/zone\/(\d+)$/))) return [zoneView(main, Number(m[1])), null];
  if (hash === "#/zones/new") return [zoneFormView(main, null), "new"];
  if (hash === "#/alerts") return [alertsView(main), "alerts"];
  if (hash === "#/groups") return [groupsView(main), "groups"];
  return [overviewView(main), "overview"];
}

function render() {
  const hash = location.hash || "#/";
  const main = document.getElementById("main");
  main.textContent = "";
  document.title = "Heating dashboard";
  app.statusQuery = "status"; // the overview asks for the compact form itself when it shows it
  const [view, nav] = mount(main, hash);
  app.view = view;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.querySelector('[data-nav="new"]').hidden = !can("admin");
  if (app.flash) {
    main.prepend(h("p", { class: "msg ok m-0 mb-16", role: "status" }, app.flash));
    app.flash = null;
  }
  // A compact status (kept from the overview) lacks what other views read: they wait for the next full one.
  const fits = app.status && (app.status.view !== "compact" || nav === "overview");
  if (fits && app.view && app.view.update) app.view.update(app.status);
  else if (app.status && app.view && app.view.update) refreshNow();
  window.scrollTo(0, 0);
}

/// To the sign-in view, keeping the route to return to.
function needSignIn() {
  if (location.hash === "#/signin") return;
  session.returnTo = location.hash || "#/";
  location.hash = "#/signin";
}

function onStatus(s) {
  updateClock();
  updateAlertBadge(s);
  if (s.view === "compact" && !(app.view && app.view.compact)) return; // asked for before the view changed
  if (app.view && app.view.update) app.view.update(s);
}

/// Once the server has said who we are (`fromForm`: through the sign-in view): the top bar, the view, live data.
function signedIn(user, fromForm) {
  showWho(signOut);
  if (fromForm) app.flash = `Signed in as ${user.name} (${user.role}).`;
  const back = location.hash === "#/signin" ? session.returnTo : location.hash;
  session.returnTo = "#/";
  if ((location.hash || "#/") === (back || "#/")) render();
  else location.hash = back && back !== "#/signin" ? back : "#/";
  startPolling(onStatus);
}

/// Stops live data (until the next sign-in) and blanks the clock, which would stand still.
function stopLive() {
  clearTimeout(app.timer);
  app.status = null;
  document.getElementById("clock").textContent = "";
}

/// Forgets the token and asks again who we are: the sign-in view, or anonymous reads where the server allows them.
function signOut() {
  forgetToken();
  session.user = null;
  stopLive();
  showWho(signOut);
  boot();
}

/// GET auth/whoami, then the page; a 401 leads to the sign-in view (see onUnauthorized below).
async function boot() {
  try {
    signedIn(await whoami());
  } catch (e) {
    if (e.status === 401) return;
    banner(`The server cannot say who you are: ${e.message} Retrying…`);
    setTimeout(boot, 3000);
  }
}

onUnauthorized((error, token) => {
  refusedWith(error, token);
  stopLive();
  showWho(signOut);
  if (location.hash !== "#/signin") needSignIn();
  else if (!(app.view && app.view.signin)) render(); // at start, on #/signin: nothing shown yet
});
document.querySelector(".skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", render);
setInterval(updateClock, 1000);
boot();
