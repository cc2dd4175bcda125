//! The REST API. One module per resource, each with a `router()` returning a utoipa-axum [`OpenApiRouter`], so
//! the OpenAPI document is collected from the very routes that are served. [`api_router`] merges them once;
//! [`router`] adds the OpenAPI JSON, Swagger UI and the JSON fallbacks; [`service`] wraps it all in the
//! trailing-slash normalization.
//!
//! Adding a route: write the handler with `#[utoipa::path(...)]` (responses including the error ones) in its
//! resource module and add it to that module's `router()` with `routes!(handler)`. It is then served and documented;
//! the OpenAPI test finds it.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod commands;
pub mod control;
pub mod device_profiles;
pub mod error;
pub mod export;
pub mod extract;
pub mod groups;
pub mod headers;
pub mod health;
pub mod history;
pub mod metrics;
pub mod model;
pub mod numbers;
pub mod plan;
pub mod rollups;
pub mod sensordata;
pub mod status;
pub mod status_grid;
pub mod status_lifecycle;
pub mod tokens;
pub mod weather;
pub mod zones;

use axum::Router;
use axum::extract::{Path as AxumPath, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tower::Layer;
use tower::util::{MapRequest, MapRequestLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::domain::Page;
use crate::state::AppState;
use error::{ApiError, ErrorBody};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";
/// Where Swagger UI is served (`/docs` redirects to `/docs/`).
pub const DOCS_PATH: &str = "/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Heating management server",
        description = "Zones, sensor readings and commands of the heating platform. Every path also answers with a \
                       trailing slash (`/zones/` is `/zones`). Timestamps are RFC 3339 UTC. Errors are \
                       `{\"detail\": \"...\"}`."
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "zones", description = "Heating zones and their preferences"),
        (name = "groups", description = "Zone groups (site, building, floor or free-form, as a tree): the \
                                         zones they hold, a live summary and aggregated history per group"),
        (name = "device-profiles", description = "Device profiles: the register maps zones' devices speak; probing a \
                                                  device with one"),
        (name = "sensordata", description = "Sensor readings, newest first"),
        (name = "commands", description = "Target-temperature commands, newest first"),
        (name = "health", description = "Liveness and database reachability"),
        (name = "control", description = "Manual targets and holds, sent to the device at once"),
        (name = "status", description = "Live status: health, readings, targets in force and why"),
        (name = "weather", description = "Weather forecasts (cached; WeatherAPI.com, Open-Meteo or simulated)"),
        (name = "model", description = "Zone thermal models identified from the zones' own readings"),
        (name = "auth", description = "Who am I, API tokens and the audit log. Roles: viewer (reads), operator \
                                       (also targets, holds, commands, readings), admin (also zones, tokens, audit)"),
        (name = "alerts", description = "Alerts raised by the server's rules (offline, below comfort, no heat rise, \
                                         sensor faults, failing writes, a bad model fit): list, acknowledge"),
        (name = "metrics", description = "Prometheus metrics (text format 0.0.4)"),
        (name = "maintenance", description = "Database maintenance on request: rollups rebuilt from raw readings"),
    )
)]
struct ApiDoc;

/// Every API route with its OpenAPI description, without state.
#[must_use]
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(zones::router())
        .merge(groups::router())
        .merge(device_profiles::router())
        .merge(sensordata::router())
        .merge(commands::router())
        .merge(health::router())
        .merge(control::router())
        .merge(status::router())
        .merge(weather::router())
        .merge(history::router())
        .merge(rollups::router())
        .merge(export::router())
        .merge(model::router())
        .merge(plan::router())
        .merge(auth::router())
        .merge(tokens::router())
        .merge(audit::router())
        .merge(alerts::router())
        .merge(metrics::router())
}

/// The OpenAPI document of [`api_router`].
#[must_use]
pub fn openapi() -> OpenApiDoc {
    let mut doc = api_router().into_openapi();
    auth::document_security(&mut doc);
    doc
}

