//! The maintenance jobs on their cron schedules: each fires when its expression says on a controlled server clock
//! (`Trigger::ServerClock`, the same parser as tokio-cron-scheduler's), tokio-cron-scheduler fires them on the
//! wall clock, and a run due while the previous one still runs is skipped and logged.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::clock::{Clock, ManualClock};
use heating_server::config::{MaintenanceJob, parse_cron_or_off};
use heating_server::jobs::maintenance::{Trigger, run_job, run_maintenance};
use heating_server::storage::NewReading;
use heating_server::{App, AppState, Config};
use tokio_util::sync::CancellationToken;

use crate::helpers::sqlite_url;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// An application on a fresh SQLite file and `clock`, its background jobs not started (the tests drive them).
pub async fn app_on(dir: &tempfile::TempDir, clock: Arc<ManualClock>, configure: impl FnOnce(&mut Config)) -> AppState {
    let mut config =
        Config { background_jobs_disabled: true, ..Config::with_database_url(sqlite_url(&dir.path().join("m.db"))) };
    configure(&mut config);
    let app: App = heating_server::build_with_clock(config, clock).await.unwrap();
    app.state().clone()
}

/// Waits (real time, at most 10 s) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn runs(state: &AppState) -> [u64; 3] {
    let r = |job| state.reports.maintenance(job).runs;
    [r(MaintenanceJob::Retention), r(MaintenanceJob::OccupancyRelearn), r(MaintenanceJob::DbCheck)]
}

#[tokio::test]
async fn each_job_fires_when_its_expression_says_on_the_server_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-12-01T03:29:58Z")));
    let state = app_on(&dir, clock.clone(), |c| {
        c.maintenance.maintenance_retention_cron = parse_cron_or_off("0 */10 * * * *").unwrap();
        c.maintenance.maintenance_occupancy_cron = parse_cron_or_off("0 0 0 * * *").unwrap();
        c.maintenance.maintenance_db_check_cron = parse_cron_or_off("0 30 3 * * *").unwrap();
    })
    .await;
    let stop = CancellationToken::new();
    let runner = tokio::spawn(run_maintenance(state.clone(), stop.clone(), Trigger::ServerClock));
    // The trigger reads the clock every 20 ms: give it several looks before each step.
    let settle = || tokio::time::sleep(Duration::from_millis(150));
    settle().await;
    assert_eq!(runs(&state), [0, 0, 0], "nothing is due at 03:29:58");

    clock.set(at("2026-12-01T03:29:59.900Z"));
    settle().await;
    assert_eq!(runs(&state), [0, 0, 0], "nor 100 ms before 03:30");

    clock.set(at("2026-12-01T03:30:00Z"));
    until("retention and the check at 03:30:00", || runs(&state) == [1, 0, 1]).await;
    let check = state.reports.maintenance(MaintenanceJob::DbCheck).last_run.unwrap();
    assert_eq!(check.started_at, at("2026-12-01T03:30:00Z"));
    assert!(check.ok && check.summary.contains("quick_check: ok"), "{check:?}");
    let retention = state.reports.maintenance(MaintenanceJob::Retention).last_run.unwrap();
    assert!(retention.ok && retention.summary.contains("sensor_readings: 0 rows"), "{retention:?}");

    clock.set(at("2026-12-01T03:39:59Z"));
    settle().await;
    assert_eq!(runs(&state), [1, 0, 1], "nothing between");

    clock.set(at("2026-12-01T03:40:00Z"));
    until("retention at 03:40:00", || runs(&state) == [2, 0, 1]).await;

    // A jump over many retention times fires it once, like tokio-cron-scheduler after a pause.
    clock.set(at("2026-12-02T00:00:00Z"));
    until("occupancy at midnight, retention once", || runs(&state) == [3, 1, 1]).await;
    settle().await;
    assert_eq!(runs(&state), [3, 1, 1]);

    clock.set(at("2026-12-02T03:30:00Z"));
    until("the next day's check", || runs(&state) == [4, 1, 2]).await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), runner).await.unwrap().unwrap();
}

