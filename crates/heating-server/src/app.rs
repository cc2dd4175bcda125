//! Building the application apart from running it: [`build`] opens and migrates the database and assembles the
//! HTTP service; [`App::run`] serves it on a listener the caller bound, until a shutdown future completes. Tests
//! bind `127.0.0.1:0`; the binary binds the configured address.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::ServiceExt;
use axum::extract::Request;
use heating_core::clock::{SharedClock, WallClock};
use tokio::net::TcpListener;

use crate::config::{Config, redact_url};
use crate::http::{self, AppService};
use crate::storage::Storage;

/// What every handler and background job shares. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub storage: Storage,
    /// The only source of "now": readings and commands carry its timestamps (a scaled clock in demo mode).
    pub clock: SharedClock,
    /// The configuration the server started with.
    pub config: Arc<Config>,
}

/// A built application, ready to run.
#[derive(Debug)]
pub struct App {
    state: AppState,
}

/// Builds the application on the wall clock.
pub async fn build(config: Config) -> anyhow::Result<App> {
    build_with_clock(config, Arc::new(WallClock)).await
}

/// Builds the application on the given clock: opens the database (creating an SQLite file if missing) and
/// applies pending migrations. Fails with a message naming the database (password redacted) if it cannot be
/// opened or migrated.
pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<App> {
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
    Ok(App { state: AppState { storage, clock, config: Arc::new(config) } })
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

    /// Serves HTTP on `listener` until `shutdown` completes, then lets running requests finish and closes the
    /// database.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let service = self.service();
        let addr = listener.local_addr().context("listener has no local address")?;
        tracing::info!(%addr, "listening; API docs at http://{addr}/docs/");
        axum::serve(listener, ServiceExt::<Request>::into_make_service(service))
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?;
        self.state.storage.close().await;
        tracing::info!("server stopped");
        Ok(())
    }
}
