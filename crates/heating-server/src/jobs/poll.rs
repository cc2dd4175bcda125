//! One poll cycle: read registers 0-7 of every zone (FC03, one request each) over its persistent link, with
//! bounded concurrency, and store all readings of the cycle in one transaction.
//!
//! A zone that does not answer costs at most one request deadline, and only its own slot: the others are read
//! concurrently. A zone in reconnection backoff is skipped without waiting. Nothing here grows faster than the
//! number of zones: one pass over the fleet, one batch insert.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use zone_client::ZoneError;

use crate::fleet::{LiveReading, ZoneRuntime};
use crate::metrics::ModbusOp;
use crate::state::{AppState, PollReport};
use crate::storage::NewReading;

enum Outcome {
    Read(NewReading),
    Failed,
    Skipped,
}

async fn poll_zone(state: &AppState, runtime: Arc<ZoneRuntime>) -> Outcome {
    let (result, health) = {
        let mut link = runtime.link.lock().await;
        let result = state.metrics.modbus(ModbusOp::Read, link.read(state.clock.now())).await;
        (result, link.health())
    };
    let at = state.clock.now();
    let mut live = runtime.live();
    runtime.record_health(&mut live, health, result.as_ref().err());
    match result {
        Ok(s) => {
            let reading = LiveReading { at, snapshot: s };
            live.reading = Some(reading);
            runtime.learned().occupancy.record(at, s.occupied, state.config.site_offset_minutes(at));
            Outcome::Read(reading.to_record(runtime.id))
        }
        Err(ZoneError::BackingOff(..)) => Outcome::Skipped,
        Err(_) => Outcome::Failed,
    }
}

/// Reloads the zone list if it changed, then reads every zone once.
pub async fn poll_once(state: &AppState) -> PollReport {
    let started = Instant::now();
    let started_at = state.clock.now();
    if let Err(e) = state.fleet.reload_if_dirty(&state.storage).await {
        tracing::error!("cannot reload zones: {e}");
    }
    let zones = state.fleet.all();
    let count = zones.len();
    let outcomes: Vec<Outcome> = futures::stream::iter(zones)
        .map(|rt| poll_zone(state, rt))
        .buffer_unordered(state.config.poll_concurrency)
        .collect()
        .await;
    let mut report = PollReport {
        started_at,
        duration_ms: 0.0,
        zones: count,
        ok: 0,
        failed: 0,
        skipped: 0,
        stored: 0,
        store_error: None,
    };
    let mut readings = Vec::with_capacity(count);
    for outcome in outcomes {
        match outcome {
            Outcome::Read(r) => {
                report.ok += 1;
                readings.push(r);
            }
            Outcome::Failed => report.failed += 1,
            Outcome::Skipped => report.skipped += 1,
        }
    }
    if !readings.is_empty() {
        match store(state, readings).await {
            Ok(n) => report.stored = n,
            Err(e) => {
                tracing::error!("cannot store the cycle's readings: {e}");
                report.store_error = Some("database write failed".into());
            }
        }
    }
    // The demand cap's guard acts on this cycle's readings (nothing without a cap).
    crate::jobs::guard::guard_once(state).await;
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report
}

/// Writes the cycle's readings in one transaction. If that fails because a zone was deleted during the cycle
/// (its rows would break the foreign key), the zones still present get their readings in a second attempt.
async fn store(state: &AppState, readings: Vec<NewReading>) -> Result<u64, crate::storage::StorageError> {
    match state.storage.insert_readings(&readings).await {
        Ok(n) => Ok(n),
        Err(first) => {
            let existing: std::collections::HashSet<_> =
                state.storage.list_zones().await?.into_iter().map(|z| z.id).collect();
            let kept: Vec<_> = readings.into_iter().filter(|r| existing.contains(&r.zone_id)).collect();
            state.fleet.mark_dirty();
            tracing::warn!("retrying a reading batch without deleted zones after: {first}");
            state.storage.insert_readings(&kept).await
        }
    }
}
