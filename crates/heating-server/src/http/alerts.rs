//! `GET /alerts` (open alerts, or the history) and `POST /alerts/{id}/acknowledge` (operators).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Pagination;
use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::alerts::AlertSummary;
use crate::services::alerts;
use crate::state::AppState;
use crate::storage::{AlertFilter, AlertId, AlertStates, StoredAlert, ZoneId};
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_alerts)).routes(routes!(acknowledge_alert))
}

/// `?state=&zone_id=&skip=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// `open` (default: active or acknowledged), `active`, `acknowledged`, `cleared` or `all` (the history).
    pub state: Option<String>,
    /// Only this zone's alerts.
    pub zone_id: Option<ZoneId>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Items to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One alert.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "zone_id": 3, "zone_name": "Office", "kind": "offline", "state": "acknowledged",
    "message": "device not answering for over 10 min (no valid reading)", "raised_at": "2026-11-27T10:00:00.000Z",
    "acknowledged_at": "2026-11-27T10:05:00.000Z", "acknowledged_by": "facility-laptop", "cleared_at": null}))]
pub struct AlertOut {
    pub id: AlertId,
    pub zone_id: ZoneId,
    /// The zone's name while it has a device (null once the zone is gone).
    pub zone_name: Option<String>,
    /// `offline`, `below_comfort`, `no_heat_rise`, `sensor_range`, `sensor_frozen`, `write_failures`, `model_fit`.
    pub kind: String,
    /// `active`, `acknowledged` or `cleared`.
    pub state: String,
    /// What is wrong, in words.
    pub message: String,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub raised_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it: a token's name, `local`.
    pub acknowledged_by: Option<String>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cleared_at: Option<DateTime<Utc>>,
}

impl AlertOut {
    fn new(a: StoredAlert, zone_name: Option<String>) -> Self {
        let state = a.state().to_string();
        let (acknowledged_at, acknowledged_by) = a.acknowledged.map_or((None, None), |(t, by)| (Some(t), Some(by)));
        Self {
            id: a.id,
            zone_id: a.zone_id,
            zone_name,
            kind: a.kind.as_str().to_string(),
            state,
            message: a.message,
            raised_at: a.raised_at,
            acknowledged_at,
            acknowledged_by,
            cleared_at: a.cleared_at,
        }
    }
}

/// Body of `POST /alerts/{id}/acknowledge` (may be `{}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "valve replaced tomorrow morning"}))]
pub struct AcknowledgeIn {
    /// Kept in the audit log with the acknowledgement; at most 500 characters.
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// `/status`'s `alerts`: the open alerts counted.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"active": 2, "acknowledged": 1, "by_kind": {"offline": 1, "below_comfort": 2},
    "newest_raised_at": "2026-11-27T10:00:00.000Z"}))]
pub struct AlertSummaryOut {
    /// Open and not acknowledged.
    pub active: usize,
    /// Open and acknowledged.
    pub acknowledged: usize,
    /// Open alerts per kind (kinds with none are left out).
    #[schema(value_type = Object)]
    pub by_kind: std::collections::BTreeMap<String, usize>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub newest_raised_at: Option<DateTime<Utc>>,
}

impl From<AlertSummary> for AlertSummaryOut {
    fn from(s: AlertSummary) -> Self {
        Self {
            active: s.active,
            acknowledged: s.acknowledged,
            by_kind: s.by_kind.into_iter().map(|(k, n)| (k.as_str().to_string(), n)).collect(),
            newest_raised_at: s.newest,
        }
    }
}

/// Alerts, newest first: the open ones by default, or by `state` (`all` is the history).
#[utoipa::path(
    get, path = "/alerts", tag = "alerts",
    params(AlertParams),
    responses(
        (status = 200, description = "A page of alerts, newest first", body = Vec<AlertOut>),
        (status = 422, description = "Bad state, zone_id, skip or limit", body = ErrorBody),
    )
)]
async fn list_alerts(
    State(state): State<AppState>,
    Query(params): Query<AlertParams>,
) -> Result<Json<Vec<AlertOut>>, ApiError> {
    let page = Pagination { skip: params.skip, limit: params.limit }.page()?;
    let states = match params.state.as_deref().map(str::trim) {
        None | Some("") => AlertStates::Open,
        Some(s) => s.parse().map_err(|_| {
            ApiError::Unprocessable(format!("state: {s:?} is not one of open, active, acknowledged, cleared, all"))
        })?,
    };
    let list = alerts::list(&state, AlertFilter { states, zone_id: params.zone_id, page }).await?;
    Ok(Json(
        list.into_iter()
            .map(|a| {
                let name = alerts::zone_name(&state, &a);
                AlertOut::new(a, name)
            })
            .collect(),
    ))
}

/// Acknowledge an open alert (operators): who and when are recorded (and audited); it stays open until its
/// condition ends. Acknowledging it again changes nothing.
#[utoipa::path(
    post, path = "/alerts/{id}/acknowledge", tag = "alerts",
    params(("id" = i64, Path, description = "Alert id")),
    request_body = AcknowledgeIn,
    responses(
        (status = 200, description = "The alert, acknowledged", body = AlertOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "The alert has cleared", body = ErrorBody),
        (status = 415, description = "Body is not application/json", body = ErrorBody),
        (status = 422, description = "id is not an integer, or the note is too long or not a string", body = ErrorBody),
    )
)]
async fn acknowledge_alert(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<AlertId>,
    Json(body): Json<AcknowledgeIn>,
) -> Result<Json<AlertOut>, ApiError> {
    let alert = alerts::acknowledge(&state, &caller, id, body.note).await?;
    let name = alerts::zone_name(&state, &alert);
    Ok(Json(AlertOut::new(alert, name)))
}
