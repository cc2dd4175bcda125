//! The live picture of the building: per zone its stored record, its live state (health, newest reading, the
//! decision in force, the hold, the last command), its strategy and the model control uses; the jobs' latest
//! reports; the outdoor temperature and the next 24 hours' range; the server clock.

use chrono::{DateTime, Utc};
use heating_predict::Strategy;
use heating_predict::model::ZoneModel;
use zone_client::Endpoint;

use super::{AppState, ServiceError, require_zone};
use crate::config::MaintenanceJob;
use crate::fleet::{Live, LiveReading, endpoint_of};
use crate::learning::model_in_use;
use crate::metrics::DatabaseStats;
use crate::state::{ControlReport, LearnReport, MaintenanceRecord, PollReport};
use crate::storage::{GroupId, InstanceRecord, Zone, ZoneId};
use crate::strategy::zone_strategy;

/// The whole building now.
#[derive(Debug, Clone)]
pub struct Status {
    /// Server clock (simulated time in the demo).
    pub now: DateTime<Utc>,
    /// Simulated seconds per real second.
    pub clock_scale: f64,
    pub site_utc_offset_minutes: i32,
    pub site_timezone: Option<String>,
    pub poll_interval: std::time::Duration,
    pub control_interval: std::time::Duration,
    pub poller: Option<PollReport>,
    pub control: Option<ControlReport>,
    pub learning: Option<LearnReport>,
    pub weather: WeatherNow,
    pub zones: Vec<ZoneStatus>,
    pub prices: crate::prices::PricesNow,
    pub demand: Option<crate::demand::DemandNow>,
    /// Every maintenance job, on or off.
    pub maintenance: Vec<MaintenanceStatus>,
    /// Rows and bytes per table as last read (`None` until the first reading, which `/status` starts but does not
    /// wait for) and how old they are.
    pub database: Option<(std::time::Duration, DatabaseStats)>,
    /// The open alerts counted.
    pub alerts: crate::alerts::AlertSummary,
    /// Every instance serving this database (one on SQLite: this one), by id.
    pub instances: Vec<InstanceNow>,
}

/// A server instance: its heartbeat and the zones it holds.
#[derive(Debug, Clone)]
pub struct InstanceNow {
    pub record: InstanceRecord,
    /// The instance answering.
    pub this: bool,
}

/// The instances: from their heartbeat rows (PostgreSQL), or this one alone.
async fn instances_now(state: &AppState) -> Result<Vec<InstanceNow>, ServiceError> {
    let me = state.fleet.identity();
    if !state.fleet.is_shared() {
        let now = state.clock.now();
        let record = InstanceRecord {
            id: me.id.clone(),
            name: me.name.clone(),
            advertised_url: me.advertised_url.clone(),
            started_at: state.fleet.started_at(),
            heartbeat_at: now,
            zones_held: i64::try_from(state.fleet.len()).unwrap_or(i64::MAX),
            alive: true,
        };
        return Ok(vec![InstanceNow { record, this: true }]);
    }
    let rows = state.storage.list_instances(state.config.instances.lease_period()).await?;
    Ok(rows.into_iter().map(|record| InstanceNow { this: record.id == me.id, record }).collect())
}

/// Zones another instance polls: their newest stored reading stands for the live one.
async fn readings_from_storage(state: &AppState, zones: &mut [ZoneStatus]) -> Result<(), ServiceError> {
    if !state.fleet.is_shared() {
        return Ok(());
    }
    let elsewhere: Vec<ZoneId> =
        zones.iter().filter(|z| z.endpoint.is_some() && !state.fleet.acts_on(z.zone.id)).map(|z| z.zone.id).collect();
    if elsewhere.is_empty() {
        return Ok(());
    }
    let latest = state.storage.latest_readings(&elsewhere).await?;
    for reading in latest {
        if let Some(z) = zones.iter_mut().find(|z| z.zone.id == reading.zone_id) {
            z.live.reading = LiveReading::from_stored(&reading);
        }
    }
    Ok(())
}

/// A maintenance job: its schedule, next and last run.
#[derive(Debug, Clone)]
pub struct MaintenanceStatus {
    pub job: MaintenanceJob,
    /// The cron expression; `None`: off.
    pub schedule: Option<String>,
    /// When it runs next (server clock); `None` when off.
    pub next_run: Option<DateTime<Utc>>,
    pub record: MaintenanceRecord,
}

/// Every maintenance job at `now`.
fn maintenance_now(state: &AppState, now: DateTime<Utc>) -> Vec<MaintenanceStatus> {
    let enabled = !state.config.background_jobs_disabled;
    let zone = state.config.site_zone();
    MaintenanceJob::ALL
        .iter()
        .map(|&job| {
            let schedule = job.schedule(&state.config.maintenance).filter(|_| enabled);
            MaintenanceStatus {
                job,
                schedule: schedule.map(|s| s.expression().to_string()),
                next_run: schedule.and_then(|s| s.next_after_in(now, &zone)),
                record: state.reports.maintenance(job),
            }
        })
        .collect()
}

