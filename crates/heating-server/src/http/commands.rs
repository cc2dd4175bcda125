//! `/commands`: log a target-temperature command for a zone and list a zone's commands, newest first.
//!
//! `POST /commands/` sends the target to the zone's device at once (source `api`), like manual control: the
//! command is `confirmed` once read back, and held until the zone's occupancy changes, so the control job does not
//! undo it a minute later. A zone without a Modbus endpoint has no device: its command is only logged (`pending`).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Pagination;
use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::services::control::{self, CommandRequest};
use crate::state::AppState;
use crate::storage::{Command, CommandSource, CommandStatus, ZoneId};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_command)).routes(routes!(list_zone_commands))
}

/// Body of `POST /commands/`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"zone_id": 1, "target_temp": 21.5}))]
pub struct CommandCreate {
    #[serde(deserialize_with = "super::numbers::zone_id")]
    pub zone_id: ZoneId,
    /// New target temperature, °C, 5.0..=35.0 (rounded to 0.1), and within the zone's `min_temp..=max_temp` (422
    /// otherwise).
    #[schema(minimum = 5.0, maximum = 35.0)]
    pub target_temp: f64,
    /// Why (free text, at most 500 characters; stored trimmed, blank = none).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Who asked for a command.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandSourceOut {
    Control,
    Manual,
    Api,
}

/// Where a command is: logged, written to the device, read back from it, or given up.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandStatusOut {
    Pending,
    Sent,
    Confirmed,
    Failed,
}

/// A command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandOut {
    pub id: i64,
    pub zone_id: ZoneId,
    /// When the command was issued (RFC 3339, UTC).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-27T10:00:00.123Z")]
    pub timestamp: DateTime<Utc>,
    /// °C.
    pub target_temp: f64,
    pub source: CommandSourceOut,
    pub reason: Option<String>,
    pub status: CommandStatusOut,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Who asked for it: `control` (the control job), a token's name, `local` (local mode), `demo`; `unknown` for
    /// commands logged before actors were recorded.
    pub actor: String,
}

impl From<Command> for CommandOut {
    fn from(c: Command) -> Self {
        Self {
            id: c.id,
            zone_id: c.zone_id,
            timestamp: c.ts,
            target_temp: c.target_temp.celsius(),
            source: match c.source {
                CommandSource::Control => CommandSourceOut::Control,
                CommandSource::Manual => CommandSourceOut::Manual,
                CommandSource::Api => CommandSourceOut::Api,
            },
            reason: c.reason,
            status: match c.status {
                CommandStatus::Pending => CommandStatusOut::Pending,
                CommandStatus::Sent => CommandStatusOut::Sent,
                CommandStatus::Confirmed => CommandStatusOut::Confirmed,
                CommandStatus::Failed => CommandStatusOut::Failed,
            },
            error: c.error,
            actor: c.actor,
        }
    }
}

/// Send a target to a zone's device (source `api`), held until the zone's occupancy changes.
#[utoipa::path(
    post, path = "/commands", tag = "commands",
    request_body = CommandCreate,
    responses(
        (status = 201, description = "Command sent and confirmed (or, for a zone without a device, logged as pending)", body = CommandOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "target_temp outside 5..=35 °C or the zone's limits, or another invalid field; the device is not touched", body = ErrorBody),
        (status = 503, description = "The device did not take the target; the command is recorded as failed", body = ErrorBody),
    )
)]
async fn create_command(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<CommandCreate>,
) -> Result<(StatusCode, Json<CommandOut>), ApiError> {
    let request = CommandRequest { zone_id: body.zone_id, target_temp: body.target_temp, reason: body.reason };
    Ok((StatusCode::CREATED, Json(control::create_command(&state, &caller, request).await?.into())))
}

/// One zone's commands, newest first.
#[utoipa::path(
    get, path = "/commands/zone/{id}", tag = "commands",
    params(("id" = i64, Path, description = "Zone id"), Pagination),
    responses(
        (status = 200, description = "A page of the zone's commands, newest first", body = Vec<CommandOut>),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 422, description = "Bad id, skip or limit", body = ErrorBody),
    )
)]
async fn list_zone_commands(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(pagination): Query<Pagination>,
) -> Result<Json<Vec<CommandOut>>, ApiError> {
    let commands = control::list_commands(&state, id, pagination.page()?).await?;
    Ok(Json(commands.into_iter().map(CommandOut::from).collect()))
}
