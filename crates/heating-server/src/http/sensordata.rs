//! `/sensordata`: post a reading by hand, list readings (all zones, or one zone in a time range), newest first.

use std::fmt;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Pagination;
use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use crate::services::readings::{self, ReadingRequest};
use crate::state::AppState;
use crate::storage::{Reading, ZoneId};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_reading, list_readings)).routes(routes!(list_zone_readings))
}

/// Body of `POST /sensordata/`. Only `zone_id`, `temperature` and `occupancy` are required (the prototype's
/// shape); the other fields are what a polled device reports.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"zone_id": 1, "temperature": 20.5, "occupancy": true}))]
pub struct ReadingCreate {
    #[serde(deserialize_with = "super::numbers::zone_id")]
    pub zone_id: ZoneId,
    /// Air temperature, °C (-60..=100: others are refused as implausible).
    #[schema(minimum = -60.0, maximum = 100.0)]
    pub temperature: f64,
    /// true/false (0/1 accepted).
    #[serde(deserialize_with = "bool_or_bit")]
    #[schema(value_type = bool)]
    pub occupancy: bool,
    /// Target temperature, °C (5..=35, rounded to 0.1).
    #[schema(minimum = 5.0, maximum = 35.0)]
    pub target_temp: Option<f64>,
    pub heater_on: Option<bool>,
    /// Heating energy counter, Wh.
    #[serde(default, deserialize_with = "super::numbers::opt_u32")]
    pub energy_wh: Option<u32>,
    /// Outdoor temperature, °C (-60..=100: others are refused as implausible).
    #[schema(minimum = -60.0, maximum = 100.0)]
    pub outdoor_temp: Option<f64>,
}

/// A boolean, also accepted as 0 or 1 (older clients sent integers).
fn bool_or_bit<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct BoolOrBit;
    impl Visitor<'_> for BoolOrBit {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true, false, 0 or 1")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
            }
        }
    }
    d.deserialize_any(BoolOrBit)
}

/// A sensor reading.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingOut {
    pub id: i64,
    pub zone_id: ZoneId,
    /// When the reading was taken (RFC 3339, UTC).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-27T10:00:00.123Z")]
    pub timestamp: DateTime<Utc>,
    /// °C.
    pub temperature: f64,
    /// °C; null for readings posted by hand.
    pub target_temp: Option<f64>,
    pub occupancy: bool,
    pub heater_on: Option<bool>,
    /// Wh.
    pub energy_wh: Option<u32>,
    /// °C.
    pub outdoor_temp: Option<f64>,
    /// The values the server filled in because the device has no point for them: `energy_wh` (heater on-time ×
    /// rated power), `occupancy` (from the zone's schedule). Empty when the device measured everything.
    #[schema(example = json!(["energy_wh"]))]
    pub estimated: Vec<&'static str>,
}

impl From<Reading> for ReadingOut {
    fn from(r: Reading) -> Self {
        Self {
            id: r.id,
            zone_id: r.zone_id,
            timestamp: r.ts,
            temperature: r.temperature,
            target_temp: r.target_temp,
            occupancy: r.occupancy,
            heater_on: r.heater_on,
            energy_wh: r.energy_wh,
            outdoor_temp: r.outdoor_temp,
            estimated: r.estimated.names(),
        }
    }
}

/// `?skip&limit&from&to` for one zone's readings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ZoneReadingsParams {
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    pub skip: Option<i64>,
    /// Items to return, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only readings at or after this time (RFC 3339, e.g. `2026-11-27T00:00:00Z`).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<DateTime<Utc>>,
    /// Only readings at or before this time (RFC 3339); not before `from` (422).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<DateTime<Utc>>,
}

#[utoipa::path(
    post, path = "/sensordata", tag = "sensordata",
    request_body = ReadingCreate,
    responses(
        (status = 201, description = "Reading stored", body = ReadingOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid field; the detail names it", body = ErrorBody),
    )
)]
async fn create_reading(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<ReadingCreate>,
) -> Result<(StatusCode, Json<ReadingOut>), ApiError> {
    let request = ReadingRequest {
        zone_id: body.zone_id,
        temperature: body.temperature,
        occupancy: body.occupancy,
        target_temp: body.target_temp,
        heater_on: body.heater_on,
        energy_wh: body.energy_wh,
        outdoor_temp: body.outdoor_temp,
    };
    Ok((StatusCode::CREATED, Json(readings::create(&state, &caller, request).await?.into())))
}

/// All zones' readings, newest first.
#[utoipa::path(
    get, path = "/sensordata", tag = "sensordata",
    params(Pagination),
    responses(
        (status = 200, description = "A page of readings, newest first", body = Vec<ReadingOut>),
        (status = 422, description = "skip or limit out of range", body = ErrorBody),
    )
)]
async fn list_readings(
    State(state): State<AppState>,
    Query(pagination): Query<Pagination>,
) -> Result<Json<Vec<ReadingOut>>, ApiError> {
    let list = readings::list(&state, pagination.page()?).await?;
    Ok(Json(list.into_iter().map(ReadingOut::from).collect()))
}

/// One zone's readings, newest first, optionally within `from <= timestamp < to`.
#[utoipa::path(
    get, path = "/sensordata/zone/{id}", tag = "sensordata",
    params(("id" = i64, Path, description = "Zone id"), ZoneReadingsParams),
    responses(
        (status = 200, description = "A page of the zone's readings, newest first", body = Vec<ReadingOut>),
        (status = 404, description = "No such zone", body = ErrorBody),
        (status = 422, description = "Bad id, skip, limit, from or to; from after to", body = ErrorBody),
    )
)]
async fn list_zone_readings(
    State(state): State<AppState>,
    Path(id): Path<ZoneId>,
    Query(params): Query<ZoneReadingsParams>,
) -> Result<Json<Vec<ReadingOut>>, ApiError> {
    let page = Pagination { skip: params.skip, limit: params.limit }.page()?;
    let list = readings::list_zone(&state, id, page, params.from, params.to).await?;
    Ok(Json(list.into_iter().map(ReadingOut::from).collect()))
}
