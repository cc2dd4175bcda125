//! `spawn_app()` and a typed client for the tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use heating_core::clock::{Clock, SharedClock};
use heating_server::{App, AppState, Config};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// 2026-11-27T10:00:00Z, where every test clock starts.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc()
}

/// A clock that starts at [`t0`] and moves one second forward each time it is read, so every reading and
/// command gets a distinct, predictable timestamp.
#[derive(Debug)]
pub struct StepClock {
    next_ms: AtomicI64,
}

impl StepClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { next_ms: AtomicI64::new(t0().timestamp_millis()) })
    }
}

impl Clock for StepClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.next_ms.fetch_add(1000, Ordering::SeqCst)).unwrap()
    }
}

/// A running server on 127.0.0.1:0 and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    pub db_path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    // Dropped last: the database file lives in it.
    _dir: Option<TempDir>,
}

/// A server with a fresh database in a new temporary directory, on a [`StepClock`].
pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("heating.db");
    let mut app = spawn_app_on(&db_path, StepClock::new()).await;
    app._dir = Some(dir);
    app
}

/// A server on the database file at `db_path` (created if missing).
pub async fn spawn_app_on(db_path: &Path, clock: SharedClock) -> TestApp {
    // API-only: no poller or control job (zones registered here point at ports nobody serves).
    let config = Config { background_jobs_disabled: true, ..Config::with_database_url(sqlite_url(db_path)) };
    let app: App = heating_server::build_with_clock(config, clock).await.expect("app builds");
    let state = app.state().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async {
        let _ = rx.await;
    }));
    // The listener is bound before `run` starts, so requests queue in the backlog until it accepts: no waiting.
    TestApp {
        addr,
        client: reqwest::Client::new(),
        state,
        db_path: db_path.to_path_buf(),
        shutdown: Some(tx),
        server: Some(server),
        _dir: None,
    }
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.client.put(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// Sends `body` as-is with a JSON content type.
    pub async fn send_raw(&self, method: reqwest::Method, path: &str, body: &'static str) -> Response {
        self.client
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /zones/`, expecting 201; returns the zone.
    pub async fn create_zone(&self, body: Value) -> Value {
        let (status, zone) = json_of(self.post("/zones/", &body).await).await;
        assert_eq!(status, StatusCode::CREATED, "{zone}");
        zone
    }

    /// A zone with just a name (no device).
    pub async fn zone_named(&self, name: &str) -> i64 {
        self.create_zone(json!({ "name": name })).await["id"].as_i64().unwrap()
    }

    /// Stops the server gracefully and waits for it (the database is closed when this returns).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    /// Stops the server but keeps the temporary directory (and database file) alive for a restart.
    pub async fn stop_keep_dir(mut self) -> Option<TempDir> {
        let dir = self._dir.take();
        self.stop().await;
        dir
    }
}

/// Status and JSON body; panics if the body is not JSON.
pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    (status, value)
}

/// Asserts an error response: the status, `{"detail": "..."}`, and that the detail contains `needle`.
pub async fn assert_error(resp: Response, status: StatusCode, needle: &str) -> String {
    let (got, body) = json_of(resp).await;
    assert_eq!(got, status, "{body}");
    let detail = body["detail"].as_str().unwrap_or_else(|| panic!("no detail in {body}")).to_string();
    assert!(detail.contains(needle), "detail {detail:?} should contain {needle:?}");
    assert_eq!(body.as_object().unwrap().len(), 1, "only `detail`: {body}");
    detail
}

/// RFC 3339 UTC with a `Z` suffix, parsed.
pub fn utc(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    assert!(s.ends_with('Z'), "not UTC: {s}");
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// A server like [`spawn_app`]'s (fresh database, [`StepClock`], no background jobs) on a configuration changed
/// by `edit` first (weather provider, allowed hosts, the bind address the server believes it has, …).
pub async fn spawn_app_with(edit: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("heating.db");
    let mut config = Config { background_jobs_disabled: true, ..Config::with_database_url(sqlite_url(&db_path)) };
    edit(&mut config);
    let app: App = heating_server::build_with_clock(config, StepClock::new()).await.expect("app builds");
    let state = app.state().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        client: reqwest::Client::new(),
        state,
        db_path,
        shutdown: Some(tx),
        server: Some(server),
        _dir: Some(dir),
    }
}
