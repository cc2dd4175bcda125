//! The maintenance jobs ([`MaintenanceJob`]: retention, occupancy relearning, the database check), each run when
//! its cron expression (`MAINTENANCE_<JOB>_CRON`) says, logged with what it did, skipped (and logged) while its
//! previous run is still running, and recorded for `/status` and the metrics.
//!
//! Two triggers, one runner. On the wall clock ([`Trigger::WallClock`], the binary) the jobs are
//! tokio-cron-scheduler jobs, the scheduler the design names; on any other server clock ([`Trigger::ServerClock`]:
//! the demo's scaled clock, tests' manual clock) the same expressions, parsed by the same parser
//! ([`CronSchedule`], croner with tokio-cron-scheduler's options), are evaluated against `AppState.clock`, so a
//! job follows the server's time like everything else it records. Expressions are read in site-local time
//! ([`SiteZone`]); with a named zone (daylight saving) the wall clock is evaluated the server-clock way too, since
//! tokio-cron-scheduler keeps one fixed offset per job. Either trigger only sends the job to
//! [`run_maintenance`], which owns the runs: one task per run in its `JoinSet`, stopped with it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use super::learn::relearn_occupancy;
use crate::config::{CronSchedule, MaintenanceJob, SiteZone};
use crate::state::{AppState, MaintenanceRun};
use crate::storage::Retained;

/// Pause between two retention batches: the poller's insert, waiting on SQLite's busy handler, gets the write lock
/// in it.
pub const RETENTION_PAUSE: Duration = Duration::from_millis(20);
/// Free pages given back per step (4 MiB at the default page size), and at most per run.
const RECLAIM_STEP_PAGES: i64 = 1024;
const RECLAIM_MAX_PAGES: i64 = 4 * 1024 * 1024;
const RECLAIM_PAUSE: Duration = Duration::from_millis(10);
/// Largest SQLite file the retention job switches to incremental auto-vacuum itself: its one `VACUUM` rewrites the
/// file holding the write lock, and a poll cycle must not wait more than about 50 ms for a retention run (a VACUUM
/// rewrote 53 MiB in 0.73 s on the project's 2-core machine, under load: about 14 ms per MiB). A larger file is
/// switched by `heating-server vacuum` with the server stopped; until then its freed pages are reused.
pub const SWITCH_MAX_BYTES: i64 = 4 << 20;
/// How often the server-clock trigger looks at the clock (real time).
const SERVER_CLOCK_TICK: Duration = Duration::from_millis(20);

/// What fires the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// tokio-cron-scheduler, on the system's wall clock.
    WallClock,
    /// The same expressions evaluated against `AppState.clock`.
    ServerClock,
}

/// Runs one job now; its summary, or why it failed.
fn run(job: MaintenanceJob, state: &AppState) -> BoxFuture<'_, anyhow::Result<String>> {
    match job {
        MaintenanceJob::Retention => Box::pin(retention(state)),
        MaintenanceJob::OccupancyRelearn => Box::pin(relearn_occupancy(state)),
        MaintenanceJob::DbCheck => Box::pin(db_check(state)),
        MaintenanceJob::RollupRebuild => Box::pin(rollup_rebuild(state)),
    }
}

/// The jobs that are on, with their schedules.
#[must_use]
pub fn scheduled(state: &AppState) -> Vec<(MaintenanceJob, CronSchedule)> {
    MaintenanceJob::ALL
        .iter()
        .filter_map(|job| job.schedule(&state.config.maintenance).map(|s| (*job, s.clone())))
        .collect()
}

