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
use super::auth::Authed;
use super::commands::CommandOut;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path, Query};
use super::numbers::whole_number;
use super::sensordata::ReadingOut;
use crate::domain::Page;
use crate::services::zones::{self, NewZone, ZonePatch};
use crate::state::AppState;
use crate::storage::{GroupId, Zone, ZoneId};
use crate::time::serialize_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_zone, list_zones))
        .routes(routes!(get_zone, update_zone, delete_zone))
        .routes(routes!(zone_details))
}

/// Zone preferences. Every key is optional: a missing key, or one set to null, takes its default (in `PUT`, null
/// resets the key). Temperatures are °C within 5..=35, and `min_temp <= max_temp` (also with defaults filled in:
/// `{"min_temp": 29}` alone is refused, the default `max_temp` being 28); `occupied_temp`, `unoccupied_temp` and
/// timer-program temperatures may lie outside `min_temp..=max_temp` (control clamps every target into it). Keys not
/// listed here are accepted and kept as sent. A value the server refuses is a 422 naming the field, e.g.
/// `preferences.control_strategy: unknown strategy "predictiv" (expected one of: constant, reactive, scheduled,
/// predictive)`. Responses hold every key listed here, null where unset.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Preferences, example = json!({"occupied_temp": 22.0, "unoccupied_temp": 17.0, "min_temp": 10.0,
    "max_temp": 28.0, "control_strategy": "predictive", "occupancy_schedule": ["mon-fri 08:30-17:30"]}))]
