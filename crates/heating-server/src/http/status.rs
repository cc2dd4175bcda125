//! `GET /status`: what the building looks like now. Per zone: connection health, newest reading, the target in
//! force and why, a manual hold, the last command; plus the poller's and the control job's latest cycle, the
//! outdoor temperature from the weather service, and the server clock (simulated in the demo).

use axum::extract::State;
use chrono::{DateTime, Utc};
use heating_core::control::Rule;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zone_client::HealthState;

use super::commands::CommandOut;
use super::control::HoldOut;
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Query};
use super::model::ZoneModelOut;
use super::status_grid::{DemandStatus, PricesStatus};
use super::status_lifecycle::{DatabaseOut, MaintenanceOut};
use crate::fleet::Live;
use crate::services::groups;
use crate::services::status::{self, Status, WeatherNow, ZoneStatus as ZoneNow};
use crate::state::{AppState, ControlReport, LearnReport, PollReport};
use crate::storage::{GroupId, ZoneId};
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
    pub poller: Option<PollReportOut>,
    pub control: Option<ControlReportOut>,
    /// The learning job's latest run (model fits and occupancy relearned from the database).
    pub learning: Option<LearnReportOut>,
    pub weather: WeatherStatus,
    pub zones: Vec<ZoneStatus>,
    /// Electricity prices: source, price now, the series' end, the last error.
    pub prices: PricesStatus,
    /// The building demand cap: the cap now, the current 15-minute window's mean, the joint plan; null without one.
    pub demand: Option<DemandStatus>,
    /// The maintenance jobs: schedules, next and last runs.
    pub maintenance: MaintenanceOut,
    /// Rows and bytes per table, as last read; null until the first reading (started by this request).
    pub database: Option<DatabaseOut>,
    /// The open alerts counted (the list: `GET /alerts`).
    pub alerts: super::alerts::AlertSummaryOut,
    /// Every server instance on this database (PostgreSQL: several share the zones by leases; SQLite: this one).
    pub instances: Vec<InstanceOut>,
}

/// A server instance: the zones it holds and its last heartbeat.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceOut {
    pub id: String,
    pub name: String,
    pub advertised_url: Option<String>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    /// Last heartbeat (the database's clock).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_heartbeat: DateTime<Utc>,
    /// Zone leases held at the last heartbeat.
    pub zones_held: i64,
    /// Heartbeat younger than one lease period.
    pub alive: bool,
    /// The instance that answered this request.
    pub this: bool,
}

impl From<status::InstanceNow> for InstanceOut {
    fn from(i: status::InstanceNow) -> Self {
        let r = i.record;
        Self {
            id: r.id,
            name: r.name,
            advertised_url: r.advertised_url,
            started_at: r.started_at,
            last_heartbeat: r.heartbeat_at,
            zones_held: r.zones_held,
            alive: r.alive,
            this: i.this,
        }
    }
}

/// What the poller's latest cycle did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PollReport)]
pub struct PollReportOut {
    /// When the cycle started (server clock).
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    /// Real time the cycle took, in milliseconds.
    pub duration_ms: f64,
    /// Zones with a Modbus endpoint.
    pub zones: usize,
    /// Zones that answered with a valid reading.
    pub ok: usize,
    /// Zones that failed (exception, timeout, unreachable, invalid answer).
    pub failed: usize,
    /// Zones skipped because their link is waiting to reconnect.
    pub skipped: usize,
    /// Readings written to the database.
    pub stored: u64,
    /// Why storing failed, if it did.
    pub store_error: Option<String>,
}

impl From<PollReport> for PollReportOut {
    fn from(r: PollReport) -> Self {
        let PollReport { started_at, duration_ms, zones, ok, failed, skipped, stored, store_error } = r;
        Self { started_at, duration_ms, zones, ok, failed, skipped, stored, store_error }
    }
}

/// What the control job's latest run did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ControlReport)]
pub struct ControlReportOut {
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub zones: usize,
    /// Zones skipped for lack of fresh data.
    pub skipped: usize,
    /// Writes attempted, and how many failed.
    pub writes: usize,
    pub failed: usize,
}

impl From<ControlReport> for ControlReportOut {
    fn from(r: ControlReport) -> Self {
        let ControlReport { started_at, duration_ms, zones, skipped, writes, failed } = r;
        Self { started_at, duration_ms, zones, skipped, writes, failed }
    }
}

