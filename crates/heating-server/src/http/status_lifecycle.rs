//! `/status`'s data-lifecycle parts: the maintenance jobs (schedule, next and last run) and the database's rows and
//! bytes per table.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::metrics::DatabaseStats;
use crate::services::status::MaintenanceStatus;
use crate::state::MaintenanceRun;
use crate::time::{serialize_opt_rfc3339, serialize_rfc3339};

/// The maintenance jobs (`MAINTENANCE_<JOB>_CRON`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Maintenance)]
pub struct MaintenanceOut {
    pub jobs: Vec<MaintenanceJobOut>,
}

/// One maintenance job.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MaintenanceJob)]
pub struct MaintenanceJobOut {
    /// `retention`, `occupancy_relearn`, `db_check`.
    pub name: String,
    /// The setting holding its schedule.
    pub setting: String,
    /// Its cron expression (six fields, seconds first, UTC), or null when off.
    pub schedule: Option<String>,
    /// When it runs next (server clock), or null when off.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_run: Option<DateTime<Utc>>,
    /// Since when it runs, if it runs now.
    #[serde(serialize_with = "serialize_opt_rfc3339")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub running_since: Option<DateTime<Utc>>,
    pub last_run: Option<MaintenanceRunOut>,
    /// Runs finished since start.
    pub runs: u64,
    /// Times it was due while its previous run was still running (skipped).
    pub skipped: u64,
}

/// A finished run of a maintenance job.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MaintenanceRun)]
pub struct MaintenanceRunOut {
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started: DateTime<Utc>,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub finished: DateTime<Utc>,
    /// Real time it took, milliseconds.
    pub duration_ms: f64,
    /// `ok` or `failed`.
    pub outcome: String,
    /// What it did (rows deleted per table, pages given back, the check's result), or why it failed.
    pub summary: String,
}

impl From<MaintenanceRun> for MaintenanceRunOut {
    fn from(r: MaintenanceRun) -> Self {
        Self {
            started: r.started_at,
            finished: r.finished_at,
            duration_ms: r.duration_ms,
            outcome: if r.ok { "ok" } else { "failed" }.into(),
            summary: r.summary,
        }
    }
}

impl From<Vec<MaintenanceStatus>> for MaintenanceOut {
    fn from(jobs: Vec<MaintenanceStatus>) -> Self {
        let jobs = jobs
            .into_iter()
            .map(|j| MaintenanceJobOut {
                name: j.job.name().into(),
                setting: j.job.setting().into(),
                schedule: j.schedule,
                next_run: j.next_run,
                running_since: j.record.running_since,
                last_run: j.record.last_run.map(Into::into),
                runs: j.record.runs,
                skipped: j.record.skipped,
            })
            .collect();
        Self { jobs }
    }
}

/// What the database holds, as last read (at most every 30 s; `/status` never waits for it).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DatabaseStatus)]
pub struct DatabaseOut {
    /// Seconds since these figures were read.
    pub age_s: f64,
    /// The SQLite file's size, or the total of PostgreSQL's tables, bytes.
    pub size_bytes: Option<i64>,
    pub tables: Vec<TableOut>,
}

/// One table.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TableStatus)]
pub struct TableOut {
    pub name: String,
    pub rows: i64,
    /// Bytes with its indexes; null when not known (reading them took too long).
    pub bytes: Option<i64>,
}

impl From<(std::time::Duration, DatabaseStats)> for DatabaseOut {
    fn from((age, db): (std::time::Duration, DatabaseStats)) -> Self {
        let tables = db
            .rows
            .iter()
            .map(|(name, rows)| TableOut {
                name: (*name).into(),
                rows: *rows,
                bytes: db.table_bytes.iter().find(|(t, _)| t == name).map(|(_, b)| *b),
            })
            .collect();
        Self { age_s: age.as_secs_f64(), size_bytes: db.size_bytes, tables }
    }
}
