//! Learning: what the controllers know of each zone, from the zone's own logged readings. The learning job
//! (`crate::jobs::learn`) runs it on a schedule; `GET /zones/{id}/model` (`crate::services::models`) asks for a fit
//! on request. Both go through [`fit_zone`], and both share the per-zone cache of fits ([`cached_fit`]).
//!
//! - **Thermal model**: a zone is refitted ([`fit_zone`]: the last [`DEFAULT_DAYS`] of readings, or the last
//!   [`MAX_DAYS`] while no good fit is known, e.g. after a mild spell in which the heater hardly ran) every hour of
//!   server-clock time until a fit is good, then every [`REFIT_EVERY`]: a room's physics changes slowly, and a fit
//!   costs about 0.2 s of CPU per zone (`examples/learn_bench.rs`). A good fit becomes the zone's model in use
//!   ([`LearnedModel`], in its [`ZoneRuntime`]) and stays in use until a newer good fit replaces it; a poor fit
//!   never replaces a good one. Until the first good fit, control uses the conservative fallback model.
//! - **Expected occupancy**: rebuilt daily from the last [`OCCUPANCY_DAYS`] of logged occupancy, aggregated in the
//!   database in 15-minute buckets; between rebuilds the poller adds each new reading.
//!
//! Both come from the database, so a restarted server has its models and schedules back at the first run of the
//! job, not after weeks of learning. Zones are fitted one at a time on the blocking pool: on a large site the job
//! takes longer, never more than one core.

use chrono::{DateTime, Duration, DurationRound, Utc};
use heating_predict::model::ZoneModel;
use heating_predict::{FitCriteria, Identification, LearnedSchedule, Sample, identify};

use crate::fleet::{LearnedModel, ZoneRuntime};
use crate::state::AppState;
use crate::storage::{HistoryQuery, Reading, StorageError, ZoneId};

/// How long a fit is reused by `GET /zones/{id}/model` (server clock).
pub const FIT_REUSED_FOR: Duration = Duration::hours(1);
/// Days of readings a fit uses by default.
pub const DEFAULT_DAYS: u32 = 3;
/// Most days of readings one fit may use.
pub const MAX_DAYS: u32 = 14;
/// Most readings loaded for one fit (two weeks of readings every 3 s), so a huge range cannot exhaust memory.
pub const MAX_READINGS: i64 = 400_000;
/// How often a zone with a good model is refitted (server clock).
pub const REFIT_EVERY: Duration = Duration::hours(6);
/// How often a zone without a good model yet is refitted (server clock).
pub const FIRST_FIT_EVERY: Duration = Duration::hours(1);
/// Days of logged occupancy the expected occupancy is learned from.
pub const OCCUPANCY_DAYS: i64 = 14;

/// Why a zone could not be learned.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The identification itself failed (a bug: it panicked).
    #[error("model identification failed: {0}")]
    Internal(String),
}

/// One-minute samples from polled readings (those with the heater state and the outdoor temperature; readings
/// posted by hand lack them): the last reading of each minute, in time order. Gaps are left as gaps.
#[must_use]
pub fn samples_of(readings: &[Reading]) -> Vec<Sample> {
    let mut samples: Vec<Sample> = Vec::new();
    let mut last_minute = None;
    for r in readings {
        let (Some(heater_on), Some(t_out)) = (r.heater_on, r.outdoor_temp) else { continue };
        if !(r.temperature.is_finite() && t_out.is_finite()) {
            continue;
        }
        let sample = Sample { at: r.ts, t_air: r.temperature, t_out, heater_on, occupied: r.occupancy };
        let minute = r.ts.timestamp().div_euclid(60);
        match samples.last_mut() {
            Some(last) if last_minute == Some(minute) => *last = sample,
            _ => samples.push(sample),
        }
        last_minute = Some(minute);
    }
    samples
}

/// Fits the zone's model to its readings of the `days` days up to `now`, with the heater's rated power `power_w`,
/// and records the result in the zone's cache of fits (and, when good, as the zone's model in use).
pub async fn fit_zone(
    state: &AppState,
    id: ZoneId,
    power_w: f64,
    days: u32,
    now: DateTime<Utc>,
) -> Result<Identification, LearnError> {
    // Up to and including a reading taken this very millisecond.
    let (from, to) = (now - Duration::days(i64::from(days)), now + Duration::milliseconds(1));
    let readings = state.storage.readings_between(id, from, to, MAX_READINGS).await?;
    let samples = samples_of(&readings);
    drop(readings);
    let fit = tokio::task::spawn_blocking(move || identify(&samples, power_w, &FitCriteria::default()))
        .await
        .map_err(|e| LearnError::Internal(e.to_string()))?;
    if let Some(rt) = state.fleet.get(id) {
        let mut learned = rt.learned();
        learned.fits.insert(days, (now, fit.clone()));
        if let (true, Some(quality)) = (fit.good, fit.quality) {
            learned.model = Some(LearnedModel { fitted_at: now, days, model: fit.model, rmse_k: quality.rmse_k });
        }
    }
    Ok(fit)
}

/// The zone's latest fit over `days`, if it was made less than [`FIT_REUSED_FOR`] before `now`.
#[must_use]
pub fn cached_fit(rt: &ZoneRuntime, days: u32, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Identification)> {
    let learned = rt.learned();
    let (at, fit) = learned.fits.get(&days)?;
    (*at <= now && now - *at < FIT_REUSED_FOR).then(|| (*at, fit.clone()))
}

/// The zone's expected occupancy learned from its logged readings of the last [`OCCUPANCY_DAYS`] days, read as
/// 15-minute buckets aligned on the quarter hour (site offsets are whole quarter hours).
pub async fn occupancy_from_storage(
    state: &AppState,
    id: ZoneId,
    now: DateTime<Utc>,
) -> Result<LearnedSchedule, LearnError> {
    let quarter = Duration::minutes(15);
    let to = (now + quarter).duration_trunc(quarter).unwrap_or(now + quarter);
    let from = to - Duration::days(OCCUPANCY_DAYS);
    let points = u32::try_from(Duration::days(OCCUPANCY_DAYS).num_minutes() / 15).unwrap_or(HistoryQuery::MAX_POINTS);
    let query = HistoryQuery::new(from, to, points).map_err(LearnError::Internal)?;
    let history = state.storage.zone_history(id, query).await?;
    let mut learned = LearnedSchedule::default();
    for b in history.buckets {
        let readings = u32::try_from(b.count).unwrap_or(u32::MAX);
        let occupied = (b.occupied_fraction * f64::from(readings)).round() as u32;
        learned.record_many(b.start, occupied, readings, state.config.site_offset_minutes(b.start));
    }
    Ok(learned)
}

/// The model the zone's controller uses: its latest good fit, else the conservative fallback for the heater's rated
/// power.
#[must_use]
pub fn model_in_use(rt: &ZoneRuntime) -> ZoneModel {
    if let Some(m) = &rt.learned().model {
        return m.model;
    }
    let rated = rt.live().reading.map_or(0.0, |r| f64::from(r.snapshot.heater_power_w));
    ZoneModel::fallback(rated)
}