/// Runs `job` once, unless its previous run is still running (then logs the skip). The run is logged with its
/// summary and time taken, and recorded in the job reports and the metrics.
pub async fn run_job(state: &AppState, job: MaintenanceJob) {
    let started_at = state.clock.now();
    if !state.reports.start_maintenance(job, started_at) {
        tracing::warn!(job = job.name(), "maintenance run skipped: the previous run is still running");
        return;
    }
    // Records the run even if it panics or is cancelled, so the job is never left marked running.
    struct Finish<'a> {
        state: &'a AppState,
        job: MaintenanceJob,
        started_at: DateTime<Utc>,
        clock: Instant,
        outcome: Option<(bool, String)>,
    }
    impl Drop for Finish<'_> {
        fn drop(&mut self) {
            let (ok, summary) = self.outcome.take().unwrap_or((false, "interrupted (shutdown or panic)".into()));
            let duration_ms = self.clock.elapsed().as_secs_f64() * 1000.0;
            let run = MaintenanceRun {
                started_at: self.started_at,
                finished_at: self.state.clock.now(),
                duration_ms,
                ok,
                summary,
            };
            self.state.metrics.job_run(&format!("maintenance_{}", self.job.name()), duration_ms);
            self.state.reports.finish_maintenance(self.job, run);
        }
    }
    let mut finish = Finish { state, job, started_at, clock: Instant::now(), outcome: None };
    let outcome = run(job, state).await;
    let ms = finish.clock.elapsed().as_secs_f64() * 1000.0;
    finish.outcome = Some(match outcome {
        Ok(summary) => {
            tracing::info!(job = job.name(), ms = ms.round(), "maintenance run: {summary}");
            (true, summary)
        }
        Err(e) => {
            tracing::warn!(job = job.name(), ms = ms.round(), "maintenance run failed: {e:#}");
            (false, format!("{e:#}"))
        }
    });
}

/// Runs the maintenance jobs on their schedules until `stop`: `trigger` fires them, each run is its own task
/// (so a long run of one job never delays another), aborted at shutdown.
pub async fn run_maintenance(state: AppState, stop: CancellationToken, trigger: Trigger) {
    let jobs = scheduled(&state);
    if jobs.is_empty() {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<MaintenanceJob>(64);
    let mut cron = None;
    let mut triggers = JoinSet::new();
    let zone = state.config.site_zone();
    match trigger {
        Trigger::WallClock if matches!(zone, SiteZone::Named(_)) => {
            // tokio-cron-scheduler holds one offset per job, taken when the job is made: it would run an hour off
            // after a daylight-saving change. The same parser, evaluated here in the named zone, follows it.
            tracing::info!(
                "site time zone with daylight saving: the maintenance schedules follow it on the server clock"
            );
            triggers.spawn(server_clock_trigger(state.clone(), jobs.clone(), tx, stop.clone()));
        }
        Trigger::WallClock => match wall_clock_scheduler(&jobs, zone, tx).await {
            Ok(scheduler) => cron = Some(scheduler),
            Err(e) => {
                tracing::error!("the maintenance scheduler did not start: {e}");
                return;
            }
        },
        Trigger::ServerClock => {
            triggers.spawn(server_clock_trigger(state.clone(), jobs.clone(), tx, stop.clone()));
        }
    }
    let shown: Vec<String> = jobs.iter().map(|(job, s)| format!("{} \"{}\"", job.name(), s.expression())).collect();
    tracing::info!(?trigger, "maintenance jobs scheduled: {}", shown.join(", "));
    let mut runs = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(job) = rx.recv() => {
                let state = state.clone();
                runs.spawn(async move { run_job(&state, job).await });
            }
            Some(_) = runs.join_next(), if !runs.is_empty() => {}
        }
    }
    if let Some(mut scheduler) = cron
        && let Err(e) = scheduler.shutdown().await
    {
        tracing::warn!("maintenance scheduler shutdown: {e}");
    }
    triggers.shutdown().await;
    runs.shutdown().await;
}

/// A tokio-cron-scheduler with one job per schedule, read in the site's fixed offset, each sending its job to the
/// runner when it fires.
async fn wall_clock_scheduler(
    jobs: &[(MaintenanceJob, CronSchedule)],
    zone: SiteZone,
    tx: mpsc::Sender<MaintenanceJob>,
) -> Result<JobScheduler, tokio_cron_scheduler::JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    for (job, schedule) in jobs {
        let (job, tx) = (*job, tx.clone());
        let SiteZone::Fixed(offset) = zone else {
            unreachable!("a named zone is evaluated on the server clock (run_maintenance)")
        };
        let cron_job = Job::new_async_tz(schedule.expression(), offset, move |_id, _scheduler| {
            let tx = tx.clone();
            Box::pin(async move {
                // Full only if runs pile up by the dozen; the runner would skip them anyway.
                let _ = tx.try_send(job);
            })
        })?;
        scheduler.add(cron_job).await?;
    }
    scheduler.start().await?;
    Ok(scheduler)
}