pub struct PreferencesSchema {
    /// Target while occupied, °C.
    #[schema(default = 21.0, minimum = 5.0, maximum = 35.0)]
    pub occupied_temp: Option<f64>,
    /// Target while vacant, °C.
    #[schema(default = 17.0, minimum = 5.0, maximum = 35.0)]
    pub unoccupied_temp: Option<f64>,
    /// Lower bound for any target, °C; must not be above `max_temp`.
    #[schema(default = 10.0, minimum = 5.0, maximum = 35.0)]
    pub min_temp: Option<f64>,
    /// Upper bound for any target, °C; must not be below `min_temp`.
    #[schema(default = 28.0, minimum = 5.0, maximum = 35.0)]
    pub max_temp: Option<f64>,
    /// Weekly timer program, at most 64 entries: while an entry is active (site-local time), its temperature is the
    /// comfort target, whatever the occupancy; the first active entry wins. Default: none.
    #[schema(default = json!([]), max_items = 64)]
    pub schedule: Option<Vec<ScheduledTargetSchema>>,
    /// Above this outdoor temperature (°C, -50..=50), comfort targets are lowered by `weather_warm_offset`.
    #[schema(default = 21.0, minimum = -50.0, maximum = 50.0)]
    pub weather_warm_threshold: Option<f64>,
    /// Kelvin (0..=5) taken off comfort targets when it is warm outside; 0 disables the rule.
    #[schema(default = 1.0, minimum = 0.0, maximum = 5.0)]
    pub weather_warm_offset: Option<f64>,
    /// Below this outdoor temperature (°C, -50..=50), comfort targets are raised by `weather_cold_offset`.
    /// Default: null (the rule is off).
    #[schema(default = json!(null), minimum = -50.0, maximum = 50.0)]
    pub weather_cold_threshold: Option<f64>,
    /// Kelvin (0..=5) added to comfort targets when it is cold outside.
    #[schema(default = 0.5, minimum = 0.0, maximum = 5.0)]
    pub weather_cold_offset: Option<f64>,
    /// Weather location of this zone: a place name, a postcode or `lat,lon`, 1 to 100 characters, not only blanks,
    /// no control characters: what the weather service takes (the server stores up to 200 characters, but the weather
    /// service refuses a longer location, and control then uses the zone's own outdoor sensor). Default: null (the
    /// site's `WEATHER_LOCATION`).
    #[schema(default = json!(null), min_length = 1, max_length = 100, example = "Berlin",
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub weather_location: Option<String>,
    /// How the zone's target is decided. Default: null (the server's `CONTROL_STRATEGY`).
    #[schema(default = json!(null))]
    pub control_strategy: Option<StrategySchema>,
    /// When people are expected, for the `scheduled` and `predictive` strategies: a weekly schedule, each entry in
    /// the grammar of `ScheduleEntry`, e.g. `["mon-fri 08:30-17:30"]`. Stored normalized (`"Sat,Sun 08:00-23:00"`
    /// becomes `"sat,sun 08:00-23:00"`). Default: null (the occupancy learned from the zone's readings; an empty
    /// list counts as unset).
    #[schema(default = json!(null), example = json!(["mon-fri 08:30-17:30"]))]
    pub occupancy_schedule: Option<Vec<ScheduleEntrySchema>>,
    /// Comfort ceiling of a vacant room, °C (5..=35, not below `occupied_temp` nor `unoccupied_temp`): how warm
    /// the `predictive` strategy may make an empty room while storing heat in cheap hours. Default: null (up to the
    /// higher of `occupied_temp` and `unoccupied_temp`).
    #[schema(default = json!(null), minimum = 5.0, maximum = 35.0)]
    pub storage_max_temp: Option<f64>,
    /// Comfort ceiling of an occupied room, °C (5..=35, not below `occupied_temp`): how warm the `predictive`
    /// strategy may plan a room while people are expected. Default: null (as `storage_max_temp`).
    #[schema(default = json!(null), minimum = 5.0, maximum = 35.0)]
    pub occupied_max_temp: Option<f64>,
    /// Any other keys, kept verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One entry of the timer program (`preferences.schedule`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduledTarget, example = json!({"when": "mon-fri 07:00-09:00", "temp": 21.5}))]
pub struct ScheduledTargetSchema {
    pub when: ScheduleEntrySchema,
    /// Target while the entry is active, °C.
    #[schema(minimum = 5.0, maximum = 35.0)]
    pub temp: f64,
}

/// A control strategy: `constant` (21 °C always), `reactive` (the occupancy rule on the measured occupancy),
/// `scheduled` (`occupied_temp` while people are expected, else `unoccupied_temp`) or `predictive` (a 24 h
/// price-aware plan). Read ignoring case and surrounding blanks; stored and shown lower-case.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ControlStrategy)]
pub enum StrategySchema {
    Constant,
    Reactive,
    Scheduled,
    Predictive,
}

/// A weekly schedule entry: days, then a site-local time span, e.g. `mon-fri 06:30-08:00`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScheduleEntrySchema(pub String);

impl utoipa::PartialSchema for ScheduleEntrySchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(SCHEDULE_ENTRY_GRAMMAR))
            .pattern(Some(schedule_entry_pattern()))
            .examples(["mon-fri 06:30-08:00", "sat,sun 08:00-23:00", "sun-thu 22:00-07:00", "fri 18:00-sun 16:00"])
            .into()
    }
}

impl ToSchema for ScheduleEntrySchema {
    fn name() -> std::borrow::Cow<'static, str> {
        "ScheduleEntry".into()
    }
}

/// The description of [`ScheduleEntrySchema`]: the grammar of `heating_core::schedule`.
const SCHEDULE_ENTRY_GRAMMAR: &str = "A weekly schedule entry: days, one space, then a site-local time span \
`HH:MM-HH:MM`. Days: a day (`mon`..`sun` or `monday`..`sunday`), a range (`mon-fri`; `sun-thu` wraps around the \
week), a comma list of those (`sat,sun`, `mon,wed-fri`), or `daily`, `weekdays`, `weekends`. Times run from 00:00 \
to 23:59 (24:00 as an end); an end before the start runs into the next morning (`sun-thu 22:00-07:00`). A span may \
name its end day (`fri 18:00-sun 16:00`): the entry then starts on exactly one day and ends on another. Case is \
ignored (the pattern shows the lower-case form); the stored form is normalized (lower-case, `mon-fri` for weekdays, `sat,sun` for weekends).";

