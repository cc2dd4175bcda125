//! `POST /maintenance/rollups/rebuild`: the rollups of a range recomputed from the raw readings
//! ([`crate::services::rollups`]). Admins only.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use crate::services::rollups::{self, RebuildRequest};
use crate::state::AppState;
use crate::storage::ZoneId;
use crate::time::serialize_opt_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rebuild_rollups))
}

/// Body of `POST /maintenance/rollups/rebuild`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"zone_id": 1, "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}))]
pub struct RebuildBody {
    /// The zone; absent or null: every zone.
    #[serde(default)]
    pub zone_id: Option<ZoneId>,
    /// Start of the range, inclusive (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    /// End of the range, exclusive (RFC 3339), after `from` (422 otherwise).
    #[schema(value_type = String, format = DateTime)]
    pub to: DateTime<Utc>,
}

/// What was rebuilt.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildOut {
    pub zone_id: Option<ZoneId>,
    /// The range recomputed: widened to whole hours, narrowed to the raw readings in the range asked for (and
    /// sparing the buckets of the oldest one, whose earlier readings may have expired); null when there were none.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
    /// Transactions run (a day of one zone, or an hour of all zones, each).
    pub chunks: u64,
    /// Rollup rows written, all three levels.
    pub rows: u64,
}

/// Recomputes the 1-minute, 15-minute and hourly rollups of a range from the raw readings, e.g. after an import.
#[utoipa::path(
    post, path = "/maintenance/rollups/rebuild", tag = "maintenance",
    request_body = RebuildBody,
    responses(
        (status = 200, description = "The rollups of the range were recomputed", body = RebuildOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Bad zone_id, from or to; from not before to", body = ErrorBody),
    )
)]
async fn rebuild_rollups(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<RebuildBody>,
) -> Result<Json<RebuildOut>, ApiError> {
    let request = RebuildRequest { zone_id: body.zone_id, from: body.from, to: body.to };
    let report = rollups::rebuild(&state, &caller, request).await?;
    Ok(Json(RebuildOut {
        zone_id: body.zone_id,
        from: report.range.map(|r| r.0),
        to: report.range.map(|r| r.1),
        chunks: report.chunks,
        rows: report.rows,
    }))
}
