//! `/groups`: zone groups (a tree: site → building → floor, or any other), each zone in at most one group
//! (`group_id` of `POST /zones` and `PUT /zones/{id}`); a group's live summary and aggregated history.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use super::history::{BucketOut, HistoryParams};
use crate::services::groups::{self, GroupInfo, GroupPatch, GroupSummary, NewGroup};
use crate::state::AppState;
use crate::storage::{GroupId, History, ZoneGroup};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, update_group, delete_group))
        .routes(routes!(group_summary))
        .routes(routes!(group_history))
}

/// Body of `POST /groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Floor 2", "kind": "floor", "parent_id": 1}))]
pub struct GroupCreate {
    /// Display name, 1 to 100 characters, no control characters; stored trimmed. Unique among its siblings.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `site`, `building`, `floor` or `group` (default): a label for the views, the tree itself is free-form.
    #[schema(default = "group", example = "floor")]
    pub kind: Option<String>,
    /// The parent group; omit or null for a top-level group.
    pub parent_id: Option<GroupId>,
}

/// Body of `PUT /groups/{id}`: every field optional; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Floor 2 (east)", "parent_id": 3}))]
pub struct GroupUpdate {
    /// A new name (rename).
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// `site`, `building`, `floor` or `group`.
    pub kind: Option<String>,
    /// A new parent (move); null moves the group to the top level; absent leaves it. Not the group itself nor one
    /// of its subgroups (422).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub parent_id: Option<Option<GroupId>>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    pub id: GroupId,
    pub name: String,
    /// `site`, `building`, `floor` or `group`.
    #[schema(example = "floor")]
    pub kind: &'static str,
    /// Null for a top-level group.
    pub parent_id: Option<GroupId>,
    /// Names from the top-level group down to this one.
    #[schema(example = json!(["HQ", "Building A", "Floor 2"]))]
    pub path: Vec<String>,
    /// Zones directly in the group.
    pub zones: usize,
    /// Zones in the group and all its subgroups.
    pub zones_total: usize,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl From<GroupInfo> for GroupOut {
    fn from(i: GroupInfo) -> Self {
        let g = i.group;
        Self {
            id: g.id,
            name: g.name,
            kind: g.kind.as_str(),
            parent_id: g.parent_id,
            path: i.path,
            zones: i.zones,
            zones_total: i.zones_total,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

async fn out(state: &AppState, g: ZoneGroup) -> Result<GroupOut, ApiError> {
    Ok(groups::get(state, g.id).await?.into())
}

/// Create a group. Admins only.
#[utoipa::path(
    post, path = "/groups", tag = "groups",
    request_body = GroupCreate,
    responses(
        (status = 201, description = "Group created", body = GroupOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 409, description = "A sibling has that name; too many groups", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid field (name, kind, parent_id); the detail names it", body = ErrorBody),
    )
)]
async fn create_group(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<GroupCreate>,
) -> Result<(StatusCode, Json<GroupOut>), ApiError> {
    let new = NewGroup { name: body.name, kind: body.kind, parent_id: body.parent_id };
    let group = groups::create(&state, &caller, new).await?;
    Ok((StatusCode::CREATED, Json(out(&state, group).await?)))
}

/// Every group (at most 1000), by id, with its path and zone counts.
#[utoipa::path(
    get, path = "/groups", tag = "groups",
    responses((status = 200, description = "Every group", body = Vec<GroupOut>))
)]
async fn list_groups(State(state): State<AppState>) -> Result<Json<Vec<GroupOut>>, ApiError> {
    Ok(Json(groups::list(&state).await?.into_iter().map(GroupOut::from).collect()))
}

/// Read one group.
#[utoipa::path(
    get, path = "/groups/{id}", tag = "groups",
    params(("id" = i64, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = GroupOut),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 422, description = "id is not an integer", body = ErrorBody),
    )
)]
async fn get_group(State(state): State<AppState>, Path(id): Path<GroupId>) -> Result<Json<GroupOut>, ApiError> {
    Ok(Json(groups::get(&state, id).await?.into()))
}

/// Rename, relabel or move a group: only the fields sent change. Admins only.
#[utoipa::path(
    put, path = "/groups/{id}", tag = "groups",
    params(("id" = i64, Path, description = "Group id")),
    request_body = GroupUpdate,
    responses(
        (status = 200, description = "The updated group", body = GroupOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 409, description = "A sibling has that name", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid field; a parent below the group itself", body = ErrorBody),
    )
)]
async fn update_group(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<GroupId>,
    Json(body): Json<GroupUpdate>,
) -> Result<Json<GroupOut>, ApiError> {
    let patch = GroupPatch { name: body.name, kind: body.kind, parent_id: body.parent_id };
    let group = groups::update(&state, &caller, id, patch).await?;
    Ok(Json(out(&state, group).await?))
}

