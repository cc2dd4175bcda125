//! One run of the learning job: for every zone, refit its model and relearn its occupancy when due (server clock),
//! through [`crate::learning`].
//!
//! A zone is refitted every hour until a fit is good, then every [`REFIT_EVERY`]; when the default span gives no
//! good fit and none is known yet, [`MAX_DAYS`] are tried. Its expected occupancy is learned at its first run, and
//! relearned by the maintenance job [`relearn_occupancy`] on `MAINTENANCE_OCCUPANCY_CRON` (daily by default). Zones are learned one at a time (fits run on the blocking pool), so a large site
//! costs time, never more than one core.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::fleet::ZoneRuntime;
use crate::learning::{
    DEFAULT_DAYS, FIRST_FIT_EVERY, LearnError, MAX_DAYS, REFIT_EVERY, fit_zone, occupancy_from_storage,
};
use crate::state::{AppState, LearnReport};

/// Refits and relearns every zone that is due.
pub async fn learn_once(state: &AppState) -> LearnReport {
    let started = Instant::now();
    let now = state.clock.now();
    let mut report =
        LearnReport { started_at: now, duration_ms: 0.0, fitted: 0, good: 0, occupancy_rebuilt: 0, failed: 0 };
    let zones = state.fleet.owned();
    for rt in zones {
        if let Err(e) = learn_zone(state, &rt, now, &mut report).await {
            report.failed += 1;
            tracing::warn!(zone_id = rt.id, "learning failed: {e}");
        }
    }
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

async fn learn_zone(
    state: &AppState,
    rt: &Arc<ZoneRuntime>,
    now: DateTime<Utc>,
    report: &mut LearnReport,
) -> Result<(), LearnError> {
    let due = |at: Option<DateTime<Utc>>, every| at.is_none_or(|at| now < at || now - at >= every);
    if rt.learned().occupancy_rebuilt_at.is_none() {
        relearn_zone_occupancy(state, rt, now).await?;
        report.occupancy_rebuilt += 1;
    }
    let power = rt.live().reading.map(|r| f64::from(r.snapshot.heater_power_w)).filter(|p| *p > 0.0);
    let Some(power) = power else { return Ok(()) };
    let (attempted, known) = {
        let learned = rt.learned();
        (learned.model_attempted_at, learned.model.is_some())
    };
    if !due(attempted, if known { REFIT_EVERY } else { FIRST_FIT_EVERY }) {
        return Ok(());
    }
    rt.learned().model_attempted_at = Some(now);
    let mut fit = fit_zone(state, rt.id, power, DEFAULT_DAYS, now).await?;
    report.fitted += 1;
    if !fit.good && rt.learned().model.is_none() {
        fit = fit_zone(state, rt.id, power, MAX_DAYS, now).await?;
    }
    if fit.good {
        report.good += 1;
    } else {
        tracing::debug!(zone_id = rt.id, problem = fit.problem.as_deref().unwrap_or(""), "model fit not good");
    }
    Ok(())
}

async fn relearn_zone_occupancy(state: &AppState, rt: &ZoneRuntime, now: DateTime<Utc>) -> Result<(), LearnError> {
    let occupancy = occupancy_from_storage(state, rt.id, now).await?;
    let mut learned = rt.learned();
    learned.occupancy = occupancy;
    learned.occupancy_rebuilt_at = Some(now);
    Ok(())
}

/// The maintenance job `occupancy_relearn`: every zone's expected occupancy rebuilt from the database, one zone at
/// a time; a summary of what it did.
pub async fn relearn_occupancy(state: &AppState) -> anyhow::Result<String> {
    let now = state.clock.now();
    let zones = state.fleet.owned();
    let mut failed = 0;
    for rt in &zones {
        if let Err(e) = relearn_zone_occupancy(state, rt, now).await {
            failed += 1;
            tracing::warn!(zone_id = rt.id, "occupancy not relearned: {e}");
        }
    }
    if failed > 0 && failed == zones.len() {
        anyhow::bail!("occupancy relearned for no zone ({failed} failed)");
    }
    Ok(format!("occupancy relearned for {} zones, {failed} failed", zones.len() - failed))
}
