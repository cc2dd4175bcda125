//! Manual control: `POST /zones/{id}/target` writes a target now and holds it against the control job;
//! `DELETE /zones/{id}/hold` gives the zone back to automatic control. `POST /commands/` (the prototype's path)
//! uses the same path through [`send_manual`].

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use heating_core::control::Hold;
use heating_core::units::Setpoint;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::commands::CommandOut;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path};
use super::zones::require_zone;
use crate::app::AppState;
use crate::dispatch::{SendError, send_target};
use crate::fleet::{HoldRecord, endpoint_of};
use crate::storage::{Command, CommandSource, Zone, ZoneId};
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

/// Longest manual hold: one week.
pub const MAX_HOLD_MINUTES: i64 = 7 * 24 * 60;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_target)).routes(routes!(cancel_hold))
}

/// Body of `POST /zones/{id}/target`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"target_temp": 22.5, "hold_minutes": 120}))]
pub struct TargetRequest {
    /// °C, within the zone's `min_temp..=max_temp` (and 5..=35).
    pub target_temp: f64,
    /// Hold the target this many minutes (server clock), 1 to 10080. Absent: until the zone's occupancy changes.
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

/// Checks a manual target against the setpoint range and the zone's bounds.
pub fn check_target(zone: &Zone, target_c: f64) -> Result<Setpoint, ApiError> {
    let target = Setpoint::from_celsius(target_c).map_err(|e| ApiError::Unprocessable(format!("target_temp: {e}")))?;
    let p = &zone.preferences;
    if target.celsius() < p.min_temp || target.celsius() > p.max_temp {
        return Err(ApiError::Unprocessable(format!(
            "target_temp: {:.1} °C is outside this zone's limits min_temp..max_temp ({:.1}..{:.1} °C)",
            target.celsius(),
            p.min_temp,
            p.max_temp
        )));
    }
    Ok(target)
}

/// Writes `target` to the zone's device now and holds it until `hold_until` (or the next occupancy change).
/// The zone must have a device. Unreachable device → 503 with a `failed` command row.
pub async fn send_manual(
    state: &AppState,
    zone: &Zone,
    target: Setpoint,
    hold_until: Option<DateTime<Utc>>,
    source: CommandSource,
    reason: Option<String>,
) -> Result<(Command, HoldRecord), ApiError> {
    if endpoint_of(zone).is_none() {
        return Err(ApiError::Conflict(format!(
            "Zone {:?} has no Modbus endpoint (modbus_port); there is no device to send a target to",
            zone.name
        )));
    }
    let runtime = match state.fleet.get(zone.id).filter(|rt| Some(rt.endpoint()) == endpoint_of(zone).as_ref()) {
        Some(rt) => rt,
        None => {
            state.sync_fleet().await?;
            state.fleet.get(zone.id).ok_or_else(ApiError::zone_not_found)?
        }
    };
    let reason = reason.or_else(|| {
        Some(match hold_until {
            Some(t) => format!("{source} target, held until {}", crate::time::rfc3339(t)),
            None => format!("{source} target, held until the next occupancy change"),
        })
    });
    match send_target(state, &runtime, target, source, reason).await {
        Ok(command) => {
            let occupied = runtime.live().reading.is_some_and(|r| r.snapshot.occupied);
            let record = HoldRecord {
                hold: Hold { target, until: hold_until, occupied_at_start: occupied },
                set_at: state.clock.now(),
                source,
            };
            runtime.live().hold = Some(record);
            if let Err(e) = state.storage.put_hold(&record.stored(zone.id)).await {
                // The device has the target and the hold is in force; only a restart would end it early.
                tracing::error!(zone_id = zone.id, "manual hold not stored (a restart would end it): {e}");
            }
            Ok((command, record))
        }
        Err(SendError::Device { command, error }) => Err(ApiError::Unavailable(format!(
            "Zone {:?} did not take the target ({error}); command {} is recorded as failed",
            zone.name, command.id
        ))),
        Err(SendError::Storage(e)) => Err(e.into()),
    }
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
    Path(id): Path<ZoneId>,
    Json(body): Json<TargetRequest>,
) -> Result<Json<TargetResponse>, ApiError> {
    let zone = require_zone(&state, id).await?;
    let target = check_target(&zone, body.target_temp)?;
    let until = match body.hold_minutes {
        None => None,
        Some(m) if (1..=MAX_HOLD_MINUTES).contains(&m) => Some(state.clock.now() + Duration::minutes(m)),
        Some(m) => {
            return Err(ApiError::Unprocessable(format!("hold_minutes: {m} is outside 1..={MAX_HOLD_MINUTES}")));
        }
    };
    let (command, hold) = send_manual(&state, &zone, target, until, CommandSource::Manual, None).await?;
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
async fn cancel_hold(State(state): State<AppState>, Path(id): Path<ZoneId>) -> Result<Json<HoldOut>, ApiError> {
    require_zone(&state, id).await?;
    let stored = state.storage.delete_hold(id).await?;
    let cancelled = state.fleet.get(id).and_then(|rt| rt.live().hold.take());
    if stored && cancelled.is_none() {
        tracing::warn!(zone_id = id, "a stored hold was not in force; removed");
    }
    match cancelled {
        Some(h) => {
            tracing::info!(zone_id = id, "manual hold cancelled");
            Ok(Json(h.into()))
        }
        None => Err(ApiError::NotFound("No manual hold in force for this zone".into())),
    }
}