/// Delete an empty group (no subgroups, no zones). Admins only.
#[utoipa::path(
    delete, path = "/groups/{id}", tag = "groups",
    params(("id" = i64, Path, description = "Group id")),
    responses(
        (status = 200, description = "Deleted; the body is the group as it was", body = GroupOut),
        (status = 403, description = "Needs the admin role", body = ErrorBody),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 409, description = "The group has subgroups or zones", body = ErrorBody),
        (status = 422, description = "id is not an integer", body = ErrorBody),
    )
)]
async fn delete_group(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<GroupId>,
) -> Result<Json<GroupOut>, ApiError> {
    Ok(Json(groups::delete(&state, &caller, id).await?.into()))
}

/// `?from&to` of a summary.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// Start of the energy's range, inclusive (RFC 3339). Default: 24 hours before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// End of the energy's range, exclusive (RFC 3339). Default: now (server clock).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
}

/// A group's zones now (its subgroups' included), and their energy over a range.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSummaryOut {
    pub group: GroupOut,
    /// Zones in the group and its subgroups.
    pub zones: usize,
    /// Zones by health: `online`, `offline`, `degraded`, `no_device` (the rest are not polled yet).
    pub online: usize,
    pub offline: usize,
    pub degraded: usize,
    pub no_device: usize,
    /// Zones whose air is more than 0.5 K below the target in force.
    pub below_comfort: usize,
    /// Zones with the heater on.
    pub heating: usize,
    pub occupied: usize,
    /// Zones on a manual hold.
    pub on_hold: usize,
    /// Mean air temperature of the zones with a reading, °C.
    pub mean_temperature: Option<f64>,
    /// Heater power of the zones heating now, W.
    pub heater_power_w: u64,
    /// The energy's range.
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: DateTime<Utc>,
    /// Heating energy used over the range by the group's zones, kWh (each zone's as `/zones/{id}/history`
    /// counts it); null when no zone has two counter values in the range.
    pub energy_kwh: Option<f64>,
}

impl From<GroupSummary> for GroupSummaryOut {
    fn from(s: GroupSummary) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let energy_kwh = s.energy_wh.map(|wh| wh as f64 / 1000.0);
        Self {
            group: s.group.into(),
            zones: s.zones,
            online: s.online,
            offline: s.offline,
            degraded: s.degraded,
            no_device: s.no_device,
            below_comfort: s.below_comfort,
            heating: s.heating,
            occupied: s.occupied,
            on_hold: s.on_hold,
            mean_temperature: s.mean_temperature,
            heater_power_w: s.heater_power_w,
            from: s.query.from(),
            to: s.query.to(),
            energy_kwh,
        }
    }
}

/// A group's live summary: zones by health, below comfort, heating, occupied, on hold; energy over a range.
#[utoipa::path(
    get, path = "/groups/{id}/summary", tag = "groups",
    params(("id" = i64, Path, description = "Group id"), SummaryParams),
    responses(
        (status = 200, description = "The group's summary", body = GroupSummaryOut),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 422, description = "Bad id, from or to", body = ErrorBody),
    )
)]
async fn group_summary(
    State(state): State<AppState>,
    Path(id): Path<GroupId>,
    Query(p): Query<SummaryParams>,
) -> Result<Json<GroupSummaryOut>, ApiError> {
    let range = crate::services::history::HistoryRequest { from: p.from, to: p.to, points: None };
    Ok(Json(groups::summary(&state, id, range).await?.into()))
}

/// A group's history: its zones' readings aggregated per bucket.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupHistoryOut {
    pub group_id: GroupId,
    /// Zones in the group and its subgroups.
    pub zones: usize,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: DateTime<Utc>,
    pub points: u32,
    pub bucket_seconds: f64,
    /// Readings in the range, all zones.
    pub readings: i64,
    /// Heating energy used over the range by all zones, kWh; null when no zone's counter gave a value.
    pub energy_kwh: Option<f64>,
    /// Buckets over all zones, oldest first: min and max over the zones, means weighted by readings, shares of
    /// all readings.
    pub buckets: Vec<BucketOut>,
}

/// A group's readings over a range, aggregated over its zones (and its subgroups') into at most `points` buckets.
#[utoipa::path(
    get, path = "/groups/{id}/history", tag = "groups",
    params(("id" = i64, Path, description = "Group id"), HistoryParams),
    responses(
        (status = 200, description = "Buckets over all the group's zones and their energy", body = GroupHistoryOut),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 422, description = "Bad id, from, to or points; from not before to", body = ErrorBody),
    )
)]
async fn group_history(
    State(state): State<AppState>,
    Path(id): Path<GroupId>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<GroupHistoryOut>, ApiError> {
    let (query, History { buckets, readings, energy_wh, .. }, zones) =
        groups::history(&state, id, params.into()).await?;
    #[allow(clippy::cast_precision_loss)]
    let energy_kwh = energy_wh.map(|wh| wh as f64 / 1000.0);
    #[allow(clippy::cast_precision_loss)]
    let bucket_seconds = query.bucket_ms() as f64 / 1000.0;
    Ok(Json(GroupHistoryOut {
        group_id: id,
        zones,
        from: query.from(),
        to: query.to(),
        points: query.points(),
        bucket_seconds,
        readings,
        energy_kwh,
        buckets: buckets.into_iter().map(BucketOut::from).collect(),
    }))
}
