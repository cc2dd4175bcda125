//! When the maintenance jobs run: one cron expression per job, `MAINTENANCE_<JOB>_CRON`, or `off`.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--maintenance-retention-cron` | `MAINTENANCE_RETENTION_CRON` | `0 */10 * * * *` (every 10 minutes) |
//! | `--maintenance-occupancy-cron` | `MAINTENANCE_OCCUPANCY_CRON` | `0 0 0 * * *` (daily at midnight) |
//! | `--maintenance-db-check-cron` | `MAINTENANCE_DB_CHECK_CRON` | `0 30 3 * * *` (daily at 03:30:00) |
//! | `--maintenance-rollup-rebuild-cron` | `MAINTENANCE_ROLLUP_REBUILD_CRON` | `off` |
//! | `--maintenance-rollup-rebuild-days` | `MAINTENANCE_ROLLUP_REBUILD_DAYS` | `1` (the days before the run it rebuilds) |
//!
//! Six fields, seconds first: `sec min hour day-of-month month day-of-week`, evaluated in site-local time
//! (`SITE_TIMEZONE`, else `SITE_UTC_OFFSET_MINUTES`; UTC by default) on the server clock (the same parser as
//! tokio-cron-scheduler's, which runs them): `0 30 3 * * *` = 03:30:00 every day,
//! `0 */10 * * * *` = every ten minutes, `0 0 4 * * SUN` = Sundays at 04:00, `*/30 * * * * *` = every 30 seconds.
//!
//! Why retention runs every ten minutes rather than nightly: each run then has only ten minutes' worth of expired
//! rows to delete (100 zones at 5 s: 12,000 rows, a few batches), the space it frees is reused by the next ten
//! minutes of readings, and the file never swings by a day's worth of readings.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};

use super::SiteZone;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

pub const DEFAULT_RETENTION_CRON: &str = "0 */10 * * * *";
pub const DEFAULT_OCCUPANCY_CRON: &str = "0 0 0 * * *";
pub const DEFAULT_DB_CHECK_CRON: &str = "0 30 3 * * *";
pub const DEFAULT_ROLLUP_REBUILD_CRON: &str = "off";
pub const DEFAULT_ROLLUP_REBUILD_DAYS: u32 = 1;

/// A validated cron expression (six fields, seconds first), as tokio-cron-scheduler parses it.
#[derive(Clone)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
}

impl CronSchedule {
    /// The parser tokio-cron-scheduler 0.15 builds for `Job::new_async`: seconds required, day-of-month and
    /// day-of-week both to match (the classic cron's "or" is surprising).
    fn parser() -> CronParser {
        CronParser::builder().seconds(Seconds::Required).dom_and_dow(true).build()
    }

    /// The expression as written.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first time the expression matches strictly after `after` (whole seconds) in UTC, or `None` if it never
    /// will.
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_after_in(after, &SiteZone::UTC)
    }

    /// The first time the expression matches strictly after `after` (whole seconds), its fields read as the site's
    /// local time, or `None` if it never will. In a zone with daylight saving, croner follows Vixie cron: a fixed
    /// time in the hour skipped in spring runs right after the gap, a fixed time in the hour repeated in autumn runs
    /// once, and interval expressions (`*/10` minutes) match the wall clock as it is.
    #[must_use]
    pub fn next_after_in(&self, after: DateTime<Utc>, zone: &SiteZone) -> Option<DateTime<Utc>> {
        let whole = after.with_nanosecond(0).unwrap_or(after);
        match zone {
            SiteZone::Fixed(offset) => {
                self.cron.find_next_occurrence(&whole.with_timezone(offset), false).ok().map(|t| t.to_utc())
            }
            SiteZone::Named(tz) => {
                self.cron.find_next_occurrence(&whole.with_timezone(tz), false).ok().map(|t| t.to_utc())
            }
        }
    }
}

