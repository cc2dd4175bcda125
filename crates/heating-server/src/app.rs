//! Building the application apart from running it: [`build`] opens and migrates the database and assembles the
//! shared state; [`App::run`] starts the background jobs and serves HTTP on a listener the caller bound, until a
//! shutdown future completes. Tests bind `127.0.0.1:0`; the binary binds the configured address.
//!
//! This is the composition root: the only module that knows every layer (HTTP, services, jobs, state).

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use heating_core::clock::{SharedClock, WallClock};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::alerts::AlertState;
use crate::config::{Config, redact_url};
use crate::demand::DemandState;
use crate::fleet::Fleet;
use crate::http::{self, AppService};
use crate::jobs;
use crate::metrics::Metrics;
use crate::mqtt;
use crate::prices::PriceService;
use crate::profiles::ProfileRegistry;
use crate::server::{self, Limits};
use crate::state::{AppState, JobReports, SignInFailures};
use crate::storage::{InstanceIdentity, Storage};

/// A built application, ready to run.
#[derive(Debug)]
pub struct App {
    state: AppState,
    /// The alert webhook's delivering side (with `ALERT_WEBHOOK_URL`).
    webhook: Option<crate::alerts::WebhookWorker>,
    /// What fires the maintenance jobs: tokio-cron-scheduler on the wall clock, else the server clock.
    maintenance: jobs::Trigger,
}

/// Builds the application on the wall clock.
pub async fn build(config: Config) -> anyhow::Result<App> {
    let mut app = build_with_clock(config, Arc::new(WallClock)).await?;
    app.maintenance = jobs::Trigger::WallClock;
    Ok(app)
}

/// Builds the application on the given clock: opens the database (creating an SQLite file if missing) and
/// applies pending migrations. Fails with a message naming the database (password redacted) if it cannot be
/// opened or migrated.
pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<App> {
    config.limits.validate().map_err(|e| anyhow::anyhow!("invalid connection limits: {e}"))?;
    let thresholds = config.alerts.thresholds().map_err(|e| anyhow::anyhow!("invalid alert settings: {e}"))?;
    let webhook = config.alerts.webhook().map_err(|e| anyhow::anyhow!("invalid alert settings: {e}"))?;
    if config.mqtt.enabled() {
        config
            .mqtt
            .validate()
            .and_then(|()| mqtt::options(&config.mqtt).map(drop))
            .map_err(|e| anyhow::anyhow!("invalid MQTT settings: {e}"))?;
    }
    let profiles = ProfileRegistry::load(config.profiles.device_profiles_dir.as_deref())?;
    let shown_url = redact_url(&config.database_url);
    let hint = if config.database_url.starts_with("sqlite:") {
        " (check that the file's directory exists and is writable)"
    } else {
        ""
    };
    let storage = Storage::connect(&config.database_url)
        .await
        .with_context(|| format!("could not open database {shown_url}{hint}"))?;
    tracing::info!(database = %shown_url, "database ready, migrations applied");
    profiles.add_stored(&storage.list_device_profiles().await.context("could not load the posted device profiles")?);
    let profiles = Arc::new(profiles);
    let open_alerts = storage.open_alerts().await.context("could not load the open alerts")?;
    let (alerts, webhook) = AlertState::new(thresholds, webhook, open_alerts);
    let weather =
        config.weather.build(clock.clone(), config.synthetic_weather()).context("invalid weather settings")?;
    let prices =
        PriceService::new(&config.prices, clock.clone()).map_err(|e| anyhow::anyhow!("invalid price settings: {e}"))?;
    let cap = config.demand_cap().map_err(|e| anyhow::anyhow!("invalid demand cap: {e}"))?;
    let demand = Arc::new(DemandState::new(cap));
    let sign_ins = Arc::new(SignInFailures::new(config.auth.sign_in_failures_per_minute));
    let metrics = Arc::new(Metrics::new());
    let identity = InstanceIdentity {
        id: config.instances.resolve_id(),
        name: config.instances.resolve_name(),
        advertised_url: config.instances.advertised_url.clone(),
    };
    let fleet = Arc::new(Fleet::new(
        config.link_config(),
        config.auth.device_networks.clone(),
        metrics.clone(),
        profiles.clone(),
        identity,
        // Real time, as the PostgreSQL heartbeats (not a step of the server clock, which tests count).
        chrono::Utc::now(),
    ));
    Ok(App {
        maintenance: jobs::Trigger::ServerClock,
        webhook,
        state: AppState {
            storage,
            clock,
            config: Arc::new(config),
            fleet,
            reports: Arc::new(JobReports::default()),
            weather,
            prices,
            demand,
            sign_ins,
            metrics,
            profiles,
            alerts: Arc::new(alerts),
        },
    })
}

/// The file of an SQLite database URL (`sqlite://PATH?…`, `sqlite:PATH`); `None` for PostgreSQL and in-memory
/// databases.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory")).then(|| path.into())
}

