//! `GET /status`: what the building looks like now. Per zone: connection health, newest reading, the target in
//! force and why, a manual hold, the last command; plus the poller's and the control job's latest cycle, the
//! outdoor temperature from the weather service, and the server clock (simulated in the demo).

use axum::extract::State;
use chrono::{DateTime, Utc};
use heating_core::control::{Decision, Rule};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zone_client::HealthState;

use super::commands::CommandOut;
use super::control::HoldOut;
use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::model::ZoneModelOut;
use crate::app::AppState;
use crate::fleet::{Live, endpoint_of};
use crate::jobs::control::zone_strategy;
use crate::jobs::learn::model_in_use;
use crate::jobs::{ControlReport, LearnReport, PollReport};
use crate::storage::ZoneId;
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_status))
}

/// The whole building.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    /// Server clock (simulated time in the demo).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub now: DateTime<Utc>,
    /// Simulated seconds per real second (1 on the wall clock).
    pub clock_scale: f64,
    /// Site-local offset from UTC now, minutes (follows daylight saving when `site_timezone` is set).
    pub site_utc_offset_minutes: i32,
    /// The site's IANA time zone (`SITE_TIMEZONE`), or null for a fixed offset.
    pub site_timezone: Option<String>,
    /// Real seconds between polls and between control runs.
    pub poll_interval_s: f64,
    pub control_interval_s: f64,
    pub poller: Option<PollReport>,
    pub control: Option<ControlReport>,
    /// The learning job's latest run (model fits and occupancy relearned from the database).
    pub learning: Option<LearnReport>,
    pub weather: WeatherStatus,
    pub zones: Vec<ZoneStatus>,
}

/// Outdoor conditions from the weather service.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeatherStatus {
    /// `weatherapi`, `open-meteo` or `simulated`.
    pub provider: String,
    pub location: Option<String>,
    /// Outdoor temperature now, °C.
    pub outdoor_c: Option<f64>,
    /// Lowest and highest forecast temperature over the next 24 hours, °C.
    pub next_24h_min_c: Option<f64>,
    pub next_24h_max_c: Option<f64>,
    pub stale: bool,
    pub age_seconds: Option<u64>,
    /// Why there is no forecast, if there is none.
    pub error: Option<String>,
}

/// Connection health.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `unknown` (not polled yet), `online`, `degraded`, `offline`, or `no_device` (no Modbus endpoint).
    pub state: String,
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Seconds until the next reconnection attempt, while waiting.
    pub retry_in_s: Option<f64>,
}

/// The newest reading the poller took.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveReadingOut {
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
    pub temperature: f64,
    /// The target the device holds, °C.
    pub target_temp: f64,
    pub occupancy: bool,
    pub heater_on: bool,
    pub energy_wh: u32,
    pub outdoor_temp: f64,
    pub heater_power_w: u16,
}

/// The control decision in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveOut {
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: DateTime<Utc>,
    /// The target control wants, °C; null when it skipped (no fresh data).
    pub target_temp: Option<f64>,
    /// Reactive strategy: `manual_hold`, `schedule`, `occupied`, `unoccupied`, or `skipped`. Other strategies:
    /// the strategy's name (`constant`, `scheduled`, `predictive`), or `skipped`.
    pub rule: String,
    /// In words, e.g. `occupied: occupied_temp 21.0 °C; weather: outdoor 22.0 °C above 21.0 °C, -1.0 K`.
    pub reason: String,
    /// The weather adjustment applied, K (0 when none).
    pub weather_adjustment_k: f64,
}

/// One zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneStatus {
    pub id: ZoneId,
    pub name: String,
    /// `host:port unit N`, or null without a device.
    pub endpoint: Option<String>,
    pub health: HealthOut,
    pub reading: Option<LiveReadingOut>,
    pub active: Option<ActiveOut>,
    pub hold: Option<HoldOut>,
    pub last_command: Option<CommandOut>,
    /// The control strategy of the zone: its `control_strategy` preference, else the server's `CONTROL_STRATEGY`
    /// (`constant`, `reactive`, `scheduled` or `predictive`).
    pub strategy: String,
    /// When the predictive controller's current plan starts heating for the next expected occupancy; null for
    /// other strategies, or when no preheat is planned within its horizon.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub planned_preheat_start: Option<DateTime<Utc>>,
    /// The thermal model control uses for this zone: `source` `identified` (the latest good fit of the zone's own
    /// readings, refitted every 6 hours) or `fallback` (until a fit is good); null without a device.
    pub model: Option<ZoneModelOut>,
    /// When the model in use was fitted (server clock); null for the fallback.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub model_fitted_at: Option<DateTime<Utc>>,
}