/// The `pattern` of [`ScheduleEntrySchema`]: what `heating_core::schedule::ScheduleEntry` reads, lower-case and with
/// two-digit minutes (the server also takes other cases and single-digit minutes). An explicit end day must differ
/// from the start day here, so that every string the pattern allows ends after it starts.
fn schedule_entry_pattern() -> String {
    const DAYS: [&str; 7] = [
        "mon(?:day)?",
        "tue(?:sday)?",
        "wed(?:nesday)?",
        "thu(?:rsday)?",
        "fri(?:day)?",
        "sat(?:urday)?",
        "sun(?:day)?",
    ];
    let day = DAYS.join("|");
    let item = format!("(?:{day})(?:-(?:{day}))?");
    let days = format!("(?:daily|everyday|all|weekdays|weekends?|{item}(?:,{item})*)");
    let start = "(?:[01]?[0-9]|2[0-3]):[0-5][0-9]";
    let end = format!("(?:{start}|24:00)");
    let mut forms = vec![format!("{days} {start}-{end}")];
    for (i, d) in DAYS.iter().enumerate() {
        let others: Vec<&str> = DAYS.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, o)| *o).collect();
        forms.push(format!("(?:{d}) {start}-(?:{}) {end}", others.join("|")));
    }
    format!("^(?:{})$", forms.join("|"))
}

/// Body of `POST /zones/`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Living Room", "preferences": {"occupied_temp": 22.0, "unoccupied_temp": 17.0},
                          "modbus_port": 5020, "modbus_host": "localhost"}))]
pub struct ZoneCreate {
    /// Unique display name, 1 to 100 characters, no control characters, not only blanks; stored trimmed.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// Preferences; missing keys take their defaults.
    #[schema(value_type = Option<PreferencesSchema>)]
    pub preferences: Option<Value>,
    /// Modbus TCP port of the zone's device; omit or null for a zone without a device.
    #[serde(default, deserialize_with = "port")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub modbus_port: Option<NonZeroU16>,
    /// Modbus TCP host name or IP address, at most 253 characters, without blanks, `/`, `@`, `?` or `#`
    /// (default `localhost`); stored lower-cased. Host, port and unit id together must be unique.
    #[schema(
        default = "localhost",
        min_length = 1,
        max_length = 253,
        pattern = r"^[\x21\x22\x24-\x2e\x30-\x3e\x41-\x7e]+$"
    )]
    pub modbus_host: Option<String>,
    /// Modbus unit id (default 1).
    #[serde(default, deserialize_with = "unit_id")]
    #[schema(default = 1, minimum = 0, maximum = 255)]
    pub modbus_unit_id: Option<u8>,
    /// The device profile (register map) the zone's device speaks: a name of `GET /device-profiles` (default
    /// `heating-sim`, this project's simulator). An unknown name is a 422 listing the known ones.
    #[schema(default = "heating-sim", example = "relay-coil")]
    pub device_profile: Option<String>,
    /// The heater's rated power, W (0 < p <= 1000000), for a device whose profile has none: energy is then
    /// estimated from the heater's on-time. Default: null.
    #[schema(minimum = 0.0, maximum = 1000000.0, example = 1500.0)]
    pub rated_power_w: Option<f64>,
    /// The group the zone belongs to (`GET /groups`); default: none. An unknown group is a 422.
    pub group_id: Option<GroupId>,
}

