//! The background jobs: the poller and the control job, each one public step (`poll_once`, `control_once`) plus a
//! loop that runs it every interval until shutdown. Their latest reports are kept for `/status`.

pub mod control;
pub mod poll;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::AppState;
pub use control::{ControlReport, control_once};
pub use poll::{PollReport, poll_once};

/// The latest report of each job.
#[derive(Debug, Default)]
pub struct JobReports {
    poll: Mutex<Option<PollReport>>,
    control: Mutex<Option<ControlReport>>,
}

impl JobReports {
    #[must_use]
    pub fn poll(&self) -> Option<PollReport> {
        self.poll.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    #[must_use]
    pub fn control(&self) -> Option<ControlReport> {
        self.control.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set_poll(&self, r: PollReport) {
        *self.poll.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
    }

    fn set_control(&self, r: ControlReport) {
        *self.control.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
    }
}

async fn every(period: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(period) => true,
    }
}

/// Polls every zone each interval until `stop` is cancelled. A cycle that overruns the interval is followed by
/// the next one at once, never by a burst.
pub async fn run_poller(state: AppState, stop: CancellationToken) {
    let period = state.config.poll_interval();
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let report = poll_once(&state).await;
        if report.failed > 0 {
            tracing::debug!(?report, "poll cycle");
        }
        state.reports.set_poll(report);
    }
}

/// Runs the control job each interval until `stop` is cancelled. The first run waits one interval, so that it
/// acts on fresh readings.
pub async fn run_control(state: AppState, stop: CancellationToken) {
    let period = state.config.control_interval();
    while every(period, &stop).await {
        let report = control_once(&state).await;
        tracing::info!(
            zones = report.zones,
            writes = report.writes,
            failed = report.failed,
            skipped = report.skipped,
            "control run"
        );
        state.reports.set_control(report);
    }
}
