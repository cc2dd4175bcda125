//! What every service and background job shares: [`AppState`], and the latest report of each job
//! ([`JobReports`]) that `/status` shows.
//!
//! This module only holds things; it decides nothing. It sits below the services and the jobs, so both can take an
//! `&AppState` without importing each other.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::clock::SharedClock;
use heating_weather::WeatherService;

use crate::alerts::AlertState;
use crate::config::{Config, MaintenanceJob};
use crate::demand::DemandState;
use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::prices::PriceService;
use crate::profiles::ProfileRegistry;
use crate::storage::Storage;

/// What every service and background job shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub storage: Storage,
    /// The only source of "now": readings and commands carry its timestamps (a scaled clock in demo mode).
    pub clock: SharedClock,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Live zone state: links, health, readings, decisions, holds, what was learned.
    pub fleet: Arc<Fleet>,
    /// Latest poll, control and learning reports.
    pub reports: Arc<JobReports>,
    /// Weather forecasts (cached; simulated when no provider is configured).
    pub weather: WeatherService,
    /// Electricity prices (cached; the time-of-use table unless `PRICE_SOURCE` says otherwise).
    pub prices: PriceService,
    /// The building demand cap and its guard's state (unused without `DEMAND_CAP_KW`).
    pub demand: Arc<DemandState>,
    /// Recent failed sign-ins per client address (rate limiting).
    pub sign_ins: Arc<SignInFailures>,
    /// The Prometheus metrics (the fleet holds the same).
    pub metrics: Arc<Metrics>,
    /// The device profiles zones may name (the fleet holds the same).
    pub profiles: Arc<ProfileRegistry>,
    /// The alert rules' state, the open alerts and the alert webhook.
    pub alerts: Arc<AlertState>,
}

/// What one poll cycle did.
#[derive(Debug, Clone, PartialEq)]
pub struct PollReport {
    /// When the cycle started (server clock).
    pub started_at: DateTime<Utc>,
    /// Real time from the cycle's start until its readings were stored, in milliseconds (the store overlaps the
    /// next cycle's reading: `jobs::poll`).
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

/// What one control run did.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlReport {
    pub started_at: DateTime<Utc>,
    pub duration_ms: f64,
    pub zones: usize,
    /// Zones skipped for lack of fresh data.
    pub skipped: usize,
    /// Writes attempted, and how many failed.
    pub writes: usize,
    pub failed: usize,
}

/// What one run of the learning job did.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnReport {
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

/// One finished run of a maintenance job.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceRun {
    /// Server clock.
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Real time it took.
    pub duration_ms: f64,
    pub ok: bool,
    /// What it did (rows deleted per table, pages given back, the check's result), or why it failed.
    pub summary: String,
}

/// A maintenance job's record: whether it runs now, its last run, how often it ran or was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaintenanceRecord {
    pub running_since: Option<DateTime<Utc>>,
    pub last_run: Option<MaintenanceRun>,
    pub runs: u64,
    /// Times it was due while its previous run was still running.
    pub skipped: u64,
}

/// The latest report of each job.
#[derive(Debug, Default)]
pub struct JobReports {
    poll: Mutex<Option<PollReport>>,
    control: Mutex<Option<ControlReport>>,
    learn: Mutex<Option<LearnReport>>,
    maintenance: Mutex<HashMap<MaintenanceJob, MaintenanceRecord>>,
}

fn latest<T: Clone>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn set<T>(slot: &Mutex<Option<T>>, report: T) {
    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
}

impl JobReports {
    #[must_use]
    pub fn poll(&self) -> Option<PollReport> {
        latest(&self.poll)
    }

    #[must_use]
    pub fn control(&self) -> Option<ControlReport> {
        latest(&self.control)
    }

    #[must_use]
    pub fn learn(&self) -> Option<LearnReport> {
        latest(&self.learn)
    }

    pub fn set_poll(&self, r: PollReport) {
        set(&self.poll, r);
    }

    pub fn set_control(&self, r: ControlReport) {
        set(&self.control, r);
    }