/// Body of `PUT /zones/{id}`: every field optional; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"preferences": {"occupied_temp": 21.5}}))]
pub struct ZoneUpdate {
    /// A new unique display name, 1 to 100 characters, no control characters, not only blanks; stored trimmed.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    /// Merged key by key into the current preferences; a key set to null is reset to its default (or, if unknown,
    /// removed). The result is validated as a whole.
    #[schema(value_type = Option<PreferencesSchema>)]
    pub preferences: Option<Value>,
    /// A number sets the port; null removes it (no device); absent leaves it.
    #[serde(default, deserialize_with = "present_port")]
    #[schema(value_type = Option<u16>, minimum = 1, maximum = 65535)]
    pub modbus_port: Option<Option<NonZeroU16>>,
    /// Modbus TCP host name or IP address, at most 253 characters, without blanks, `/`, `@`, `?` or `#`; stored
    /// lower-cased.
    #[schema(min_length = 1, max_length = 253, pattern = r"^[\x21\x22\x24-\x2e\x30-\x3e\x41-\x7e]+$")]
    pub modbus_host: Option<String>,
    /// Modbus unit id.
    #[serde(default, deserialize_with = "unit_id")]
    #[schema(minimum = 0, maximum = 255)]
    pub modbus_unit_id: Option<u8>,
    /// A device profile name of `GET /device-profiles`.
    #[schema(example = "relay-coil")]
    pub device_profile: Option<String>,
    /// The heater's rated power, W; null removes it; absent leaves it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<f64>, minimum = 0.0, maximum = 1000000.0)]
    pub rated_power_w: Option<Option<f64>>,
    /// Puts the zone in this group; null takes it out of its group; absent leaves it. An unknown group is a 422.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub group_id: Option<Option<GroupId>>,
}

/// A nullable field of `PUT`: "present, null" (`Some(None)`) apart from "absent" (`None`, via `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A port as `modbus_port` in `PUT`: tells "field present, null" (`Some(None)`) from "field absent" (`None`, via
/// `#[serde(default)]`).
fn present_port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<NonZeroU16>>, D::Error> {
    port(d).map(Some)
}

/// A Modbus TCP port, 1 to 65535, or null.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NonZeroU16>, D::Error> {
    Ok(whole_number(d, 1, 65535, "a port number 1..=65535")?
        .and_then(|p| u16::try_from(p).ok())
        .and_then(NonZeroU16::new))
}

/// A Modbus unit id, 0 to 255, or null.
fn unit_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    Ok(whole_number(d, 0, 255, "a unit id 0..=255")?.and_then(|u| u8::try_from(u).ok()))
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
    /// The device profile the zone's device speaks.
    #[schema(example = "heating-sim")]
    pub device_profile: String,
    /// The heater's rated power, W, when set on the zone.
    pub rated_power_w: Option<f64>,
    /// The group the zone belongs to; null: none.
    pub group_id: Option<GroupId>,
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
            device_profile: z.device_profile,
            rated_power_w: z.rated_power_w,
            group_id: z.group_id,
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
    Authed(caller): Authed,
    Json(body): Json<ZoneCreate>,
) -> Result<(StatusCode, Json<ZoneOut>), ApiError> {
    Ok((StatusCode::CREATED, Json(zones::create(&state, &caller, body.into()).await?.into())))
}

impl From<ZoneCreate> for NewZone {
    fn from(b: ZoneCreate) -> Self {
        Self {
            name: b.name,
            preferences: b.preferences,
            modbus_port: b.modbus_port,
            modbus_host: b.modbus_host,
            modbus_unit_id: b.modbus_unit_id,
            device_profile: b.device_profile,
            rated_power_w: b.rated_power_w,
            group_id: b.group_id,
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
            device_profile: b.device_profile,
            rated_power_w: b.rated_power_w,
            group_id: b.group_id,
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
    Authed(caller): Authed,
    Path(id): Path<ZoneId>,
    Json(body): Json<ZoneUpdate>,
) -> Result<Json<ZoneOut>, ApiError> {
    let zone = zones::update(&state, &caller, id, body.into()).await?;
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
    Authed(caller): Authed,
    Path(id): Path<ZoneId>,
    Query(params): Query<DeleteParams>,
) -> Result<Json<ZoneOut>, ApiError> {
    let zone = zones::delete(&state, &caller, id, params.cascade.unwrap_or(false)).await?;
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
