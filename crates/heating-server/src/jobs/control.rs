//! One control run: for every zone with a device, decide its target with the zone's strategy and write it when
//! the device's target differs by 0.1 K or more.
//!
//! The strategy is the zone's `control_strategy` preference, else the server's `CONTROL_STRATEGY` (default
//! `reactive`). `reactive` is the domain policy ([`heating_core::control::decide`]); the others run the zone's own
//! [`heating_predict::Controller`] (kept in its [`ZoneRuntime`], rebuilt when the strategy changes) with the hourly
//! weather forecast, the default time-of-use price profile, the zone's model (its latest good fit from the
//! learning job, [`crate::jobs::learn`], else the conservative fallback for the heater's rated power), and its
//! expected occupancy: the `occupancy_schedule` preference when set (e.g. `["mon-fri 08:30-17:30"]`), else the
//! occupancy learned from the zone's logged readings.
//!
//! Inputs per zone: its preferences, its newest reading from the poller (stale after three poll intervals of
//! the server clock, so no decision is taken on old data), the site-local time, the outdoor temperature from the
//! weather service (falling back to the zone's own outdoor register) and a manual hold. Writes go through
//! [`crate::dispatch::send_target`], which records each command with its outcome. A failed write is not retried
//! here: the next run decides again and writes again if still needed.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use heating_core::control::{ControlInput, Decision, ReadingView, decide};
use heating_core::preferences::Preferences;
use heating_core::schedule::WeeklySchedule;
use heating_predict::{
    ControlContext, OccupancyForecast, PredictiveConfig, PriceProfile, Strategy, ZoneReading, controller,
};
use serde::Serialize;

use crate::app::AppState;
use crate::dispatch::send_target;
use crate::fleet::{ActiveDecision, ZoneRuntime};
use crate::jobs::learn::model_in_use;
use crate::storage::CommandSource;

/// What one control run did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ControlReport {
    #[serde(serialize_with = "crate::time::serialize_rfc3339")]
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

/// Most writes in flight at once.
const WRITE_CONCURRENCY: usize = 64;

/// What the weather service says for one location: the outdoor temperature now and the hourly forecast.
#[derive(Debug, Default)]
struct Weather {
    now_c: Option<f64>,
    forecast: heating_predict::Forecast,
}

/// Weather per location (`None`: the site default), from the cached weather service.
async fn weather_by_location(state: &AppState, zones: &[Arc<ZoneRuntime>]) -> HashMap<Option<String>, Weather> {
    let mut out = HashMap::new();
    let weather = &state.weather;
    let now = state.clock.now();
    let mut locations: Vec<Option<String>> = zones.iter().map(|z| z.preferences().weather_location).collect();
    locations.sort();
    locations.dedup();
    for location in locations {
        let served = match &location {
            None => weather.site_forecast().await,
            Some(name) => match heating_weather::LocationQuery::parse(name) {
                Ok(q) => weather.forecast(&q, weather.default_days()).await,
                Err(e) => Err(e),
            },
        };
        match served {
            Ok(f) => {
                let now_c = f.forecast.temperature_at(now).or(f.forecast.current.as_ref().map(|c| c.temperature_c));
                let points = f.forecast.hourly.iter().map(|h| (h.time, h.temperature_c)).collect();
                out.insert(location, Weather { now_c, forecast: heating_predict::Forecast::new(points) });
            }
            Err(e) => tracing::warn!(location = location.as_deref().unwrap_or("site"), "no weather for control: {e}"),
        }
    }
    out
}

/// Hysteresis of the controllers around their setpoints, in K.
const HYSTERESIS_K: f64 = 0.3;

/// The zone's strategy: its `control_strategy` preference when set, else the server's `CONTROL_STRATEGY`.
#[must_use]
pub fn zone_strategy(prefs: &Preferences, default: Strategy) -> Strategy {
    prefs.control_strategy.unwrap_or(default)
}

/// The zone's occupancy schedule from its `occupancy_schedule` preference (weekly entries such as
/// `"mon-fri 08:30-17:30"`), if set.
#[must_use]
pub fn occupancy_schedule(prefs: &Preferences) -> Option<WeeklySchedule> {
    prefs.occupancy_schedule.clone()
}

