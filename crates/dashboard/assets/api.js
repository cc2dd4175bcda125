// The REST API, same origin, relative URLs: one JSON request helper whose errors carry the server's `detail`.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/// A JSON request to the API. Errors carry the server's `detail` as their message.
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
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
  if (!resp.ok) throw new ApiError(resp.status, (data && data.detail) || `The server answered ${resp.status}.`);
  return data;
}