/// Fires each job when the server clock reaches its next time; a clock that jumps over several times fires it
/// once (as tokio-cron-scheduler does after a pause).
async fn server_clock_trigger(
    state: AppState,
    jobs: Vec<(MaintenanceJob, CronSchedule)>,
    tx: mpsc::Sender<MaintenanceJob>,
    stop: CancellationToken,
) {
    let zone = state.config.site_zone();
    let start = state.clock.now();
    let mut next: Vec<Option<DateTime<Utc>>> = jobs.iter().map(|(_, s)| s.next_after_in(start, &zone)).collect();
    loop {
        let now = state.clock.now();
        for ((job, schedule), next) in jobs.iter().zip(next.iter_mut()) {
            if next.is_some_and(|at| now >= at) {
                let _ = tx.try_send(*job);
                *next = schedule.next_after_in(now, &zone);
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SERVER_CLOCK_TICK) => {}
        }
    }
}

/// Deletes what each retained table keeps no longer, in batches of `RETENTION_BATCH_ROWS` with a pause between
/// them, then gives the freed space back (SQLite).
async fn retention(state: &AppState) -> anyhow::Result<String> {
    let now = state.clock.now();
    let settings = &state.config.retention;
    let mut parts = Vec::new();
    for &table in Retained::ALL {
        let Some(cutoff) = table.keep(settings).cutoff(now) else { continue };
        let (deleted, batches, ms) = purge(state, table, cutoff, settings.retention_batch_rows).await?;
        parts.push(format!(
            "{}: {deleted} rows before {} deleted ({batches} batches, {ms:.0} ms)",
            table.table(),
            crate::time::rfc3339(cutoff)
        ));
    }
    if parts.is_empty() {
        parts.push("every table is kept forever".into());
    }
    let reclaimed =
        state.storage.reclaim_space(RECLAIM_MAX_PAGES, RECLAIM_STEP_PAGES, RECLAIM_PAUSE, SWITCH_MAX_BYTES).await?;
    if let Some(r) = reclaimed {
        if let Some(bytes) = r.switch_deferred_bytes {
            let mib = bytes >> 20;
            tracing::warn!(
                "the SQLite file ({mib} MiB) predates incremental auto-vacuum: freed pages are reused, not given back; \
                 to switch it, stop the server and run `heating-server vacuum` (a one-time VACUUM)"
            );
            parts.push(format!(
                "{} free pages reused by later inserts; the file ({mib} MiB) is too large to switch to incremental \
                 auto-vacuum while running: stop the server and run `heating-server vacuum`",
                r.free_pages_left
            ));
        } else {
            let converted = if r.converted { ", file switched to incremental auto-vacuum" } else { "" };
            parts.push(format!("{} free pages given back, {} left{converted}", r.pages, r.free_pages_left));
        }
    }
    Ok(parts.join("; "))
}

/// Deletes `table`'s rows older than `cutoff` in batches; (rows deleted, batches, milliseconds).
pub async fn purge(
    state: &AppState,
    table: Retained,
    cutoff: DateTime<Utc>,
    batch_rows: u32,
) -> anyhow::Result<(u64, u64, f64)> {
    let started = Instant::now();
    let (mut deleted, mut batches) = (0, 0);
    loop {
        let n = state.storage.purge_batch(table, cutoff, batch_rows).await?;
        state.metrics.retention_deleted(table.table(), n);
        deleted += n;
        batches += 1;
        if n < u64::from(batch_rows) {
            break;
        }
        tokio::time::sleep(RETENTION_PAUSE).await;
    }
    Ok((deleted, batches, started.elapsed().as_secs_f64() * 1000.0))
}

/// Recomputes the rollups of the last `MAINTENANCE_ROLLUP_REBUILD_DAYS` days, every zone, from the raw readings (where
/// they still exist: `rebuild_rollups` leaves buckets whose raw readings have partly expired as they are).
async fn rollup_rebuild(state: &AppState) -> anyhow::Result<String> {
    let now = state.clock.now();
    let days = state.config.maintenance.maintenance_rollup_rebuild_days;
    let from = now - chrono::Duration::days(days.into());
    let report = state.storage.rebuild_rollups(None, from, now).await?;
    Ok(match report.range {
        Some((from, to)) => format!(
            "rollups of {} to {} rebuilt: {} rows in {} transactions",
            crate::time::rfc3339(from),
            crate::time::rfc3339(to),
            report.rows,
            report.chunks
        ),
        None => format!("no raw readings in the last {days} days: nothing to rebuild"),
    })
}

async fn db_check(state: &AppState) -> anyhow::Result<String> {
    let check = state.storage.check().await?;
    if check.ok { Ok(check.detail) } else { Err(anyhow::anyhow!("database check failed: {}", check.detail)) }
}
