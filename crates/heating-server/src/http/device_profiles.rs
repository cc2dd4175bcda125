//! `/device-profiles`: the register maps zones may name (list, one with its TOML), posting a new one (admins), and
//! probing a device with a profile (admins).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Authed;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path};
use super::numbers::whole_number;
use crate::profiles::KnownProfile;
use crate::services::device_profiles::{self, ProbeRequest};
use crate::state::AppState;
use crate::time::serialize_opt_rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles, create_profile))
        .routes(routes!(get_profile))
        .routes(routes!(probe_device))
}

/// What a device can tell; what it cannot, the server fills in (and marks `estimated`) or leaves unknown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilitiesOut {
    pub occupancy: bool,
    pub heater: bool,
    pub energy: bool,
    pub outdoor_temperature: bool,
    /// A register or the profile's constant `rated_power_w`.
    pub rated_power: bool,
    pub valve_position: bool,
    pub window_contact: bool,
    pub humidity: bool,
    pub supply_temperature: bool,
}

/// A device profile in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceProfileOut {
    #[schema(example = "relay-coil")]
    pub name: String,
    pub version: u32,
    pub description: String,
    /// `builtin`, `dir` (`DEVICE_PROFILES_DIR`) or `api` (posted).
    #[schema(example = "builtin")]
    pub source: &'static str,
    /// Read requests one poll makes (contiguous points merged).
    pub requests_per_poll: usize,
    pub capabilities: CapabilitiesOut,
    /// Who posted it (`api` profiles only).
    pub posted_by: Option<String>,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub posted_at: Option<DateTime<Utc>>,
}

/// One device profile: as listed, plus every field as JSON and the TOML as written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceProfileDetails {
    #[serde(flatten)]
    pub summary: DeviceProfileOut,
    /// The profile's fields (the TOML format as JSON).
    #[schema(value_type = Object)]
    pub profile: Value,
    pub toml: String,
}

fn summary(k: &KnownProfile) -> DeviceProfileOut {
    let c = k.capabilities();
    DeviceProfileOut {
        name: k.name().to_string(),
        version: k.profile.version,
        description: k.profile.description.clone(),
        source: k.source.as_str(),
        requests_per_poll: device_profile::ReadPlan::new(&k.profile).blocks.len(),
        capabilities: CapabilitiesOut {
            occupancy: c.occupancy,
            heater: c.heater,
            energy: c.energy,
            outdoor_temperature: c.outdoor_temperature,
            rated_power: c.rated_power,
            valve_position: c.valve_position,
            window_contact: c.window_contact,
            humidity: c.humidity,
            supply_temperature: c.supply_temperature,
        },
        posted_by: k.posted.as_ref().map(|(who, _)| who.clone()),
        posted_at: k.posted.as_ref().map(|(_, at)| *at),
    }
}

fn details(k: &KnownProfile) -> DeviceProfileDetails {
    DeviceProfileDetails {
        summary: summary(k),
        profile: serde_json::to_value(k.profile.as_ref()).unwrap_or(Value::Null),
        toml: k.toml.clone(),
    }
}

/// Every device profile a zone may name, by name.
#[utoipa::path(
    get, path = "/device-profiles", tag = "device-profiles",
    responses((status = 200, description = "The known profiles", body = Vec<DeviceProfileOut>))
)]
async fn list_profiles(State(state): State<AppState>) -> Json<Vec<DeviceProfileOut>> {
    Json(device_profiles::list(&state).iter().map(|k| summary(k)).collect())
}