#[tokio::test]
async fn expressions_are_read_in_site_local_time() {
    for (what, configure) in [
        (
            "SITE_UTC_OFFSET_MINUTES=60",
            Box::new(|c: &mut Config| c.site_utc_offset_minutes = 60) as Box<dyn FnOnce(&mut Config)>,
        ),
        ("SITE_TIMEZONE=Europe/Berlin", Box::new(|c: &mut Config| c.site_timezone = Some(chrono_tz::Europe::Berlin))),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // Winter in Berlin: 03:30 local is 02:30 UTC.
        let clock = Arc::new(ManualClock::new(at("2026-12-01T02:29:58Z")));
        let state = app_on(&dir, clock.clone(), |c| {
            c.maintenance.maintenance_retention_cron = parse_cron_or_off("off").unwrap();
            c.maintenance.maintenance_occupancy_cron = parse_cron_or_off("off").unwrap();
            c.maintenance.maintenance_db_check_cron = parse_cron_or_off("0 30 3 * * *").unwrap();
            configure(c);
        })
        .await;
        let stop = CancellationToken::new();
        let runner = tokio::spawn(run_maintenance(state.clone(), stop.clone(), Trigger::ServerClock));
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(runs(&state), [0, 0, 0], "{what}: nothing before 03:30 local");
        clock.set(at("2026-12-01T02:30:00Z"));
        until("the check at 03:30 local", || runs(&state) == [0, 0, 1]).await;
        let check = state.reports.maintenance(MaintenanceJob::DbCheck).last_run.unwrap();
        assert_eq!(check.started_at, at("2026-12-01T02:30:00Z"), "{what}");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), runner).await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn tokio_cron_scheduler_fires_the_jobs_on_the_wall_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-12-01T00:00:00Z")));
    let state = app_on(&dir, clock, |c| {
        c.maintenance.maintenance_retention_cron = parse_cron_or_off("off").unwrap();
        c.maintenance.maintenance_occupancy_cron = parse_cron_or_off("off").unwrap();
        c.maintenance.maintenance_db_check_cron = parse_cron_or_off("* * * * * *").unwrap();
    })
    .await;
    let stop = CancellationToken::new();
    let runner = tokio::spawn(run_maintenance(state.clone(), stop.clone(), Trigger::WallClock));
    until("two checks a second apart", || runs(&state)[2] >= 2).await;
    assert_eq!(runs(&state)[..2], [0, 0], "jobs that are off never run");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), runner).await.unwrap().unwrap();
}

/// Log lines written while the test runs (a tracing subscriber for this thread).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_run_due_while_the_previous_one_runs_is_skipped_and_logged() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-12-01T00:00:00Z")));
    // One row per batch with a pause between batches: 40 expired readings keep the retention run busy a while.
    let state = app_on(&dir, clock.clone(), |c| {
        c.retention.retention_raw = heating_server::config::parse_keep("1d").unwrap();
        c.retention.retention_batch_rows = 1;
    })
    .await;
    let zone = state.storage.create_zone(&crate::lifecycle::zone_fields("Busy"), clock.now()).await.unwrap();
    let old: Vec<NewReading> = (0..40)
        .map(|i| crate::lifecycle::reading(zone.id, at("2026-11-01T00:00:00Z") + chrono::Duration::minutes(i), 0))
        .collect();
    state.storage.insert_readings(&old).await.unwrap();

    let first = tokio::spawn({
        let state = state.clone();
        async move { run_job(&state, MaintenanceJob::Retention).await }
    });
    until("the first run to start", || state.reports.maintenance(MaintenanceJob::Retention).running_since.is_some())
        .await;
    run_job(&state, MaintenanceJob::Retention).await;
    let record = state.reports.maintenance(MaintenanceJob::Retention);
    assert_eq!((record.runs, record.skipped), (0, 1), "{record:?}");
    first.await.unwrap();
    let record = state.reports.maintenance(MaintenanceJob::Retention);
    assert_eq!((record.runs, record.skipped), (1, 1), "{record:?}");
    let summary = record.last_run.unwrap().summary;
    assert!(
        summary.contains("sensor_readings: 40 rows before 2026-11-30T00:00:00.000Z deleted (41 batches"),
        "{summary}"
    );
    let metrics = state.metrics.render(&[], None).unwrap();
    assert!(metrics.contains(r#"heating_retention_deleted_rows_total{table="sensor_readings"} 40"#), "{metrics}");
    assert!(metrics.contains(r#"heating_job_duration_seconds_count{job="maintenance_retention"} 1"#), "{metrics}");
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("maintenance run skipped: the previous run is still running"), "{text}");
    assert!(text.contains("job=\"retention\"") || text.contains("job=retention"), "{text}");
}
