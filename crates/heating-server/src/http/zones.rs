//! `/zones`: register, list, read, update and delete heating zones; `/zones/{id}/details` for a zone with its
//! recent history.

use std::collections::BTreeMap;
use std::num::NonZeroU16;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Pagination;
use super::commands::CommandOut;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use super::sensordata::ReadingOut;
use crate::domain::Page;
use crate::services::zones::{self, NewZone, ZonePatch};
use crate::state::AppState;
use crate::storage::{Zone, ZoneId};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_zone, list_zones))
        .routes(routes!(get_zone, update_zone, delete_zone))
        .routes(routes!(zone_details))
}

/// Zone preferences, all in °C. Each temperature must lie within 5..=35 °C and `min_temp <= max_temp`;
/// `occupied_temp` and `unoccupied_temp` may lie outside `min_temp..=max_temp` (control clamps them into it).
/// Missing keys take their defaults; keys not listed here are accepted and kept as sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Preferences, example = json!({"occupied_temp": 22.0, "unoccupied_temp": 17.0, "min_temp": 10.0, "max_temp": 28.0}))]
pub struct PreferencesSchema {
    /// Target while occupied (default 21.0).
    #[schema(default = 21.0, minimum = 5.0, maximum = 35.0)]
    pub occupied_temp: Option<f64>,
    /// Target while vacant (default 17.0).
    #[schema(default = 17.0, minimum = 5.0, maximum = 35.0)]
    pub unoccupied_temp: Option<f64>,
    /// Lower bound for any target (default 10.0).
    #[schema(default = 10.0, minimum = 5.0, maximum = 35.0)]
    pub min_temp: Option<f64>,
    /// Upper bound for any target (default 28.0).
    #[schema(default = 28.0, minimum = 5.0, maximum = 35.0)]
    pub max_temp: Option<f64>,
    /// Any other keys, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Body of `POST /zones/`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Living Room", "preferences": {"occupied_temp": 22.0, "unoccupied_temp": 17.0},
                          "modbus_port": 5020, "modbus_host": "localhost"}))]
pub struct ZoneCreate {
    /// Unique display name, 1 to 100 characters (trimmed).
    pub name: String,
    /// Preferences; missing keys take their defaults.
    #[schema(value_type = Option<PreferencesSchema>)]
    pub preferences: Option<Value>,
    /// Modbus TCP port of the zone's device; omit or null for a zone without a device.
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub modbus_port: Option<NonZeroU16>,
    /// Modbus TCP host (default `localhost`); stored lower-cased.
    #[schema(default = "localhost")]
    pub modbus_host: Option<String>,
    /// Modbus unit id (default 1).
    #[schema(default = 1, minimum = 0, maximum = 255)]
    pub modbus_unit_id: Option<u8>,
}

/// Body of `PUT /zones/{id}`: every field optional; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"preferences": {"occupied_temp": 21.5}}))]
pub struct ZoneUpdate {
    pub name: Option<String>,
    /// Merged key by key into the current preferences; a key set to null is reset to its default (or, if unknown,
    /// removed). The result is validated as a whole.
    #[schema(value_type = Option<PreferencesSchema>)]
    pub preferences: Option<Value>,
    /// A number sets the port; null removes it (no device); absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub modbus_port: Option<Option<NonZeroU16>>,
    pub modbus_host: Option<String>,
    #[schema(minimum = 0, maximum = 255)]
    pub modbus_unit_id: Option<u8>,
}

/// Tells "field present, null" (`Some(None)`) from "field absent" (`None`, via `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneOut {
    pub id: ZoneId,
    pub name: String,
    #[schema(value_type = PreferencesSchema)]
    pub preferences: Value,
    pub modbus_port: Option<u16>,
    pub modbus_host: String,
    pub modbus_unit_id: u8,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-27T10:00:00.123Z")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-27T10:00:00.123Z")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Zone> for ZoneOut {
    fn from(z: Zone) -> Self {
        Self {
            id: z.id,
            name: z.name,
            preferences: z.preferences.to_json(),
            modbus_port: z.modbus_port,
            modbus_host: z.modbus_host,
            modbus_unit_id: z.modbus_unit_id,
            created_at: z.created_at,
            updated_at: z.updated_at,
        }
    }
}

/// A zone with its most recent readings and commands, each newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneDetails {
    #[serde(flatten)]
    pub zone: ZoneOut,
    pub sensor_data: Vec<ReadingOut>,
    pub commands: Vec<CommandOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailsParams {
    /// How many readings and how many commands to include, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Also delete the zone's readings and commands (default false: refuse with 409 while there are any).
    pub cascade: Option<bool>,
}

