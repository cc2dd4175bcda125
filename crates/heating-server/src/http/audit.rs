//! `GET /audit` (admins): who changed what — zones, preferences, device endpoints, holds, tokens — newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Pagination;
use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Query};
use crate::services::audit;
use crate::state::AppState;
use crate::storage::{AuditEntry, ZoneId};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// `?zone_id=&skip=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this zone's entries.
    pub zone_id: Option<ZoneId>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Items to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "timestamp": "2026-11-27T10:00:00.000Z", "actor": "facility-laptop",
    "action": "zone.update", "zone_id": 3, "details": {"preferences.max_temp": {"from": 28.0, "to": 24.0}}}))]
pub struct AuditOut {
    pub id: i64,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
    /// Who: a token's name, `local` (local mode), `demo`, `cli`.
    pub actor: String,
    /// `zone.create`, `zone.update`, `zone.delete`, `hold.set`, `hold.cancel`, `token.create`, `token.revoke`.
    pub action: String,
    pub zone_id: Option<ZoneId>,
    /// What changed (for `zone.update`: `{"field": {"from": .., "to": ..}}`, preferences as `preferences.<key>`).
    #[schema(value_type = Object)]
    pub details: Value,
}

impl From<AuditEntry> for AuditOut {
    fn from(e: AuditEntry) -> Self {
        Self { id: e.id, timestamp: e.ts, actor: e.actor, action: e.action, zone_id: e.zone_id, details: e.details }
    }
}

/// The audit log (admins), newest first.
#[utoipa::path(
    get, path = "/audit", tag = "auth",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of the audit log, newest first", body = Vec<AuditOut>),
        (status = 422, description = "Bad zone_id, skip or limit", body = ErrorBody),
    )
)]
async fn list_audit(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Query(params): Query<AuditParams>,
) -> Result<Json<Vec<AuditOut>>, ApiError> {
    let page = Pagination { skip: params.skip, limit: params.limit }.page()?;
    let list = audit::list(&state, &caller, params.zone_id, page).await?;
    Ok(Json(list.into_iter().map(AuditOut::from).collect()))
}
