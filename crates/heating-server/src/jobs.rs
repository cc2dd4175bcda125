//! The background jobs: the poller, the control job and the learning job, each one public step (`poll_once`,
//! `control_once`, `learn_once`) plus a loop that runs it every interval until shutdown. Their latest reports are
//! kept in [`crate::state::JobReports`] for `/status`.
//!
//! Jobs are the device-facing side of the server: driven by time, not by requests. They use the fleet, storage,
//! strategy and learning modules, never the services or HTTP.

pub mod alerts;
pub mod control;
pub mod guard;
pub mod learn;
pub mod leases;
pub mod maintenance;
pub mod poll;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;
pub use crate::state::{ControlReport, LearnReport, PollReport};
pub use alerts::alerts_once;
pub use control::control_once;
pub use learn::learn_once;
pub use maintenance::{Trigger, run_maintenance};
pub use poll::poll_once;

/// Most control writes in flight at once (control job and demand-cap guard).
const WRITE_CONCURRENCY: usize = 64;

/// A target the control side writes to a zone's device, with the reason in words.
type ControlWrite = (std::sync::Arc<crate::fleet::ZoneRuntime>, heating_core::units::Setpoint, String);

/// Sends the writes through `fleet::dispatch` as the control job (a command row each), with bounded concurrency;
/// how many failed.
async fn send_control_writes(state: &AppState, writes: Vec<ControlWrite>) -> usize {
    use futures::StreamExt;
    futures::stream::iter(writes)
        .map(|(rt, target, reason)| async move {
            let sent = crate::fleet::dispatch::send_target(
                &state.storage,
                &*state.clock,
                &rt,
                target,
                crate::storage::CommandSource::Control,
                Some(reason),
                crate::domain::Caller::CONTROL,
            );
            sent.await.is_err()
        })
        .buffer_unordered(WRITE_CONCURRENCY)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await
}

async fn every(period: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(period) => true,
    }
}

/// Polls every zone each interval until `stop` is cancelled. A cycle that overruns the interval is followed by
/// the next one at once, never by a burst. A cycle's readings are stored while the next cycle reads
/// (`jobs::poll`); on `stop`, the last store ends before this returns.
pub async fn run_poller(state: AppState, stop: CancellationToken) {
    let period = state.config.poll_interval();
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut storing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        // Waits for the previous cycle's store before it returns.
        let cycle = poll::read_cycle(&state).await;
        let state = state.clone();
        storing = Some(tokio::spawn(async move {
            let report = poll::store_cycle(&state, cycle).await;
            if report.failed > 0 {
                tracing::debug!(?report, "poll cycle");
            }
            // Every cycle's duration to the microsecond, from its start to its readings stored, for benchmarks
            // (`RUST_LOG=heating_server::poll_cycle=debug`; the histogram's buckets are too coarse for a p99).
            tracing::debug!(target: "heating_server::poll_cycle", ms = %format!("{:.3}", report.duration_ms),
                zones = report.zones, ok = report.ok, failed = report.failed, skipped = report.skipped,
                stored = report.stored, "poll cycle");
            state.metrics.job_run("poll", report.duration_ms);
            state.reports.set_poll(report);
        }));
    }
    if let Some(last) = storing
        && let Err(e) = last.await
    {
        tracing::error!("the last poll cycle's store failed: {e}");
    }
}

/// Runs the control job each interval until `stop` is cancelled. The first run waits one interval, so that it
/// acts on fresh readings.
pub async fn run_control(state: AppState, stop: CancellationToken) {
    let period = state.config.control_interval();
    while every(period, &stop).await {
        let report = control_once(&state).await;
        alerts_once(&state).await;
        tracing::info!(
            zones = report.zones,
            writes = report.writes,
            failed = report.failed,
            skipped = report.skipped,
            "control run"
        );
        state.metrics.job_run("control", report.duration_ms);
        state.reports.set_control(report);
    }
}

/// Runs the learning job until `stop` is cancelled: first after one poll interval (so the heaters' rated powers
/// are known), then every control interval; each zone is refitted when its last fit is an hour old (server clock).
pub async fn run_learner(state: AppState, stop: CancellationToken) {
    let mut wait = state.config.poll_interval().mul_f64(1.5);
    while every(wait, &stop).await {
        let report = learn_once(&state).await;
        if report.fitted > 0 || report.failed > 0 {
            tracing::info!(
                fitted = report.fitted,
                good = report.good,
                occupancy_rebuilt = report.occupancy_rebuilt,
                failed = report.failed,
                ms = report.duration_ms.round(),
                "learning run"
            );
        }
        state.metrics.job_run("learn", report.duration_ms);
        state.reports.set_learn(report);
        wait = state.config.control_interval();
    }
}