    pub fn set_learn(&self, r: LearnReport) {
        set(&self.learn, r);
    }

    /// A maintenance job's record (empty if it never ran).
    #[must_use]
    pub fn maintenance(&self, job: MaintenanceJob) -> MaintenanceRecord {
        self.maintenance.lock().unwrap_or_else(PoisonError::into_inner).get(&job).cloned().unwrap_or_default()
    }

    /// Marks `job` running since `at`, unless it already runs: then counts a skipped run and returns `false`.
    pub fn start_maintenance(&self, job: MaintenanceJob, at: DateTime<Utc>) -> bool {
        let mut all = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let record = all.entry(job).or_default();
        if record.running_since.is_some() {
            record.skipped += 1;
            return false;
        }
        record.running_since = Some(at);
        true
    }

    /// Records the end of `job`'s run.
    pub fn finish_maintenance(&self, job: MaintenanceJob, run: MaintenanceRun) {
        let mut all = self.maintenance.lock().unwrap_or_else(PoisonError::into_inner);
        let record = all.entry(job).or_default();
        record.running_since = None;
        record.last_run = Some(run);
        record.runs += 1;
    }
}

/// Failed sign-ins (a token that is unknown, revoked or expired) per client address, in a fixed window that starts
/// at the first failure: at `limit` failures (`SIGN_IN_FAILURES_PER_MINUTE`, default [`Self::LIMIT`]) within
/// [`Self::WINDOW`] the address is blocked until the window ends; a limit of 0 blocks nobody. Real time (`Instant`), not the server's clock. Memory is bounded: past [`Self::MAX_CLIENTS`] addresses,
/// finished windows are dropped, and if all are current the oldest is.
#[derive(Debug)]
pub struct SignInFailures {
    by_client: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    limit: u32,
}

impl Default for SignInFailures {
    fn default() -> Self {
        Self::new(Self::LIMIT)
    }
}

impl SignInFailures {
    pub const LIMIT: u32 = crate::config::DEFAULT_SIGN_IN_FAILURES_PER_MINUTE;

    /// Blocks an address at `limit` failures per window (0: never).
    #[must_use]
    pub fn new(limit: u32) -> Self {
        Self { by_client: Mutex::default(), limit }
    }
    pub const WINDOW: Duration = Duration::from_secs(60);
    pub const MAX_CLIENTS: usize = 10_000;

    /// How long the client must wait, if it is blocked at `now`.
    #[must_use]
    pub fn blocked_for(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let map = self.by_client.lock().unwrap_or_else(PoisonError::into_inner);
        let &(start, count) = map.get(&client)?;
        let end = start + Self::WINDOW;
        (self.limit > 0 && count >= self.limit && now < end).then(|| end - now)
    }

    /// Counts a failure of `client` at `now`; returns its failures in the current window.
    pub fn record(&self, client: IpAddr, now: Instant) -> u32 {
        let mut map = self.by_client.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= Self::MAX_CLIENTS && !map.contains_key(&client) {
            map.retain(|_, (start, _)| now < *start + Self::WINDOW);
            if map.len() >= Self::MAX_CLIENTS
                && let Some(oldest) = map.iter().min_by_key(|(_, (start, _))| *start).map(|(ip, _)| *ip)
            {
                map.remove(&oldest);
            }
        }
        let entry = map.entry(client).or_insert((now, 0));
        if now >= entry.0 + Self::WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_failures_block_after_the_limit_until_the_window_ends() {
        let f = SignInFailures::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t = Instant::now();
        for i in 1..SignInFailures::LIMIT {
            assert_eq!(f.record(a, t), i);
            assert_eq!(f.blocked_for(a, t), None);
        }
        f.record(a, t + Duration::from_secs(10));
        assert_eq!(f.blocked_for(a, t + Duration::from_secs(15)), Some(Duration::from_secs(45)));
        assert_eq!(f.blocked_for(b, t), None, "per address");
        assert_eq!(f.blocked_for(a, t + SignInFailures::WINDOW), None, "the window ended");
        assert_eq!(f.record(a, t + SignInFailures::WINDOW), 1, "a new window");
    }
}
