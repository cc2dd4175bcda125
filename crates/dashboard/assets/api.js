// The REST API, same origin, relative URLs: one JSON request helper whose errors carry the server's `detail`, and
// the API token it sends. The token is kept in sessionStorage (forgotten when the tab closes), or in localStorage
// when the user asks to be remembered on this device (wall tablets). A 401 runs the handler the app sets
// (`onUnauthorized`), which routes to the sign-in view.

const TOKEN_KEY = "heating-dashboard.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/// Storage may be unavailable (privacy modes, a sandboxed frame): then no token is kept.
function store(kind) {
  try {
    return window[kind];
  } catch (e) {
    return null;
  }
}

/// The stored token, or null.
export function storedToken() {
  for (const kind of ["sessionStorage", "localStorage"]) {
    const s = store(kind);
    const t = s && s.getItem(TOKEN_KEY);
    if (t) return t;
  }
  return null;
}

/// Keeps `token` for this tab (sessionStorage), or on this device (localStorage) when `remember`.
export function storeToken(token, remember) {
  forgetToken();
  const s = store(remember ? "localStorage" : "sessionStorage");
  if (s) s.setItem(TOKEN_KEY, token);
}

/// Forgets the token, wherever it was kept.
export function forgetToken() {
  for (const kind of ["sessionStorage", "localStorage"]) {
    const s = store(kind);
    if (s) s.removeItem(TOKEN_KEY);
  }
}

let unauthorized = () => {};

/// Sets what a 401 to a request made with the stored token (or none) does: `handler(error, token)`, `token` the one
/// sent (null: none).
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/// A JSON request to the API. Errors carry the server's `detail` as their message. `options.token` sends that
/// token instead of the stored one, and a 401 then stays with the caller (the sign-in view checking a token).
export async function api(method, path, body, options = {}) {
  const init = { method, headers: { Accept: "application/json" } };
  const token = options.token !== undefined ? options.token : storedToken();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "The server cannot be reached.");
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = null; }
  }
  if (!resp.ok) {
    const error = new ApiError(resp.status, (data && data.detail) || `The server answered ${resp.status}.`);
    if (resp.status === 401 && options.token === undefined) unauthorized(error, token);
    throw error;
  }
  return data;
}