/// For an SQLite database URL, takes the lock a running server holds on its file (see [`lock_database_file`]),
/// held until the returned file is dropped; `None` for PostgreSQL and in-memory databases.
pub fn lock_sqlite_database(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    sqlite_path(url).map(|path| lock_database_file(&path)).transpose()
}

/// Takes the exclusive lock of `<database>.lock` beside the SQLite file, or fails naming the file: another server
/// runs on it. The OS releases the lock when the process ends, however it ends (`kill -9` included).
fn lock_database_file(db: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another heating-server is running on the SQLite database {} (its lock {} is held); SQLite mode is \
             single-instance: stop the other one, or use PostgreSQL to run several instances",
            db.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

/// Runs a job loop until `stop`; if it panics (a bug), logs the panic and starts it again a second later, so one
/// bad cycle never silently ends polling or control for good.
async fn supervise<S, F, Fut>(name: &'static str, state: S, stop: CancellationToken, job: F)
where
    S: Clone,
    F: Fn(S, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(job(state.clone(), stop.clone())).await {
            Ok(()) => return,
            Err(e) => tracing::error!(job = name, "job loop failed, restarting it: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

impl App {
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The HTTP service (router behind trailing-slash normalization), e.g. for in-process tests.
    #[must_use]
    pub fn service(&self) -> AppService {
        http::service(self.state.clone())
    }

    /// Serves HTTP on `listener` (under the configured timeouts and connection caps, see [`crate::server`]) until
    /// `shutdown` completes, then lets running requests finish, stops the jobs and closes the database.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let service = self.service();
        let addr = listener.local_addr().context("listener has no local address")?;
        self.state.config.auth.check_exposure(addr).map_err(anyhow::Error::msg)?;
        let stop = CancellationToken::new();
        // Cancelled at the shutdown signal (before running requests finish): the zone leases are handed over then.
        let leaving = CancellationToken::new();
        let shutdown = {
            let leaving = leaving.clone();
            async move {
                shutdown.await;
                leaving.cancel();
            }
        };
        // SQLite: one running server per database file (the lock is the OS's: gone with the process).
        let _file_lock = lock_sqlite_database(&self.state.config.database_url)?;
        let mut tasks = JoinSet::new();
        let shared = self.state.storage.shares_instances() && !self.state.config.background_jobs_disabled;
        if shared {
            jobs::leases::join(&self.state).await?;
            // The first round before the poller starts, so that it has its zones at its first cycle.
            jobs::leases::lease_tick(&self.state).await.context("cannot take zone leases")?;
            let leaving = leaving.clone();
            tasks.spawn(supervise("leases", self.state.clone(), stop.clone(), move |state, stop| {
                jobs::leases::run_leases(state, stop, leaving.clone())
            }));
        }
        if !self.state.config.background_jobs_disabled {
            tasks.spawn(supervise("poller", self.state.clone(), stop.clone(), jobs::run_poller));
            tasks.spawn(supervise("control", self.state.clone(), stop.clone(), jobs::run_control));
            tasks.spawn(supervise("learning", self.state.clone(), stop.clone(), jobs::run_learner));
            let trigger = self.maintenance;
            tasks.spawn(supervise("maintenance", self.state.clone(), stop.clone(), move |state, stop| {
                jobs::run_maintenance(state, stop, trigger)
            }));
            tracing::info!(
                poll_interval = ?self.state.config.poll_interval(),
                control_interval = ?self.state.config.control_interval(),
                weather = %self.state.weather.provider_kind(),
                "poller, control, learning and maintenance jobs started"
            );
        }
        if let Some(worker) = self.webhook.clone() {
            tasks.spawn(supervise("alert-webhook", worker, stop.clone(), crate::alerts::webhook::run_webhook));
        }
        if self.state.config.mqtt.enabled() {
            tasks.spawn(supervise("mqtt", self.state.clone(), stop.clone(), mqtt::run_bridge));
        }
        let limits = Limits::fitted(&self.state.config.limits);
        tracing::debug!(?limits, "connection limits");
        tracing::info!(%addr, "listening on http://{addr}/ ; API docs at http://{addr}/docs/");
        server::serve(listener, service, limits, shutdown).await;
        stop.cancel();
        while tasks.join_next().await.is_some() {}
        self.state.storage.close().await;
        tracing::info!("server stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_job_loop_that_panics_is_restarted_and_stops_on_cancel() {
        let starts = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let job = |starts: Arc<AtomicUsize>, stop: CancellationToken| async move {
            if starts.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("a bug in the first cycle");
            }
            stop.cancelled().await;
        };
        let supervisor = tokio::spawn(supervise("test", starts.clone(), stop.clone(), job));
        while starts.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), supervisor).await.unwrap().unwrap();
        assert_eq!(starts.load(Ordering::SeqCst), 2, "restarted once, then stopped");
    }
}