/// What the learning job's latest run did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LearnReport)]
pub struct LearnReportOut {
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    /// Zones whose model was refitted, and how many of those fits were good.
    pub fitted: usize,
    pub good: usize,
    /// Zones whose expected occupancy was rebuilt from the database.
    pub occupancy_rebuilt: usize,
    /// Zones the job could not learn for (database errors).
    pub failed: usize,
}

impl From<LearnReport> for LearnReportOut {
    fn from(r: LearnReport) -> Self {
        let LearnReport { started_at, duration_ms, fitted, good, occupancy_rebuilt, failed } = r;
        Self { started_at, duration_ms, fitted, good, occupancy_rebuilt, failed }
    }
}

/// Outdoor conditions from the weather service, as cached: `/status` never waits on the provider (a due refresh
/// runs in the background; until the first one arrives there is no forecast and no error).
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
    /// Why there is no forecast (the last error), if there is none.
    pub error: Option<String>,
}

/// A zone's connection health (not the server's: that is `HealthOut` at `/health`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneHealthOut {
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
    /// Wh; null when the device has no meter and no rated power is known (no estimate).
    pub energy_wh: Option<u32>,
    /// °C; null when the device has no outdoor sensor.
    pub outdoor_temp: Option<f64>,
    pub heater_power_w: u16,
    /// What the server filled in because the device has no point for it: `energy_wh` (heater on-time × rated
    /// power), `occupancy` (the zone's schedule), `heater_on` (inferred: on while the air is below the target).
    #[schema(example = json!(["energy_wh"]))]
    pub estimated: Vec<&'static str>,
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
    /// The device profile the zone's device speaks.
    pub device_profile: String,
    pub health: ZoneHealthOut,
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
    let d = live.decision.as_ref()?;
    let out = &d.output;
    // The reactive policy says which of its rules gave the target; the other strategies are one rule each.
    let (rule, weather_adjustment_k) = match (&out.target, &out.detail) {
        (None, _) => ("skipped", 0.0),
        (Some(_), Some(reason)) => (
            match reason.rule {
                Rule::ManualHold { .. } => "manual_hold",
                Rule::Schedule { .. } => "schedule",
                Rule::Occupied => "occupied",
                Rule::Unoccupied => "unoccupied",
            },
            reason.weather.map_or(0.0, |w| w.delta_k),
        ),
        (Some(_), None) => (d.strategy.as_str(), 0.0),
    };
    Some(ActiveOut {
        decided_at: d.at,
        target_temp: out.target.map(|t| t.celsius()),
        rule: rule.into(),
        reason: out.reason.clone(),
        weather_adjustment_k,
    })
}

impl From<WeatherNow> for WeatherStatus {
    fn from(w: WeatherNow) -> Self {
        Self {
            provider: w.provider,
            location: w.location,
            outdoor_c: w.outdoor_c,
            next_24h_min_c: w.next_24h.map(|(min, _)| min),
            next_24h_max_c: w.next_24h.map(|(_, max)| max),
            stale: w.stale,
            age_seconds: w.age_seconds,
            error: w.error,
        }
    }
}

fn health_out(z: &ZoneNow) -> ZoneHealthOut {
    let (state, h) = match (&z.endpoint, &z.live.health) {
        (None, _) => ("no_device", None),
        (Some(_), None) => ("unknown", None),
        (Some(_), Some(h)) => (
            match h.state {
                HealthState::Unknown => "unknown",
                HealthState::Online => "online",
                HealthState::Degraded => "degraded",
                HealthState::Offline => "offline",
            },
            Some(h),
        ),
    };
    ZoneHealthOut {
        state: state.into(),
        last_seen: h.and_then(|h| h.last_seen),
        last_error: h.and_then(|h| h.last_error.clone()),
        consecutive_failures: h.map_or(0, |h| h.consecutive_failures),
        retry_in_s: h.and_then(|h| h.retry_in_s),
    }
}

