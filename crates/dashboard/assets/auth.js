// Who the dashboard acts as: GET auth/whoami at start, what the role may do (`can`), the sign-in view (#/signin:
// paste an API token, checked with whoami before it is kept), the top bar's "Signed in as NAME (role) · Sign out",
// and the message a view shows instead of what the role may not use. In local mode (`auth: false`) the server
// answers as the admin `local` and none of this shows.
import { api, forgetToken, storeToken, storedToken } from "./api.js";
import { h } from "./dom.js";

const RANK = { viewer: 1, operator: 2, admin: 3 };

export const session = {
  user: null, // GET auth/whoami: { name, role, auth }, null until it answers (and after a 401)
  signInNeeded: false, // a request was refused with 401: the sign-in view is the only one to show
  returnTo: "#/", // where the sign-in view goes back to
  refused: null, // why the stored token stopped working (the server's 401 message), shown on the sign-in view
};

/// Whether the caller's role is at least `role` (always, in local mode: everyone is the admin `local`).
export const can = (role) => !!session.user && (RANK[session.user.role] || 0) >= RANK[role];

/// Asks the server who the stored token (or none) is.
export async function whoami() {
  session.user = await api("GET", "auth/whoami");
  session.signInNeeded = false;
  return session.user;
}

/// After a 401 to a request sent with `token` (null: none): forgets that token (a refused token stays refused, and
/// every further try would count as a failed sign-in), and notes the reason to show on the sign-in view.
export function refusedWith(error, token) {
  if (token && storedToken() === token) {
    forgetToken();
    session.refused = error.message;
  }
  session.user = null;
  session.signInNeeded = true;
}

/// The message shown instead of a form the role may not use, e.g. `needsRole("admin", "Adding and editing zones")`.
export function needsRole(role, what) {
  const who = session.user ? ` You are signed in as ${session.user.name} (${session.user.role}).` : "";
  return h("p", { class: "msg error", id: "needs-role", role: "alert" }, `${what} needs the ${role} role.${who}`);
}

/// The top bar's "Signed in as NAME (role) · Sign out" (or "Sign in" for an anonymous viewer); absent in local mode.
export function showWho(onSignOut) {
  let el = document.getElementById("who");
  const user = session.user;
  if (!user || !user.auth) {
    if (el) el.hidden = true;
    return;
  }
  if (!el) {
    el = h("p", { class: "who", id: "who" });
    document.querySelector(".topbar-inner").append(el);
  }
  el.hidden = false;
  el.textContent = "";
  const anonymous = !storedToken();
  el.append(
    anonymous ? "Viewing as " : "Signed in as ",
    h("strong", { "data-field": "who-name" }, user.name), ` (${user.role}) · `,
    anonymous
      ? h("a", { href: "#/signin", id: "sign-in" }, "Sign in")
      : h("button", { type: "button", class: "linklike", id: "sign-out", onclick: onSignOut }, "Sign out"));
}

/// The sign-in view: a token field, "remember on this device", and the server's answer when it refuses.
/// `onSignedIn(user)` runs once the token is checked and kept.
export function signinView(main, onSignedIn) {
  main.append(h("div", { class: "page-head" }, h("h1", {}, "Sign in")));
  if (session.user && !session.user.auth) {
    main.append(h("p", { class: "msg ok", id: "local-mode" }, "This server runs in local mode: no sign-in needed."),
      h("p", {}, h("a", { href: "#/" }, "Go to the overview")));
    return { signin: true };
  }
  const tokenInput = h("input", { id: "token", name: "token", type: "password", required: true, autocomplete: "off",
    spellcheck: "false", "aria-describedby": "token-hint signin-error" });
  const remember = h("input", { id: "remember", name: "remember", type: "checkbox", "aria-describedby": "remember-hint" });
  const button = h("button", { class: "btn primary", type: "submit", id: "sign-in-submit" }, "Sign in");
  const error = h("p", { class: "msg error", id: "signin-error", role: "alert" }, session.refused || "");
  session.refused = null;
  const form = h("form", { class: "panel form-narrow", id: "signin-form", novalidate: true, onsubmit: submit },
    h("div", { class: "field" },
      h("label", { for: "token" }, "API token"), tokenInput,
      h("span", { class: "hint", id: "token-hint" },
        "Paste the token an admin gave you (heating-server token create --name NAME --role viewer|operator|admin).")),
    h("div", { class: "field check" },
      h("label", { for: "remember" }, remember, " Remember on this device"),
      h("span", { class: "hint", id: "remember-hint" },
        "For a wall tablet or your own computer: kept until you sign out. Otherwise forgotten when this tab closes.")),
    h("div", { class: "actions" }, button),
    error);
  main.append(form);
  tokenInput.focus();

  async function submit(e) {
    e.preventDefault();
    error.textContent = "";
    const token = tokenInput.value.trim().replace(/^Bearer\s+/i, "");
    if (!token) {
      error.textContent = "Paste your API token.";
      tokenInput.focus();
      return;
    }
    button.disabled = true;
    try {
      const user = await api("GET", "auth/whoami", undefined, { token });
      storeToken(token, remember.checked);
      session.user = user;
      session.signInNeeded = false;
      tokenInput.value = "";
      onSignedIn(user);
    } catch (err) {
      error.textContent = err.message; // the server's words: unknown, revoked or expired token; too many tries
      tokenInput.select();
    } finally {
      button.disabled = false;
    }
  }

  return { signin: true };
}
