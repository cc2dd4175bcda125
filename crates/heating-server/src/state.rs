//! What every service and background job shares: [`AppState`], and the latest report of each job
//! ([`JobReports`]) that `/status` shows.
//!
//! This module only holds things; it decides nothing. It sits below the services and the jobs, so both can take an
//! `&AppState` without importing each other.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use heating_core::clock::SharedClock;
use heating_weather::WeatherService;

use crate::config::Config;
use crate::fleet::Fleet;
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
}

/// What one poll cycle did.
#[derive(Debug, Clone, PartialEq)]
pub struct PollReport {
    /// When the cycle started (server clock).
    pub started_at: DateTime<Utc>,
    /// Real time the cycle took, in milliseconds.
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

/// The latest report of each job.
#[derive(Debug, Default)]
pub struct JobReports {
    poll: Mutex<Option<PollReport>>,
    control: Mutex<Option<ControlReport>>,
    learn: Mutex<Option<LearnReport>>,
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
}