/// Outdoor conditions from the weather service.
#[derive(Debug, Clone)]
pub struct WeatherNow {
    /// `weatherapi`, `open-meteo` or `simulated`.
    pub provider: String,
    pub location: Option<String>,
    pub outdoor_c: Option<f64>,
    /// Lowest and highest forecast temperature over the next 24 hours, °C.
    pub next_24h: Option<(f64, f64)>,
    pub stale: bool,
    pub age_seconds: Option<u64>,
    /// Why there is no forecast (the provider's public message), if there is none; `None` with no forecast while
    /// the first one is being fetched.
    pub error: Option<String>,
}

/// One zone now.
#[derive(Debug, Clone)]
pub struct ZoneStatus {
    pub zone: Zone,
    /// `None`: no device.
    pub endpoint: Option<Endpoint>,
    /// Empty for a zone the poller has not loaded yet, or without a device.
    pub live: Live,
    pub strategy: Strategy,
    /// The model control uses (latest good fit, else the fallback); `None` without a device.
    pub model: Option<ZoneModel>,
    /// When the model in use was fitted; `None` for the fallback.
    pub model_fitted_at: Option<DateTime<Utc>>,
}

/// The site's weather as cached now: never waits on the provider (a due refresh runs in the background).
fn weather_now(state: &AppState) -> WeatherNow {
    let provider = state.weather.provider_kind().to_string();
    let without = |error: Option<String>| WeatherNow {
        provider: provider.clone(),
        location: state.weather.default_location().map(|l| l.as_str().to_string()),
        outdoor_c: None,
        next_24h: None,
        stale: false,
        age_seconds: None,
        error,
    };
    match state.weather.cached_site_forecast() {
        // Nothing fetched yet: no forecast, and no error either.
        Ok(None) => without(None),
        Err(e) => without(Some(e.public_message())),
        Ok(Some(served)) => {
            let now = state.clock.now();
            let f = &served.forecast;
            let next: Vec<f64> = f
                .hourly
                .iter()
                .filter(|h| h.time >= now && h.time <= now + chrono::Duration::hours(24))
                .map(|h| h.temperature_c)
                .collect();
            let min = next.iter().copied().reduce(f64::min);
            let max = next.iter().copied().reduce(f64::max);
            WeatherNow {
                provider,
                location: Some(f.location.name.clone()),
                outdoor_c: f.temperature_at(now).or(f.current.as_ref().map(|c| c.temperature_c)),
                next_24h: min.zip(max),
                stale: served.stale,
                age_seconds: Some(served.age_seconds),
                error: None,
            }
        }
    }
}

/// One zone now: its record with the fleet's live state, strategy and model.
fn zone_now(state: &AppState, zone: Zone, default_strategy: Strategy) -> ZoneStatus {
    let runtime = state.fleet.get(zone.id);
    ZoneStatus {
        endpoint: endpoint_of(&zone),
        live: runtime.as_ref().map(|rt| rt.live().clone()).unwrap_or_default(),
        strategy: zone_strategy(&zone.preferences, default_strategy),
        model: runtime.as_ref().map(|rt| model_in_use(rt)),
        model_fitted_at: runtime.as_ref().and_then(|rt| rt.learned().model.as_ref().map(|m| m.fitted_at)),
        zone,
    }
}

/// The status of one zone (`NotFound` if there is none).
pub async fn zone_status(state: &AppState, id: ZoneId) -> Result<ZoneStatus, ServiceError> {
    let zone = require_zone(state, id).await?;
    let mut zones = [zone_now(state, zone, state.config.control_strategy())];
    readings_from_storage(state, &mut zones).await?;
    let [zone] = zones;
    Ok(zone)
}

/// The zones now, by id: every zone, or those of group `group` and its subgroups (read alone; `NotFound` for an
/// unknown group).
pub async fn zones_status(state: &AppState, group: Option<GroupId>) -> Result<Vec<ZoneStatus>, ServiceError> {
    let zones = match group {
        None => state.storage.list_zones().await?,
        Some(id) => super::groups::zones_of(state, id).await?,
    };
    let default_strategy = state.config.control_strategy();
    let mut zones: Vec<_> = zones.into_iter().map(|zone| zone_now(state, zone, default_strategy)).collect();
    readings_from_storage(state, &mut zones).await?;
    Ok(zones)
}

/// The live status of every zone, the jobs and the weather.
pub async fn status(state: &AppState) -> Result<Status, ServiceError> {
    status_of(state, None).await
}

/// As [`status`], with only the zones of group `group` and its subgroups when given (`NotFound` for an unknown
/// group).
pub async fn status_of(state: &AppState, group: Option<GroupId>) -> Result<Status, ServiceError> {
    let zones = zones_status(state, group).await?;
    let instances = instances_now(state).await?;
    let now = state.clock.now();
    Ok(Status {
        now,
        clock_scale: state.clock.scale(),
        site_utc_offset_minutes: state.config.site_offset_minutes(now),
        site_timezone: state.config.site_timezone.map(|tz| tz.name().to_string()),
        poll_interval: state.config.poll_interval(),
        control_interval: state.config.control_interval(),
        poller: state.reports.poll(),
        control: state.reports.control(),
        learning: state.reports.learn(),
        weather: weather_now(state),
        zones,
        prices: state.prices.now(now),
        demand: state.demand.now(now),
        maintenance: maintenance_now(state, now),
        database: super::metrics::database_stats_now(state),
        alerts: super::alerts::summary(state).await?,
        instances,
    })
}