impl FromStr for CronSchedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expression = s.trim().to_string();
        let fields = expression.split_whitespace().count();
        if fields != 6 {
            return Err(format!(
                "{s:?} has {fields} fields: expected six, seconds first (sec min hour day month weekday), \
                 e.g. \"0 30 3 * * *\" for 03:30:00 every day, or off"
            ));
        }
        let cron =
            Self::parser().parse(&expression).map_err(|e| format!("{s:?} is not a valid cron expression: {e}"))?;
        let schedule = Self { expression, cron };
        // An expression that can never match (`0 0 0 31 2 *`) is refused too.
        if schedule.next_after(Utc::now()).is_none() {
            return Err(format!("{s:?} never matches"));
        }
        Ok(schedule)
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.expression)
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

/// A job's schedule setting: a cron expression, or `off` (`None`: the job does not run).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSchedule(pub Option<CronSchedule>);

/// A cron expression, or `off`.
pub fn parse_cron_or_off(s: &str) -> Result<JobSchedule, String> {
    if s.trim().eq_ignore_ascii_case("off") { Ok(JobSchedule(None)) } else { s.parse().map(|c| JobSchedule(Some(c))) }
}

/// A maintenance job. The list is the one place a job is named: `ALL`, its name and setting, its schedule; the
/// jobs module runs each (one arm per job in `jobs::maintenance::run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintenanceJob {
    /// Deletes history older than the retention settings, then gives space back (SQLite).
    Retention,
    /// Relearns every zone's expected occupancy from its logged readings.
    OccupancyRelearn,
    /// Checks the database's consistency.
    DbCheck,
    /// Recomputes the rollups of the last `MAINTENANCE_ROLLUP_REBUILD_DAYS` from the raw readings.
    RollupRebuild,
}

impl MaintenanceJob {
    pub const ALL: &'static [Self] = &[Self::Retention, Self::OccupancyRelearn, Self::DbCheck, Self::RollupRebuild];

    /// (name as logged and shown at `/status`, setting, schedule) of each job.
    fn row(self, s: &MaintenanceSettings) -> (&'static str, &'static str, Option<&CronSchedule>) {
        match self {
            Self::Retention => ("retention", "MAINTENANCE_RETENTION_CRON", s.retention()),
            Self::OccupancyRelearn => ("occupancy_relearn", "MAINTENANCE_OCCUPANCY_CRON", s.occupancy()),
            Self::DbCheck => ("db_check", "MAINTENANCE_DB_CHECK_CRON", s.db_check()),
            Self::RollupRebuild => ("rollup_rebuild", "MAINTENANCE_ROLLUP_REBUILD_CRON", s.rollup_rebuild()),
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        self.row(&MaintenanceSettings::default()).0
    }

    /// The setting holding its schedule.
    #[must_use]
    pub fn setting(self) -> &'static str {
        self.row(&MaintenanceSettings::default()).1
    }

    /// When it runs; `None`: off.
    #[must_use]
    pub fn schedule(self, settings: &MaintenanceSettings) -> Option<&CronSchedule> {
        self.row(settings).2
    }
}

/// When each maintenance job runs (flattened into [`super::Config`]).
#[derive(Debug, Clone, clap::Args)]
pub struct MaintenanceSettings {
    /// When the retention job deletes expired history (cron, six fields, seconds first, site-local time; or off).
    #[arg(long, env = "MAINTENANCE_RETENTION_CRON", default_value = DEFAULT_RETENTION_CRON,
          value_parser = parse_cron_or_off)]
    pub maintenance_retention_cron: JobSchedule,
    /// When every zone's expected occupancy is relearned from the logged readings (cron, or off: learned once at
    /// start only).
    #[arg(long, env = "MAINTENANCE_OCCUPANCY_CRON", default_value = DEFAULT_OCCUPANCY_CRON,
          value_parser = parse_cron_or_off)]
    pub maintenance_occupancy_cron: JobSchedule,
    /// When the database is checked (SQLite `PRAGMA quick_check`, PostgreSQL's indexes and counters).
    #[arg(long, env = "MAINTENANCE_DB_CHECK_CRON", default_value = DEFAULT_DB_CHECK_CRON,
          value_parser = parse_cron_or_off)]
    pub maintenance_db_check_cron: JobSchedule,
    /// When the rollups of the last `--maintenance-rollup-rebuild-days` are rebuilt from the raw readings.
    #[arg(long, env = "MAINTENANCE_ROLLUP_REBUILD_CRON", default_value = DEFAULT_ROLLUP_REBUILD_CRON,
          value_parser = parse_cron_or_off)]
    pub maintenance_rollup_rebuild_cron: JobSchedule,
    /// Days before each rollup rebuild run that it rebuilds.
    #[arg(long, env = "MAINTENANCE_ROLLUP_REBUILD_DAYS", default_value_t = DEFAULT_ROLLUP_REBUILD_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub maintenance_rollup_rebuild_days: u32,
}

