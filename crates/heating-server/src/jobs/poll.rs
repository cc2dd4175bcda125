//! One poll cycle: read every zone through its device profile (one request per block of the profile's read plan:
//! for `heating-sim`, one FC03 of registers 0-7) over its persistent link, with bounded concurrency, complete what
//! the device lacks (`crate::fleet::reading`), and store all readings of the cycle in one transaction.
//!
//! A reading that cannot be true (a NaN, 6553.5 °C from a wrong word order) is not stored: the link's health turns
//! degraded with an error naming the point and its raw registers, logged once by `fleet::signals`.
//!
//! Zones are read per connection: the zones behind one gateway (same host and port) one after the other on their
//! shared connection, the connections concurrently (up to `POLL_CONCURRENCY` at once); a zone alone on its
//! endpoint is a connection of its own, so it is read concurrently with all others, as before connections were
//! shared. A zone that does not answer costs at most one request deadline, and only its own connection: behind a
//! gateway, the zones that failed last time are read after the others of that gateway, so a silent unit delays
//! none of them within the cycle; it only lengthens its gateway's turn by one deadline, and only in the cycles
//! where its backoff lets it be tried. A zone in reconnection backoff is skipped without waiting. Nothing here
//! grows faster than the number of zones: one pass over the fleet, one batch insert.
//!
//! A cycle has two halves, [`read_cycle`] and [`store_cycle`]. The poller stores a cycle's readings while the next
//! cycle reads (`jobs::run_poller`), so that a period has to fit the longer of the two, not their sum: at 20,000
//! zones each takes a few hundred milliseconds. Stores still run one at a time and in order, and the next cycle
//! reads while at most one store is pending: a cycle waits for the previous store before it lets go of the cycle
//! lock, so a slow database slows the poller down instead of piling readings up in memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use zone_client::ZoneError;

use crate::domain::Page;
use crate::fleet::reading::{self, Fill};
use crate::fleet::{EnergyEstimate, ZoneRuntime};
use crate::metrics::ModbusOp;
use crate::state::{AppState, PollReport};
use crate::storage::{NewReading, ReadingFilter};

enum Outcome {
    Read(NewReading),
    Failed,
    Skipped,
}

/// A zone without an energy meter continues its estimate from the last stored counter: loaded once, at its first
/// poll. `false` if that failed (the zone is skipped this cycle rather than restarting its counter at 0).
async fn energy_ready(state: &AppState, runtime: &ZoneRuntime) -> bool {
    if runtime.profile().capabilities().energy || runtime.energy().is_some() {
        return true;
    }
    let filter = ReadingFilter { page: Page::first(1), from: None, to: None };
    match state.storage.list_zone_readings(runtime.id, filter).await {
        Ok(last) => {
            let mut energy = runtime.energy();
            energy.get_or_insert(EnergyEstimate::from_stored(last.first().and_then(|r| r.energy_wh)));
            true
        }
        Err(e) => {
            tracing::error!(zone_id = runtime.id, "cannot load the last energy counter: {e}");
            false
        }
    }
}

/// What the server fills in for a device lacking points, now.
fn fill(state: &AppState, runtime: &ZoneRuntime, at: chrono::DateTime<chrono::Utc>) -> Fill {
    let max_gap = chrono::Duration::from_std(state.config.poll_interval() * 3).unwrap_or(chrono::Duration::MAX);
    let points = &runtime.profile().points;
    if points.occupancy.is_some() && points.energy.is_some() && points.rated_power.is_some() {
        // A device that tells everything (heating-sim): nothing of the zone is needed, and nothing is cloned.
        return Fill { scheduled_occupancy: true, zone_rated_power_w: None, rated_power_point: true, max_gap };
    }
    let zone = runtime.zone();
    let local = (at + chrono::Duration::minutes(i64::from(state.config.site_offset_minutes(at)))).naive_utc();
    let scheduled_occupancy =
        zone.preferences.occupancy_schedule.as_ref().filter(|s| !s.is_empty()).is_none_or(|s| s.is_active(local));
    let rated_power_point = runtime.profile().points.rated_power.is_some();
    Fill { scheduled_occupancy, zone_rated_power_w: zone.rated_power_w, rated_power_point, max_gap }
}

async fn poll_zone(state: &AppState, runtime: Arc<ZoneRuntime>) -> Outcome {
    if !energy_ready(state, &runtime).await {
        return Outcome::Skipped;
    }
    let (result, health) = {
        let mut link = runtime.link.lock().await;
        let result = state.metrics.modbus(ModbusOp::Read, link.read_device(state.clock.now())).await;
        (result, link.health())
    };
    let at = state.clock.now();
    let mut live = runtime.live();
    runtime.record_health(&mut live, health, result.as_ref().err());
    match result {
        Ok(device) => {
            let fill = fill(state, &runtime, at);
            let reading = {
                let mut energy = runtime.energy();
                let estimate = energy.get_or_insert(EnergyEstimate::from_stored(None));
                reading::complete(at, &device.values, fill, estimate)
            };
            live.reading = Some(reading);
            if device.values.occupied.is_some() {
                // Learned occupancy learns what sensors saw, not what the schedule said.
                let occupied = reading.snapshot.occupied;
                runtime.learned().occupancy.record(at, occupied, state.config.site_offset_minutes(at));
            }
            Outcome::Read(reading.to_record(runtime.id))
        }
        Err(ZoneError::BackingOff(..)) => Outcome::Skipped,
        Err(_) => Outcome::Failed,
    }
}

