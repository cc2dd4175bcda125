//! `GET /zones/{id}/history.csv` and `GET /history.csv`: readings over a range as CSV, streamed (see
//! [`crate::services::export`] for the columns), with `Content-Disposition: attachment` so a browser saves it.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ErrorBody};
use super::extract::{Path, Query};
use crate::services::export::{self, ExportRequest};
use crate::state::AppState;
use crate::storage::ZoneId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(zone_history_csv)).routes(routes!(history_csv))
}

/// The CSV answers' content type.
pub const CSV: &str = "text/csv; charset=utf-8";

/// `?from&to&level`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Start of the range, inclusive (RFC 3339). Default: 24 hours before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339), after `from` and at most 366 days after it (422 otherwise).
    /// Default: now (server clock).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// `raw` (the stored readings, default); `1m`, `15m`, `1h` (rollups: 422 until they exist).
    pub level: Option<String>,
}

async fn answer(state: AppState, request: ExportRequest) -> Result<Response, ApiError> {
    let export = export::prepare(&state, request).await?;
    let disposition = format!("attachment; filename=\"{}\"", export.filename);
    let body = export::stream(state, export).map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
    Ok(([(header::CONTENT_TYPE, CSV.to_string()), (header::CONTENT_DISPOSITION, disposition)], Body::from_stream(body))
        .into_response())
}

/// A zone's readings as CSV, oldest first.
///
/// Columns: `zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh,estimated` (header row first; `ts`
/// RFC 3339 UTC; decimals with `.`; empty where a reading carried no value; flags `1`/`0`). Streamed page by page.
#[utoipa::path(
    get, path = "/zones/{id}/history.csv", tag = "history",
    params(("id" = i64, Path, description = "Zone id"), ExportParams),
    responses(
        (status = 200, description = "The readings, CSV", body = String, content_type = "text/csv; charset=utf-8",
         example = "zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh,estimated\n\
                    1,2026-12-01T10:00:00.000Z,20.5,21,-3.2,1,1,15230,\n"),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 422, description = "Bad from, to or level", body = ErrorBody),
    )
)]
async fn zone_history_csv(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(p): Query<ExportParams>,
) -> Result<Response, ApiError> {
    answer(state, ExportRequest { zone: Some(id), from: p.from, to: p.to, level: p.level }).await
}

/// Every zone's readings as CSV, oldest first (same columns as a zone's).
#[utoipa::path(
    get, path = "/history.csv", tag = "history",
    params(ExportParams),
    responses(
        (status = 200, description = "The readings, CSV", body = String, content_type = "text/csv; charset=utf-8"),
        (status = 422, description = "Bad from, to or level", body = ErrorBody),
    )
)]
async fn history_csv(State(state): State<AppState>, Query(p): Query<ExportParams>) -> Result<Response, ApiError> {
    answer(state, ExportRequest { zone: None, from: p.from, to: p.to, level: p.level }).await
}