impl From<ZoneNow> for ZoneStatus {
    fn from(z: ZoneNow) -> Self {
        let live = &z.live;
        Self {
            id: z.zone.id,
            name: z.zone.name.clone(),
            endpoint: z.endpoint.as_ref().map(ToString::to_string),
            device_profile: z.zone.device_profile.clone(),
            health: health_out(&z),
            reading: live.reading.map(|r| LiveReadingOut {
                timestamp: r.at,
                temperature: r.snapshot.air_temperature,
                target_temp: r.snapshot.target.celsius(),
                occupancy: r.snapshot.occupied,
                heater_on: r.snapshot.heater_on,
                energy_wh: r.energy_known.then_some(r.snapshot.energy_wh),
                outdoor_temp: r.outdoor(),
                heater_power_w: r.snapshot.heater_power_w,
                estimated: r.estimated.names(),
            }),
            active: active_of(live),
            hold: live.hold.map(HoldOut::from),
            last_command: live.last_command.clone().map(CommandOut::from),
            strategy: z.strategy.as_str().to_string(),
            planned_preheat_start: live.decision.as_ref().and_then(|d| d.output.planned_preheat_start),
            model: z.model.map(Into::into),
            model_fitted_at: z.model_fitted_at,
        }
    }
}

/// `?group&view` of `GET /status`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusParams {
    /// Only the zones of this group and its subgroups (404 for an unknown group). Default: every zone.
    pub group: Option<GroupId>,
    /// `full` (default): a `ZoneStatus` object per zone. `compact`: the top-level fields of `full` (but `zones`),
    /// then counts, the groups, and one row per zone in `zone_rows` (about 60 bytes a zone): what a view of
    /// hundreds of zones needs.
    pub view: Option<StatusView>,
}

/// How much of each zone `GET /status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusView {
    Full,
    Compact,
}

/// `GET /status`: the full answer, or the compact one with `view=compact`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StatusAnswer {
    Full(StatusOut),
    Compact(StatusCompactOut),
}

/// The building with a row per zone (`GET /status?view=compact`).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCompactOut {
    /// `compact`.
    pub view: &'static str,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub now: DateTime<Utc>,
    pub clock_scale: f64,
    pub site_utc_offset_minutes: i32,
    pub site_timezone: Option<String>,
    pub poll_interval_s: f64,
    pub control_interval_s: f64,
    pub poller: Option<PollReportOut>,
    pub control: Option<ControlReportOut>,
    pub weather: WeatherStatus,
    pub demand: Option<DemandStatus>,
    /// The open alerts counted (the list: `GET /alerts`).
    pub alerts: super::alerts::AlertSummaryOut,
    /// The zones of the answer by what needs attention.
    pub counts: ZoneCounts,
    /// Every group (the tree; a client draws sections from it).
    pub groups: Vec<GroupBrief>,
    /// The names of `zone_rows`' columns, in order: `id`, `name`, `group_id` (null: none), `health` (`online`,
    /// `degraded`, `offline`, `unknown`, `no_device`), `air` (°C, tenths; null without a reading), `target` (the
    /// target in force, °C: the control decision's, else the device's; null without either), `flags` (a bit set:
    /// 1 offline, 2 degraded, 4 below comfort, 8 heating, 16 occupied, 32 on a manual hold), `alerts` (the zone's
    /// open alerts, active or acknowledged: `GET /alerts?zone_id=`). Columns may be added at the end: read them
    /// by name.
    #[schema(example = json!(["id", "name", "group_id", "health", "air", "target", "flags", "alerts"]))]
    #[schema(value_type = Vec<String>)]
    pub zone_columns: [&'static str; 8],
    /// One row per zone, by id.
    #[schema(value_type = Vec<Vec<serde_json::Value>>, example = json!([[1, "Room 1.01", 3, "online", 20.4, 21.0, 24, 0]]))]
    pub zone_rows: Vec<CompactZone>,
}

/// Zones by state (the summary tiles' numbers).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ZoneCounts {
    pub zones: usize,
    /// Zones with a device.
    pub with_device: usize,
    pub online: usize,
    pub offline: usize,
    pub degraded: usize,
    /// Air more than 0.5 K below the target in force.
    pub below_comfort: usize,
    pub heating: usize,
    pub occupied: usize,
    pub on_hold: usize,
    /// Rated power of the heaters running, W.
    pub heater_power_w: u64,
}

/// A group as the compact status lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBrief {
    pub id: GroupId,
    pub name: String,
    /// `site`, `building`, `floor` or `group`.
    pub kind: &'static str,
    pub parent_id: Option<GroupId>,
}

/// A zone row of the compact status: `[id, name, group_id, health, air, target, flags, alerts]`.
#[derive(Debug)]
pub struct CompactZone(ZoneId, String, Option<GroupId>, &'static str, Option<f64>, Option<f64>, u8, usize);

impl Serialize for CompactZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.0, &self.1, &self.2, &self.3, &self.4, &self.5, &self.6, &self.7).serialize(s)
    }
}

fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn compact_zone(z: &ZoneNow, alerts: usize, counts: &mut ZoneCounts) -> CompactZone {
    let f = groups::flags(z);
    let health = health_out(z).state;
    let health: &'static str = match health.as_str() {
        "online" => "online",
        "degraded" => "degraded",
        "offline" => "offline",
        "no_device" => "no_device",
        _ => "unknown",
    };
    let reading = z.live.reading.as_ref();
    let target = z
        .live
        .decision
        .as_ref()
        .and_then(|d| d.output.target)
        .map(|t| t.celsius())
        .or(reading.map(|r| r.snapshot.target.celsius()));
    counts.zones += 1;
    counts.with_device += usize::from(z.endpoint.is_some());
    counts.online += usize::from(health == "online");
    counts.offline += usize::from(f.offline);
    counts.degraded += usize::from(f.degraded);
    counts.below_comfort += usize::from(f.below_comfort);
    counts.heating += usize::from(f.heating);
    counts.occupied += usize::from(f.occupied);
    counts.on_hold += usize::from(f.hold);
    if let Some(r) = reading.filter(|r| r.snapshot.heater_on) {
        counts.heater_power_w += u64::from(r.snapshot.heater_power_w);
    }
    let bits = [f.offline, f.degraded, f.below_comfort, f.heating, f.occupied, f.hold]
        .iter()
        .enumerate()
        .fold(0u8, |acc, (i, on)| if *on { acc | (1 << i) } else { acc });
    CompactZone(
        z.zone.id,
        z.zone.name.clone(),
        z.zone.group_id,
        health,
        reading.map(|r| tenths(r.snapshot.air_temperature)),
        target.map(tenths),
        bits,
        alerts,
    )
}

/// Live status of every zone (or a group's), the jobs and the weather.
#[utoipa::path(
    get, path = "/status", tag = "status",
    params(StatusParams),
    responses(
        (status = 200, description = "Live status: a `StatusOut`, or a `StatusCompactOut` with `view=compact`",
         body = StatusAnswer),
        (status = 404, description = "No such group", body = ErrorBody),
        (status = 422, description = "group is not an integer, or view is not full or compact", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    )
)]
async fn get_status(
    State(state): State<AppState>,
    Query(params): Query<StatusParams>,
) -> Result<Json<StatusAnswer>, ApiError> {
    let s: Status = status::status_of(&state, params.group).await?;
    if params.view == Some(StatusView::Compact) {
        let mut counts = ZoneCounts::default();
        let zone_rows = s
            .zones
            .iter()
            .map(|z| compact_zone(z, s.alerts.per_zone.get(&z.zone.id).copied().unwrap_or(0), &mut counts))
            .collect();
        let groups = groups::list_briefs(&state).await?;
        return Ok(Json(StatusAnswer::Compact(StatusCompactOut {
            view: "compact",
            now: s.now,
            clock_scale: s.clock_scale,
            site_utc_offset_minutes: s.site_utc_offset_minutes,
            site_timezone: s.site_timezone,
            poll_interval_s: s.poll_interval.as_secs_f64(),
            control_interval_s: s.control_interval.as_secs_f64(),
            poller: s.poller.map(Into::into),
            control: s.control.map(Into::into),
            weather: s.weather.into(),
            demand: s.demand.map(Into::into),
            alerts: s.alerts.into(),
            counts,
            groups: groups
                .into_iter()
                .map(|g| GroupBrief { id: g.id, name: g.name, kind: g.kind.as_str(), parent_id: g.parent_id })
                .collect(),
            zone_columns: ["id", "name", "group_id", "health", "air", "target", "flags", "alerts"],
            zone_rows,
        })));
    }
    Ok(Json(StatusAnswer::Full(StatusOut {
        now: s.now,
        clock_scale: s.clock_scale,
        site_utc_offset_minutes: s.site_utc_offset_minutes,
        site_timezone: s.site_timezone,
        poll_interval_s: s.poll_interval.as_secs_f64(),
        control_interval_s: s.control_interval.as_secs_f64(),
        poller: s.poller.map(Into::into),
        control: s.control.map(Into::into),
        learning: s.learning.map(Into::into),
        weather: s.weather.into(),
        zones: s.zones.into_iter().map(Into::into).collect(),
        prices: s.prices.into(),
        demand: s.demand.map(Into::into),
        maintenance: s.maintenance.into(),
        database: s.database.map(Into::into),
        alerts: s.alerts.into(),
        instances: s.instances.into_iter().map(Into::into).collect(),
    })))
}