/// The zones grouped by connection (device host and port), in zone order; within a group, the zones whose last
/// request failed come last.
fn by_connection(zones: Vec<Arc<ZoneRuntime>>) -> Vec<Vec<Arc<ZoneRuntime>>> {
    let mut index: HashMap<(&str, u16), usize> = HashMap::with_capacity(zones.len());
    let mut keys = Vec::with_capacity(zones.len());
    let mut groups: Vec<Vec<Arc<ZoneRuntime>>> = Vec::new();
    for rt in &zones {
        let e = rt.endpoint();
        let next = index.len();
        let g = *index.entry((e.host.as_str(), e.port)).or_insert(next);
        keys.push(g);
    }
    groups.resize_with(index.len(), Vec::new);
    drop(index);
    for (rt, g) in zones.into_iter().zip(keys) {
        groups[g].push(rt);
    }
    for group in groups.iter_mut().filter(|g| g.len() > 1) {
        // Stable: zone order otherwise.
        group.sort_by_key(|rt| rt.live().health.as_ref().is_some_and(|h| h.consecutive_failures > 0));
    }
    groups
}

/// Reads the zones of one connection, one after the other.
async fn poll_group(state: &AppState, group: Vec<Arc<ZoneRuntime>>) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(group.len());
    for rt in group {
        outcomes.push(poll_zone(state, rt).await);
    }
    outcomes
}

/// A cycle's readings, read and not yet stored; holds the store slot ([`Fleet::storing`](crate::fleet::Fleet)).
#[derive(Debug)]
pub struct ReadCycle {
    report: PollReport,
    readings: Vec<NewReading>,
    started: Instant,
    read_ms: f64,
    /// How long the cycle waited for the previous cycle's store.
    wait_ms: f64,
    storing: tokio::sync::OwnedMutexGuard<()>,
}

/// Reloads the zone list if it changed, then reads every zone once, then stores the readings: [`read_cycle`] and
/// [`store_cycle`] one after the other.
pub async fn poll_once(state: &AppState) -> PollReport {
    let cycle = read_cycle(state).await;
    store_cycle(state, cycle).await
}

/// The reading half of a cycle: reloads the zone list if it changed and reads every zone this instance holds
/// once, under the cycle lock; then waits for the previous cycle's store to end and takes the store slot before
/// it lets go of the cycle lock (so a zone given up waits for the store of what was read of it:
/// [`Fleet::quiesce`](crate::fleet::Fleet::quiesce)).
pub async fn read_cycle(state: &AppState) -> ReadCycle {
    let started = Instant::now();
    let started_at = state.clock.now();
    // A zone this instance gives up waits for the cycle reading it to end (see `jobs::leases`).
    let cycle = state.fleet.cycle.lock().await;
    if let Err(e) = state.fleet.reload_if_dirty(&state.storage).await {
        tracing::error!("cannot reload zones: {e}");
    }
    // The zones this instance holds (every zone unless several instances share the database); a zone just taken
    // over waits until its previous owner's last reading is half an interval old.
    let zones: Vec<_> = state
        .fleet
        .owned()
        .into_iter()
        .filter(|rt| state.fleet.poll_after(rt.id).is_none_or(|after| started_at >= after))
        .collect();
    let count = zones.len();
    let reading_started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(by_connection(zones))
        .map(|group| poll_group(state, group))
        .buffer_unordered(state.config.poll_concurrency)
        .flat_map(futures::stream::iter)
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
    let read_ms = reading_started.elapsed().as_secs_f64() * 1000.0;
    let waiting = Instant::now();
    let storing = state.fleet.storing.clone().lock_owned().await;
    let wait_ms = waiting.elapsed().as_secs_f64() * 1000.0;
    drop(cycle);
    ReadCycle { report, readings, started, read_ms, wait_ms, storing }
}

/// The storing half of a cycle, which may run while the next cycle reads: keeps the readings of zones whose
/// lease this instance still holds, stores them in one transaction, then runs the demand cap's guard and the
/// alert rules on them. The report's duration runs from the cycle's start to here.
pub async fn store_cycle(state: &AppState, cycle: ReadCycle) -> PollReport {
    let ReadCycle { mut report, mut readings, started, read_ms, wait_ms, storing } = cycle;
    let storing_started = Instant::now();
    if state.fleet.is_shared() && !readings.is_empty() {
        readings = fenced(state, readings).await;
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
    let store_ms = storing_started.elapsed().as_secs_f64() * 1000.0;
    // The demand cap's guard acts on this cycle's readings (nothing without a cap).
    crate::jobs::guard::guard_once(state).await;
    // The alert rules see this cycle's readings.
    crate::jobs::alerts::alerts_once(state).await;
    drop(storing);
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    // Where the cycle's time went, for benchmarks (`RUST_LOG=heating_server::poll_cycle=debug`).
    tracing::debug!(target: "heating_server::poll_cycle", read_ms = %format!("{read_ms:.3}"),
        wait_ms = %format!("{wait_ms:.3}"), store_ms = %format!("{store_ms:.3}"), "poll phases");
    report
}

/// Keeps the readings of zones whose lease this instance still holds (database clock): a zone taken over by
/// another instance meanwhile gets its readings from that one only.
async fn fenced(state: &AppState, readings: Vec<NewReading>) -> Vec<NewReading> {
    match state.storage.leases_held(&state.fleet.identity().id).await {
        Ok(held) => {
            let held: std::collections::HashSet<_> = held.into_iter().map(|g| g.zone_id).collect();
            let before = readings.len();
            let kept: Vec<_> = readings.into_iter().filter(|r| held.contains(&r.zone_id)).collect();
            if kept.len() < before {
                tracing::warn!(dropped = before - kept.len(), "readings of zones whose lease was lost not stored");
            }
            kept
        }
        Err(e) => {
            tracing::error!("cannot check the zone leases, the cycle's readings are not stored: {e}");
            Vec::new()
        }
    }
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