/// The complete router: the API, `/api-docs/openapi.json`, Swagger UI at `/docs/`, the dashboard at `/` (and its
/// files at `/assets/...`), and JSON 404/405 fallbacks, every response behind the `Host` check and with the
/// security headers ([`headers`]). It expects paths without a trailing slash; [`service`] takes care of that.
pub fn router(state: AppState) -> Router {
    let (api, mut doc) = api_router().split_for_parts();
    auth::document_security(&mut doc);
    let swagger = SwaggerUi::new(DOCS_PATH)
        .url(OPENAPI_PATH, doc)
        // No "valid" badge: it would make the browser send the document to an outside validator.
        .config(SwaggerConfig::default().validator_url("none"));
    api.merge(swagger)
        .merge(dashboard_router())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        // Outside authentication: a request to a host the server does not answer to is refused first, and every
        // answer (a 401 too) carries the security headers.
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::guard))
        // Every answer timed by its route template, the refusals above included.
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::observe))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The dashboard's page and files (embedded by the `dashboard` crate). Not part of the API document.
fn dashboard_router() -> Router<AppState> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { embedded(&dashboard::INDEX, &headers) }))
        .route("/assets/{*path}", get(dashboard_asset))
}

async fn dashboard_asset(AxumPath(path): AxumPath<String>, headers: HeaderMap) -> Response {
    match dashboard::asset(&path) {
        Some(asset) => embedded(asset, &headers),
        None => ApiError::NotFound(format!("Not Found: no dashboard asset {path:?}")).into_response(),
    }
}

/// An embedded file with its ETag; 304 when the browser already has this version. `no-cache` makes the browser
/// revalidate every time (cheap: a 304 without a body), so an upgraded server never runs with yesterday's script.
fn embedded(asset: &dashboard::Asset, headers: &HeaderMap) -> Response {
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let common =
        [(header::ETAG, asset.etag), (header::CACHE_CONTROL, "no-cache"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")];
    if cached {
        (StatusCode::NOT_MODIFIED, common).into_response()
    } else {
        (common, [(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    }
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("Not Found: no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("Method Not Allowed: {method} is not supported on {}", uri.path()))
}

/// The service the server runs: [`router`] behind the trailing-slash normalization.
pub type AppService = MapRequest<Router, fn(Request) -> Request>;

/// [`router`] wrapped so that a trailing slash is optional on every path. The normalization must run before
/// routing, so it wraps the router as a service (a `Router::layer` would run after the route is chosen).
pub fn service(state: AppState) -> AppService {
    MapRequestLayer::new(trim_trailing_slash as fn(Request) -> Request).layer(router(state))
}

/// `/zones/` → `/zones` (query kept). Swagger UI is exempt: its page must be served at `/docs/` so that its
/// relative asset URLs resolve, and `/docs` redirects there.
fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') || path.starts_with("/docs/") {
        return req;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// `?skip=&limit=`: skip ≥ 0 (default 0), limit 1..=1000 (default 100).
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Items to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl Pagination {
    pub fn page(self) -> Result<Page, ApiError> {
        Page::new(self.skip, self.limit).map_err(ApiError::Unprocessable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(uri: &str) -> String {
        let req = Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
        trim_trailing_slash(req).uri().to_string()
    }

    #[test]
    fn trailing_slashes_are_trimmed_except_under_docs() {
        assert_eq!(trimmed("/zones/"), "/zones");
        assert_eq!(trimmed("/zones/?skip=1&limit=2"), "/zones?skip=1&limit=2");
        assert_eq!(trimmed("/zones/3/details//"), "/zones/3/details");
        assert_eq!(trimmed("/"), "/");
        assert_eq!(trimmed("//"), "/");
        assert_eq!(trimmed("/zones"), "/zones");
        assert_eq!(trimmed("/docs/"), "/docs/");
        assert_eq!(trimmed("/docs/swagger-ui.css"), "/docs/swagger-ui.css");
    }
}
