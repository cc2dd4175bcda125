//! `GET /metrics`: the Prometheus metrics in the text format 0.0.4 (readable by a viewer, like every read), and
//! [`observe`], the middleware that times every HTTP request by its route template.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use crate::metrics::CONTENT_TYPE;
use crate::services::metrics;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_metrics))
}

/// Prometheus metrics.
///
/// Per zone (labels `zone_id`, `zone_name`): air, target and outdoor temperature (°C), heater on and occupied
/// (0/1), heater power (W), the energy counter (J), the newest reading's time and the health state (one series per
/// state). Counters: Modbus requests by operation and outcome, control writes by source and status. Histograms:
/// Modbus request time, controller step time by strategy, job run time by job (a poll cycle is `job="poll"`), HTTP
/// request time by method, route template and status. The database's rows per table and size (refreshed at most
/// every 30 s), and `heating_build_info`.
#[utoipa::path(
    get, path = "/metrics", tag = "metrics",
    responses(
        (status = 200, description = "The metrics, Prometheus text format 0.0.4", body = String,
         content_type = "text/plain; version=0.0.4; charset=utf-8",
         example = "# HELP heating_zone_air_temperature_celsius Air temperature of the zone's newest reading.\n\
                    # TYPE heating_zone_air_temperature_celsius gauge\n\
                    heating_zone_air_temperature_celsius{zone_id=\"1\",zone_name=\"Living Room\"} 20.5\n"),
        (status = 500, description = "The metrics could not be encoded", body = ErrorBody),
    )
)]
async fn get_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = metrics::render(&state).await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// The middleware: times the request until its response head and records it by method, the matched route's
/// template (`/zones/{id}`, never the raw path, so the number of series stays bounded) and status.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let response = next.run(req).await;
    metrics::http_request(&state, method.as_str(), route.as_deref(), response.status().as_u16(), started.elapsed());
    response
}