fn active_of(live: &Live) -> Option<ActiveOut> {
    if let Some((at, out)) = &live.control_output {
        return Some(ActiveOut {
            decided_at: *at,
            target_temp: out.target.map(|t| t.celsius()),
            rule: if out.target.is_some() { live.strategy.map_or("skipped", |s| s.as_str()) } else { "skipped" }.into(),
            reason: out.reason.clone(),
            weather_adjustment_k: 0.0,
        });
    }
    let d = live.decision.as_ref()?;
    Some(match &d.decision {
        Decision::Skip { why } => ActiveOut {
            decided_at: d.at,
            target_temp: None,
            rule: "skipped".into(),
            reason: why.clone(),
            weather_adjustment_k: 0.0,
        },
        Decision::Target { target, reason, .. } => ActiveOut {
            decided_at: d.at,
            target_temp: Some(target.celsius()),
            rule: match reason.rule {
                Rule::ManualHold { .. } => "manual_hold",
                Rule::Schedule { .. } => "schedule",
                Rule::Occupied => "occupied",
                Rule::Unoccupied => "unoccupied",
            }
            .into(),
            reason: reason.to_string(),
            weather_adjustment_k: reason.weather.map_or(0.0, |w| w.delta_k),
        },
    })
}

async fn weather_status(state: &AppState) -> WeatherStatus {
    let provider = state.weather.provider_kind().to_string();
    match state.weather.site_forecast().await {
        Ok(served) => {
            let now = state.clock.now();
            let f = &served.forecast;
            let next: Vec<f64> = f
                .hourly
                .iter()
                .filter(|h| h.time >= now && h.time <= now + chrono::Duration::hours(24))
                .map(|h| h.temperature_c)
                .collect();
            WeatherStatus {
                provider,
                location: Some(f.location.name.clone()),
                outdoor_c: f.temperature_at(now).or(f.current.as_ref().map(|c| c.temperature_c)),
                next_24h_min_c: next.iter().copied().reduce(f64::min),
                next_24h_max_c: next.iter().copied().reduce(f64::max),
                stale: served.stale,
                age_seconds: Some(served.age_seconds),
                error: None,
            }
        }
        Err(e) => WeatherStatus {
            provider,
            location: state.weather.default_location().map(|l| l.as_str().to_string()),
            outdoor_c: None,
            next_24h_min_c: None,
            next_24h_max_c: None,
            stale: false,
            age_seconds: None,
            error: Some(e.public_message()),
        },
    }
}

/// Live status of every zone, the jobs and the weather.
#[utoipa::path(
    get, path = "/status", tag = "status",
    responses(
        (status = 200, description = "Live status", body = StatusOut),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
async fn get_status(State(state): State<AppState>) -> Result<Json<StatusOut>, ApiError> {
    let zones = state.storage.list_zones().await?;
    let mut out = Vec::with_capacity(zones.len());
    for zone in zones {
        let runtime = state.fleet.get(zone.id);
        let live = runtime.as_ref().map(|rt| rt.live().clone()).unwrap_or_default();
        let endpoint = endpoint_of(&zone);
        let health = match (&endpoint, &live.health) {
            (None, _) => HealthOut {
                state: "no_device".into(),
                last_seen: None,
                last_error: None,
                consecutive_failures: 0,
                retry_in_s: None,
            },
            (Some(_), None) => HealthOut {
                state: "unknown".into(),
                last_seen: None,
                last_error: None,
                consecutive_failures: 0,
                retry_in_s: None,
            },
            (Some(_), Some(h)) => HealthOut {
                state: match h.state {
                    HealthState::Unknown => "unknown",
                    HealthState::Online => "online",
                    HealthState::Degraded => "degraded",
                    HealthState::Offline => "offline",
                }
                .into(),
                last_seen: h.last_seen,
                last_error: h.last_error.clone(),
                consecutive_failures: h.consecutive_failures,
                retry_in_s: h.retry_in_s,
            },
        };
        out.push(ZoneStatus {
            id: zone.id,
            name: zone.name.clone(),
            endpoint: endpoint.map(|e| e.to_string()),
            health,
            reading: live.reading.map(|r| LiveReadingOut {
                timestamp: r.at,
                temperature: r.snapshot.air_temperature,
                target_temp: r.snapshot.target.celsius(),
                occupancy: r.snapshot.occupied,
                heater_on: r.snapshot.heater_on,
                energy_wh: r.snapshot.energy_wh,
                outdoor_temp: r.snapshot.outdoor_temperature,
                heater_power_w: r.snapshot.heater_power_w,
            }),
            active: active_of(&live),
            hold: live.hold.map(HoldOut::from),
            last_command: live.last_command.clone().map(CommandOut::from),
            strategy: zone_strategy(&zone.preferences, state.config.control_strategy()).as_str().to_string(),
            planned_preheat_start: live.control_output.as_ref().and_then(|(_, o)| o.planned_preheat_start),
            model: runtime.as_ref().map(|rt| model_in_use(rt).into()),
            model_fitted_at: runtime.as_ref().and_then(|rt| rt.learned().model.as_ref().map(|m| m.fitted_at)),
        });
    }
    Ok(Json(StatusOut {
        now: state.clock.now(),
        clock_scale: state.clock.scale(),
        site_utc_offset_minutes: state.config.site_offset_minutes(state.clock.now()),
        site_timezone: state.config.site_timezone.map(|tz| tz.name().to_string()),
        poll_interval_s: state.config.poll_interval().as_secs_f64(),
        control_interval_s: state.config.control_interval().as_secs_f64(),
        poller: state.reports.poll(),
        control: state.reports.control(),
        learning: state.reports.learn(),
        weather: weather_status(&state).await,
        zones: out,
    }))
}