impl MaintenanceSettings {
    #[must_use]
    pub fn retention(&self) -> Option<&CronSchedule> {
        self.maintenance_retention_cron.0.as_ref()
    }

    #[must_use]
    pub fn occupancy(&self) -> Option<&CronSchedule> {
        self.maintenance_occupancy_cron.0.as_ref()
    }

    #[must_use]
    pub fn db_check(&self) -> Option<&CronSchedule> {
        self.maintenance_db_check_cron.0.as_ref()
    }

    #[must_use]
    pub fn rollup_rebuild(&self) -> Option<&CronSchedule> {
        self.maintenance_rollup_rebuild_cron.0.as_ref()
    }
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        let cron = |s: &str| parse_cron_or_off(s).unwrap_or(JobSchedule(None));
        Self {
            maintenance_retention_cron: cron(DEFAULT_RETENTION_CRON),
            maintenance_occupancy_cron: cron(DEFAULT_OCCUPANCY_CRON),
            maintenance_db_check_cron: cron(DEFAULT_DB_CHECK_CRON),
            maintenance_rollup_rebuild_cron: cron(DEFAULT_ROLLUP_REBUILD_CRON),
            maintenance_rollup_rebuild_days: DEFAULT_ROLLUP_REBUILD_DAYS,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Config;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn expressions_give_their_next_times() {
        let s: CronSchedule = "0 30 3 * * *".parse().unwrap();
        assert_eq!(s.next_after(at("2026-12-01T03:29:59.500Z")), Some(at("2026-12-01T03:30:00Z")));
        assert_eq!(s.next_after(at("2026-12-01T03:30:00Z")), Some(at("2026-12-02T03:30:00Z")), "strictly after");
        let s: CronSchedule = "0 */10 * * * *".parse().unwrap();
        assert_eq!(s.next_after(at("2026-12-01T10:05:00Z")), Some(at("2026-12-01T10:10:00Z")));
        let s: CronSchedule = "0 0 4 * * SUN".parse().unwrap();
        assert_eq!(s.next_after(at("2026-12-01T00:00:00Z")), Some(at("2026-12-06T04:00:00Z")));
    }

    #[test]
    fn expressions_read_their_fields_as_site_local_time() {
        use chrono::FixedOffset;
        let fixed = |secs| SiteZone::Fixed(FixedOffset::east_opt(secs).unwrap());
        let s: CronSchedule = "0 30 3 * * *".parse().unwrap();
        // 03:30 at UTC+1 is 02:30 UTC.
        assert_eq!(s.next_after_in(at("2026-12-01T01:00:00Z"), &fixed(3600)), Some(at("2026-12-01T02:30:00Z")));
        assert_eq!(s.next_after_in(at("2026-12-01T02:30:00Z"), &fixed(3600)), Some(at("2026-12-02T02:30:00Z")));
        // West of UTC the local day starts later: 03:30 at UTC-5 is 08:30 UTC.
        assert_eq!(s.next_after_in(at("2026-12-01T04:00:00Z"), &fixed(-5 * 3600)), Some(at("2026-12-01T08:30:00Z")));
        // Day-of-week is the local day: Sunday 00:30 at UTC+2 is Saturday 22:30 UTC.
        let s: CronSchedule = "0 30 0 * * SUN".parse().unwrap();
        assert_eq!(s.next_after_in(at("2026-12-01T00:00:00Z"), &fixed(7200)), Some(at("2026-12-05T22:30:00Z")));
    }

    #[test]
    fn a_named_zone_follows_daylight_saving_as_vixie_cron_does() {
        let berlin = SiteZone::Named(chrono_tz::Europe::Berlin);
        let s: CronSchedule = "0 30 3 * * *".parse().unwrap();
        // Winter (UTC+1) and summer (UTC+2).
        assert_eq!(s.next_after_in(at("2026-12-01T00:00:00Z"), &berlin), Some(at("2026-12-01T02:30:00Z")));
        assert_eq!(s.next_after_in(at("2026-07-01T00:00:00Z"), &berlin), Some(at("2026-07-01T01:30:00Z")));
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC). 02:30 does not exist that night: it runs right
        // after the gap, at 03:00 CEST.
        let s: CronSchedule = "0 30 2 * * *".parse().unwrap();
        assert_eq!(s.next_after_in(at("2026-03-28T23:00:00Z"), &berlin), Some(at("2026-03-29T01:00:00Z")));
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC). 02:30 happens twice: it runs once.
        let first = s.next_after_in(at("2026-10-24T23:00:00Z"), &berlin).unwrap();
        assert_eq!(first, at("2026-10-25T00:30:00Z"));
        assert_eq!(s.next_after_in(first, &berlin), Some(at("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn a_bad_expression_is_refused_naming_the_setting() {
        for (flag, bad) in [
            ("--maintenance-retention-cron", "0 30 3 * *"),
            ("--maintenance-db-check-cron", "0 61 3 * * *"),
            ("--maintenance-occupancy-cron", "every day"),
            ("--maintenance-rollup-rebuild-cron", "0 0 0 31 2 *"),
        ] {
            let err = Config::try_parse_from(["heating-server", flag, bad]).unwrap_err().to_string();
            assert!(err.contains(flag), "{flag} {bad}: {err}");
        }
        let err = Config::try_parse_from(["heating-server", "--maintenance-retention-cron", "0 30 3 * *"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected six, seconds first"), "{err}");
        // The error names the variable too (clap shows it as the value's name).
        let err = Config::try_parse_from(["heating-server", "--maintenance-db-check-cron", "0 30 25 * * *"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MAINTENANCE_DB_CHECK_CRON") && err.contains("not a valid cron expression"), "{err}");
    }

    #[test]
    fn every_job_has_a_distinct_name_and_setting() {
        let names: std::collections::HashSet<_> = MaintenanceJob::ALL.iter().map(|j| j.name()).collect();
        let settings: std::collections::HashSet<_> = MaintenanceJob::ALL.iter().map(|j| j.setting()).collect();
        assert_eq!((names.len(), settings.len()), (MaintenanceJob::ALL.len(), MaintenanceJob::ALL.len()));
        assert!(settings.iter().all(|s| s.starts_with("MAINTENANCE_") && s.ends_with("_CRON")));
    }

    #[test]
    fn defaults_are_the_documented_ones_and_off_turns_a_job_off() {
        let c = Config::try_parse_from(["heating-server"]).unwrap().maintenance;
        assert_eq!(c.retention().map(CronSchedule::expression), Some(DEFAULT_RETENTION_CRON));
        assert_eq!(c.occupancy().map(CronSchedule::expression), Some(DEFAULT_OCCUPANCY_CRON));
        assert_eq!(c.db_check().map(CronSchedule::expression), Some(DEFAULT_DB_CHECK_CRON));
        assert!(c.rollup_rebuild().is_none());
        let d = MaintenanceSettings::default();
        assert_eq!((d.retention(), d.occupancy(), d.db_check()), (c.retention(), c.occupancy(), c.db_check()));
        let off = Config::try_parse_from(["heating-server", "--maintenance-retention-cron", "OFF"]).unwrap();
        assert!(off.maintenance.retention().is_none());
    }
}
