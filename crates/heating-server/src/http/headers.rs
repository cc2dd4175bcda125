//! What every response carries, and the `Host` check that runs before anything else.
//!
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY` on every
//!   response;
//! - a `Content-Security-Policy` by kind of page: the dashboard (`/`, `/assets/...`) loads only from its own origin
//!   (no inline script or style); Swagger UI (`/docs/...`) likewise, plus the `data:` images and the inline styles
//!   its bundle uses; API responses (JSON) load nothing. All forbid framing (`frame-ancestors 'none'`).
//! - a request whose `Host` the server does not answer to (`--allowed-hosts`, against DNS rebinding) is refused
//!   with 421 `{"detail": ...}` naming the setting, before routing.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ErrorBody;
use crate::services::AppState;
use crate::services::hosts::check_host;

/// The dashboard: its own files only; the API on the same origin.
pub const DASHBOARD_CSP: &str = "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; \
                                 frame-ancestors 'none'";
/// Swagger UI: its own files (scripts included: no inline script, no eval); its stylesheet's `data:` icons and the
/// inline styles its bundle injects (without them Chromium reports the violation and the page lacks its styles).
pub const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                            base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'";
/// Everything else (JSON): nothing to load, never framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy for a path.
fn csp_for(path: &str) -> &'static str {
    if path == "/" || path.starts_with("/assets/") {
        DASHBOARD_CSP
    } else if path == "/docs" || path.starts_with("/docs/") {
        DOCS_CSP
    } else {
        API_CSP
    }
}

/// The middleware: the `Host` check, then the handler, then the headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .or_else(|| request.uri().authority().map(axum::http::uri::Authority::as_str));
    let csp = csp_for(request.uri().path());
    let mut response = match check_host(&state, host) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::debug!(host = %refused.host, "request for another host refused");
            (StatusCode::MISDIRECTED_REQUEST, Json(ErrorBody { detail: refused.to_string() })).into_response()
        }
    };
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::CONTENT_SECURITY_POLICY, csp);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_page_has_its_policy() {
        assert_eq!(csp_for("/"), DASHBOARD_CSP);
        assert_eq!(csp_for("/assets/app.js"), DASHBOARD_CSP);
        assert_eq!(csp_for("/docs/"), DOCS_CSP);
        assert_eq!(csp_for("/docs/swagger-ui.css"), DOCS_CSP);
        assert_eq!(csp_for("/zones"), API_CSP);
        assert_eq!(csp_for("/docsx"), API_CSP);
        assert!(DASHBOARD_CSP.contains("frame-ancestors 'none'") && !DASHBOARD_CSP.contains("unsafe"));
        for csp in [DASHBOARD_CSP, DOCS_CSP, API_CSP] {
            assert!(HeaderValue::from_str(csp).is_ok() && csp.contains("frame-ancestors 'none'"));
        }
    }
}