/// Decides every zone's target and writes those that changed.
pub async fn control_once(state: &AppState) -> ControlReport {
    let started = Instant::now();
    let now = state.clock.now();
    let zones = state.fleet.all();
    let weather = weather_by_location(state, &zones).await;
    let no_weather = Weather::default();
    let prices = PriceProfile::default();
    let stale_after = chrono::Duration::milliseconds(
        (state.config.poll_interval().as_secs_f64() * 3.0 * state.clock.scale() * 1000.0).round() as i64,
    );
    let mut report =
        ControlReport { started_at: now, duration_ms: 0.0, zones: zones.len(), skipped: 0, writes: 0, failed: 0 };
    let mut due = Vec::new();
    let mut expired = Vec::new();
    for rt in &zones {
        let prefs = rt.preferences();
        let strategy = zone_strategy(&prefs, state.config.control_strategy());
        let zone_weather = weather.get(&prefs.weather_location).unwrap_or(&no_weather);
        if strategy != Strategy::Reactive {
            let model = model_in_use(rt);
            let occupancy =
                OccupancyForecast::choose(occupancy_schedule(&prefs).as_ref(), Some(&rt.learned().occupancy));
            let mut live = rt.live();
            let ctx = ControlContext {
                now,
                utc_offset_minutes: state.config.site_offset_minutes(now),
                reading: live.reading.map(|r| ZoneReading {
                    at: r.at,
                    t_air: r.snapshot.air_temperature,
                    t_out: zone_weather.now_c.or(Some(r.snapshot.outdoor_temperature)),
                    occupied: r.snapshot.occupied,
                    heater_on: r.snapshot.heater_on,
                    device_target: r.snapshot.target,
                }),
                stale_after,
                preferences: &prefs,
                hold: live.hold.map(|h| h.hold),
                occupancy: &occupancy,
                forecast: &zone_weather.forecast,
                prices: &prices,
                model: &model,
                hysteresis_k: HYSTERESIS_K,
            };
            let (output, plan) = {
                let mut slot = rt.controller.lock().unwrap_or_else(PoisonError::into_inner);
                let c = slot.get_or_insert_with(|| controller(strategy, &PredictiveConfig::default()));
                if c.strategy() != strategy {
                    *c = controller(strategy, &PredictiveConfig::default());
                }
                let output = c.control(&ctx);
                (output, c.last_plan().filter(|p| p.made_at == now).map(|p| (p.clone(), model.source)))
            };
            if output.hold_expired {
                tracing::info!(zone_id = rt.id, "manual hold expired");
                live.hold = None;
                expired.push(rt.id);
            }
            match (output.target, live.reading) {
                (Some(target), Some(r)) => {
                    if (target.celsius() - r.snapshot.target.celsius()).abs() >= 0.1 - 1e-9 {
                        due.push((rt.clone(), target, output.reason.clone()));
                    }
                }
                _ => {
                    report.skipped += 1;
                    tracing::info!(zone_id = rt.id, "no control decision: {}", output.reason);
                }
            }
            live.decision = None;
            live.control_output = Some((now, output));
            live.strategy = Some(strategy);
            live.plan = plan;
            continue;
        }
        let mut live = rt.live();
        live.control_output = None;
        live.strategy = Some(strategy);
        live.plan = None;
        let input = ControlInput {
            preferences: &prefs,
            now,
            utc_offset_minutes: state.config.site_offset_minutes(now),
            reading: live.reading.map(|r| ReadingView {
                at: r.at,
                occupied: r.snapshot.occupied,
                device_target: r.snapshot.target,
                outdoor_c: Some(r.snapshot.outdoor_temperature),
            }),
            stale_after,
            weather_outdoor_c: zone_weather.now_c,
            hold: live.hold.map(|h| h.hold),
        };
        let decision = decide(&input);
        match &decision {
            Decision::Skip { why } => {
                report.skipped += 1;
                tracing::info!(zone_id = rt.id, "no control decision: {why}");
            }
            Decision::Target { target, reason, write_due, hold_expired } => {
                if *hold_expired {
                    tracing::info!(zone_id = rt.id, "manual hold expired");
                    live.hold = None;
                    expired.push(rt.id);
                }
                if *write_due {
                    due.push((rt.clone(), *target, reason.to_string()));
                }
            }
        }
        live.decision = Some(ActiveDecision { at: now, decision });
    }
    for id in expired {
        if let Err(e) = state.storage.delete_hold(id).await {
            // Restored at the next fleet reload, found expired again, and removed then.
            tracing::warn!(zone_id = id, "expired hold not removed from the database: {e}");
        }
    }
    report.writes = due.len();
    report.failed = futures::stream::iter(due)
        .map(|(rt, target, reason)| async move {
            send_target(state, &rt, target, CommandSource::Control, Some(reason)).await.is_err()
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}
