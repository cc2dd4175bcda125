//! One control run: for every zone with a device, decide its target with the domain policy
//! ([`heating_core::control::decide`]) and write it when the device's target differs by 0.1 K or more.
//!
//! Inputs per zone: its preferences, its newest reading from the poller (stale after three poll intervals of
//! the server clock, so no decision is taken on old data), the site-local time, the outdoor temperature from the
//! weather service (falling back to the zone's own outdoor register) and a manual hold. Writes go through
//! [`crate::dispatch::send_target`], which records each command with its outcome. A failed write is not retried
//! here: the next run decides again and writes again if still needed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use heating_core::control::{ControlInput, Decision, ReadingView, decide};
use serde::Serialize;

use crate::app::AppState;
use crate::dispatch::send_target;
use crate::fleet::{ActiveDecision, ZoneRuntime};
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

/// Outdoor temperature per weather location (`None`: the site default), from the cached weather service.
async fn outdoor_by_location(state: &AppState, zones: &[Arc<ZoneRuntime>]) -> HashMap<Option<String>, f64> {
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
                if let Some(t) = f.forecast.temperature_at(now).or(f.forecast.current.as_ref().map(|c| c.temperature_c))
                {
                    out.insert(location, t);
                }
            }
            Err(e) => tracing::warn!(location = location.as_deref().unwrap_or("site"), "no weather for control: {e}"),
        }
    }
    out
}

/// Decides every zone's target and writes those that changed.
pub async fn control_once(state: &AppState) -> ControlReport {
    let started = Instant::now();
    let now = state.clock.now();
    let zones = state.fleet.all();
    let outdoor = outdoor_by_location(state, &zones).await;
    let stale_after = chrono::Duration::milliseconds(
        (state.config.poll_interval().as_secs_f64() * 3.0 * state.clock.scale() * 1000.0).round() as i64,
    );
    let mut report =
        ControlReport { started_at: now, duration_ms: 0.0, zones: zones.len(), skipped: 0, writes: 0, failed: 0 };
    let mut due = Vec::new();
    for rt in &zones {
        let prefs = rt.preferences();
        let mut live = rt.live();
        let input = ControlInput {
            preferences: &prefs,
            now,
            utc_offset_minutes: state.config.site_utc_offset_minutes,
            reading: live.reading.map(|r| ReadingView {
                at: r.at,
                occupied: r.snapshot.occupied,
                device_target: r.snapshot.target,
                outdoor_c: Some(r.snapshot.outdoor_temperature),
            }),
            stale_after,
            weather_outdoor_c: outdoor.get(&prefs.weather_location).copied(),
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
                }
                if *write_due {
                    due.push((rt.clone(), *target, reason.to_string()));
                }
            }
        }
        live.decision = Some(ActiveDecision { at: now, decision });
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