#[utoipa::path(
    post, path = "/zones", tag = "zones",
    request_body = ZoneCreate,
    responses(
        (status = 201, description = "Zone created", body = ZoneOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 409, description = "Name, or modbus host + port + unit id, already taken", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid field; the detail names it", body = ErrorBody),
    )
)]
async fn create_zone(
    State(state): State<AppState>,
    Json(body): Json<ZoneCreate>,
) -> Result<(StatusCode, Json<ZoneOut>), ApiError> {
    Ok((StatusCode::CREATED, Json(zones::create(&state, body.into()).await?.into())))
}

impl From<ZoneCreate> for NewZone {
    fn from(b: ZoneCreate) -> Self {
        Self {
            name: b.name,
            preferences: b.preferences,
            modbus_port: b.modbus_port,
            modbus_host: b.modbus_host,
            modbus_unit_id: b.modbus_unit_id,
        }
    }
}

impl From<ZoneUpdate> for ZonePatch {
    fn from(b: ZoneUpdate) -> Self {
        Self {
            name: b.name,
            preferences: b.preferences,
            modbus_port: b.modbus_port,
            modbus_host: b.modbus_host,
            modbus_unit_id: b.modbus_unit_id,
        }
    }
}

#[utoipa::path(
    get, path = "/zones", tag = "zones",
    params(Pagination),
    responses(
        (status = 200, description = "A page of zones", body = Vec<ZoneOut>),
        (status = 422, description = "skip or limit out of range", body = ErrorBody),
    )
)]
async fn list_zones(
    State(state): State<AppState>,
    Query(pagination): Query<Pagination>,
) -> Result<Json<Vec<ZoneOut>>, ApiError> {
    let zones = zones::list(&state, pagination.page()?).await?;
    Ok(Json(zones.into_iter().map(ZoneOut::from).collect()))
}

/// Read one zone.
#[utoipa::path(
    get, path = "/zones/{id}", tag = "zones",
    params(("id" = i64, Path, description = "Zone id")),
    responses(
        (status = 200, description = "The zone", body = ZoneOut),
        (status = 404, description = "No such zone", body = ErrorBody, example = json!({"detail": "Zone not found"})),
        (status = 422, description = "id is not an integer", body = ErrorBody),
    )
)]
async fn get_zone(State(state): State<AppState>, Path(id): Path<ZoneId>) -> Result<Json<ZoneOut>, ApiError> {
    Ok(Json(zones::get(&state, id).await?.into()))
}

/// Update a zone: only the fields sent change.
#[utoipa::path(
    put, path = "/zones/{id}", tag = "zones",
    params(("id" = i64, Path, description = "Zone id")),
    request_body = ZoneUpdate,
    responses(
        (status = 200, description = "The updated zone", body = ZoneOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 409, description = "Name, or modbus host + port + unit id, already taken", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid field; the detail names it", body = ErrorBody),
    )
)]
async fn update_zone(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Json(body): Json<ZoneUpdate>,
) -> Result<Json<ZoneOut>, ApiError> {
    let zone = zones::update(&state, id, body.into()).await?;
    Ok(Json(zone.into()))
}

/// Delete a zone. Refused with 409 while it has readings or commands, unless `cascade=true`.
#[utoipa::path(
    delete, path = "/zones/{id}", tag = "zones",
    params(("id" = i64, Path, description = "Zone id"), DeleteParams),
    responses(
        (status = 200, description = "Deleted; the body is the zone as it was", body = ZoneOut),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 409, description = "The zone has history and cascade is not true", body = ErrorBody),
        (status = 422, description = "id is not an integer, or cascade is not a boolean", body = ErrorBody),
    )
)]
async fn delete_zone(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(params): Query<DeleteParams>,
) -> Result<Json<ZoneOut>, ApiError> {
    let zone = zones::delete(&state, id, params.cascade.unwrap_or(false)).await?;
    Ok(Json(zone.into()))
}

/// A zone with its latest readings (`sensor_data`) and commands, each newest first.
#[utoipa::path(
    get, path = "/zones/{id}/details", tag = "zones",
    params(("id" = i64, Path, description = "Zone id"), DetailsParams),
    responses(
        (status = 200, description = "The zone and its recent history", body = ZoneDetails),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 422, description = "id is not an integer, or limit out of range", body = ErrorBody),
    )
)]
async fn zone_details(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(params): Query<DetailsParams>,
) -> Result<Json<ZoneDetails>, ApiError> {
    let page = Page::new(None, params.limit).map_err(ApiError::Unprocessable)?;
    let details = zones::details(&state, id, page).await?;
    Ok(Json(ZoneDetails {
        zone: details.zone.into(),
        sensor_data: details.readings.into_iter().map(ReadingOut::from).collect(),
        commands: details.commands.into_iter().map(CommandOut::from).collect(),
    }))
}
