//! Manual control: `POST /zones/{id}/target` writes a target now and holds it against the control job;
//! `DELETE /zones/{id}/hold` gives the zone back to automatic control. Both are [`crate::services::control`].

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Authed;
use super::commands::CommandOut;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path};
use crate::fleet::HoldRecord;
use crate::services::control;
use crate::state::AppState;
use crate::storage::ZoneId;
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_target)).routes(routes!(cancel_hold))
}

/// Body of `POST /zones/{id}/target`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"target_temp": 22.5, "hold_minutes": 120}))]
pub struct TargetRequest {
    /// °C, 5..=35 (rounded to 0.1), and within the zone's `min_temp..=max_temp` (422 otherwise).
    #[schema(minimum = 5.0, maximum = 35.0)]
    pub target_temp: f64,
    /// Hold the target this many minutes (server clock), 1 to 10080. Absent: until the zone's occupancy changes.
    #[serde(default, deserialize_with = "super::numbers::opt_i64")]
    #[schema(minimum = 1, maximum = 10080)]
    pub hold_minutes: Option<i64>,
}

/// A manual hold in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldOut {
    /// °C.
    pub target_temp: f64,
    /// End of the hold (RFC 3339); null: until the zone's occupancy changes.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<DateTime<Utc>>,
    /// Occupancy when the hold was set (an open hold ends when it changes).
    pub occupied_at_start: bool,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub set_at: DateTime<Utc>,
    /// `manual` or `api`.
    pub source: String,
}

impl From<HoldRecord> for HoldOut {
    fn from(h: HoldRecord) -> Self {
        Self {
            target_temp: h.hold.target.celsius(),
            until: h.hold.until,
            occupied_at_start: h.hold.occupied_at_start,
            set_at: h.set_at,
            source: h.source.to_string(),
        }
    }
}

/// Answer of `POST /zones/{id}/target`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetResponse {
    /// The command, `confirmed` (read back from the device).
    pub command: CommandOut,
    pub hold: HoldOut,
}

/// Set a zone's target now and hold it against automatic control.
#[utoipa::path(
    post, path = "/zones/{id}/target", tag = "control",
    params(("id" = i64, Path, description = "Zone id")),
    request_body = TargetRequest,
    responses(
        (status = 200, description = "Written, read back and held", body = TargetResponse),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 409, description = "The zone has no Modbus endpoint", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Target outside 5..=35 °C or the zone's limits, or bad hold_minutes; the device is not touched", body = ErrorBody),
        (status = 503, description = "The device did not take the target; a failed command is recorded", body = ErrorBody),
    )
)]
async fn set_target(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<ZoneId>,
    Json(body): Json<TargetRequest>,
) -> Result<Json<TargetResponse>, ApiError> {
    let (command, hold) = control::set_target(&state, &caller, id, body.target_temp, body.hold_minutes).await?;
    Ok(Json(TargetResponse { command: command.into(), hold: hold.into() }))
}

/// Cancel a zone's manual hold: automatic control takes over at its next run.
#[utoipa::path(
    delete, path = "/zones/{id}/hold", tag = "control",
    params(("id" = i64, Path, description = "Zone id")),
    responses(
        (status = 200, description = "The hold that was cancelled", body = HoldOut),
        (status = 404, description = "No such zone, or no hold in force", body = ErrorBody),
        (status = 422, description = "id is not an integer", body = ErrorBody),
    )
)]
async fn cancel_hold(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<ZoneId>,
) -> Result<Json<HoldOut>, ApiError> {
    Ok(Json(control::cancel_hold(&state, &caller, id).await?.into()))
}