/// One device profile, as JSON and as its TOML.
#[utoipa::path(
    get, path = "/device-profiles/{name}", tag = "device-profiles",
    params(("name" = String, Path, description = "Profile name")),
    responses(
        (status = 200, description = "The profile", body = DeviceProfileDetails),
        (status = 404, description = "No such profile", body = ErrorBody),
        (status = 422, description = "Not a profile name", body = ErrorBody),
    )
)]
async fn get_profile(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DeviceProfileDetails>, ApiError> {
    let known = device_profiles::get(&state, &name)?;
    Ok(Json(details(&known)))
}

/// Body of `POST /device-profiles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"toml": "format = 1\nname = \"my-thermostat\"\nversion = 1\n..."}))]
pub struct DeviceProfileCreate {
    /// The profile in the TOML format (see `GET /device-profiles/heating-sim` for an example).
    pub toml: String,
}

/// Add a device profile (admins). Validated as the server's own are; a new version of a posted profile replaces
/// it for the zones that name it.
#[utoipa::path(
    post, path = "/device-profiles", tag = "device-profiles",
    request_body = DeviceProfileCreate,
    responses(
        (status = 201, description = "Profile added", body = DeviceProfileDetails),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 409, description = "A built-in or folder profile's name, or this name and version exist", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid profile; the detail names the field", body = ErrorBody,
         example = json!({"detail": "toml: points.target.step: must be above 0"})),
    )
)]
async fn create_profile(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<DeviceProfileCreate>,
) -> Result<(StatusCode, Json<DeviceProfileDetails>), ApiError> {
    let known = device_profiles::create(&state, &caller, body.toml).await?;
    Ok((StatusCode::CREATED, Json(details(&known))))
}

/// Body of `POST /device-profiles/probe`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"host": "10.20.0.15", "port": 502, "unit_id": 1, "profile": "relay-coil"}))]
pub struct ProbeBody {
    /// The device's host (within `DEVICE_NETWORKS` when set).
    pub host: String,
    #[serde(deserialize_with = "port")]
    #[schema(value_type = u16, minimum = 1, maximum = 65535)]
    pub port: u16,
    /// Default 1.
    #[serde(default, deserialize_with = "unit")]
    #[schema(value_type = Option<u8>, default = 1, minimum = 0, maximum = 255)]
    pub unit_id: Option<u8>,
    pub profile: String,
}

fn port<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let p = whole_number(d, 1, 65535, "a port number 1..=65535")?;
    p.and_then(|p| u16::try_from(p).ok()).ok_or_else(|| serde::de::Error::custom("a port number 1..=65535"))
}

fn unit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    Ok(whole_number(d, 0, 255, "a unit id 0..=255")?.and_then(|u| u8::try_from(u).ok()))
}

/// One point of a probe.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbePointOut {
    #[schema(example = "air_temperature")]
    pub point: String,
    /// `table address type`, e.g. `input 0 int16`.
    #[schema(example = "input 0 int16")]
    pub location: String,
    /// The registers (or bits) as read, e.g. `input 0 [0x0802]`; null when its request failed.
    pub raw: Option<String>,
    /// The decoded value (flags as 0/1), when plausible.
    pub value: Option<f64>,
    /// Why there is no value: the request's exception, or why the value cannot be true.
    pub error: Option<String>,
}

/// What a probe found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeOut {
    pub profile: String,
    /// Whether every point decoded to a plausible value.
    pub fits: bool,
    pub points: Vec<ProbePointOut>,
}

/// Read every point of a profile once from a device and show raw and decoded values (admins): check a profile
/// before registering a zone with it.
#[utoipa::path(
    post, path = "/device-profiles/probe", tag = "device-profiles",
    request_body = ProbeBody,
    responses(
        (status = 200, description = "Every point, raw and decoded", body = ProbeOut),
        (status = 400, description = "Body is not JSON", body = ErrorBody),
        (status = 415, description = "Body not sent as application/json", body = ErrorBody),
        (status = 422, description = "Invalid field (host outside DEVICE_NETWORKS, unknown profile)", body = ErrorBody),
        (status = 503, description = "The device did not answer", body = ErrorBody),
    )
)]
async fn probe_device(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(body): Json<ProbeBody>,
) -> Result<Json<ProbeOut>, ApiError> {
    let request =
        ProbeRequest { host: body.host, port: body.port, unit_id: body.unit_id.unwrap_or(1), profile: body.profile };
    let report = device_profiles::probe(&state, &caller, request).await?;
    Ok(Json(ProbeOut {
        fits: report.fits(),
        profile: report.profile,
        points: report
            .points
            .into_iter()
            .map(|p| ProbePointOut {
                point: p.point.to_string(),
                location: format!("{} {} {}", p.table, p.address, p.data_type),
                raw: p.raw.map(|r| r.to_string()),
                value: p.value.as_ref().ok().copied(),
                error: p.value.err(),
            })
            .collect(),
    }))
}
