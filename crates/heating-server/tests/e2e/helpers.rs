use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use heating_core::clock::{ManualClock, SharedClock, WallClock};
use heating_server::{AppState, Config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

/// Monday 2026-01-05 03:00 UTC: every default zone but the bedroom is vacant.
pub fn monday_3am() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T03:00:00Z").unwrap().to_utc()
}

pub struct Env {
    pub sim: SimulatorHandle,
    pub state: AppState,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub zone_ids: Vec<i64>,
    config: Config,
    clock: SharedClock,
    stop: tokio_util::sync::CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
}

pub struct Options {
    pub clock: SharedClock,
    pub jobs: bool,
    pub poll_interval_secs: f64,
    pub control_interval_secs: f64,
    pub backoff_max_secs: f64,
    pub timeout_ms: u64,
    /// The MQTT bridge's settings (off unless `url` is set).
    pub mqtt: heating_server::config::MqttSettings,
    /// Price source and demand cap (defaults: the time-of-use table, no cap).
    pub prices: heating_server::config::PriceSettings,
    pub demand: heating_server::config::DemandSettings,
    /// The alert rules and webhook (defaults: every rule on, no webhook).
    pub alerts: heating_server::config::AlertSettings,
}

impl Options {
    /// Manual clock, no background jobs: tests call the steps.
    pub fn stepped(clock: Arc<ManualClock>) -> Self {
        Self {
            clock,
            jobs: false,
            poll_interval_secs: 5.0,
            control_interval_secs: 60.0,
            backoff_max_secs: 1.0,
            timeout_ms: 300,
            mqtt: heating_server::config::MqttSettings::default(),
            prices: heating_server::config::PriceSettings::default(),
            demand: heating_server::config::DemandSettings::default(),
            alerts: heating_server::config::AlertSettings::default(),
        }
    }

    /// Wall clock with the loops running fast.
    pub fn live() -> Self {
        Self {
            clock: Arc::new(WallClock),
            jobs: true,
            poll_interval_secs: 0.3,
            control_interval_secs: 3600.0,
            backoff_max_secs: 1.0,
            timeout_ms: 300,
            mqtt: heating_server::config::MqttSettings::default(),
            prices: heating_server::config::PriceSettings::default(),
            demand: heating_server::config::DemandSettings::default(),
            alerts: heating_server::config::AlertSettings::default(),
        }
    }
}

/// Five simulated zones and a server with them registered through the API (with per-zone preferences).
pub async fn start(opts: Options) -> Env {
    start_with(opts, SimulatorConfig { base_port: 0, ..SimulatorConfig::default() }).await
}

/// The simulator of `sim_config` and a server with its zones registered through the API (each at its port and unit
/// id, with per-zone preferences).
pub async fn start_with(opts: Options, sim_config: SimulatorConfig) -> Env {
    let sim = Simulator::bind_with_clock(&sim_config, opts.clock.clone()).await.unwrap().spawn();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("e2e.db").display());
    let config = Config {
        poll_interval_secs: Some(opts.poll_interval_secs),
        control_interval_secs: Some(opts.control_interval_secs),
        modbus_backoff_max_secs: opts.backoff_max_secs,
        modbus_timeout_ms: opts.timeout_ms,
        background_jobs_disabled: !opts.jobs,
        mqtt: opts.mqtt,
        prices: opts.prices,
        demand: opts.demand,
        alerts: opts.alerts,
        ..Config::with_database_url(url)
    };
    let (state, addr, stop, server) = serve(config.clone(), opts.clock.clone()).await;
    let mut env = Env {
        sim,
        state,
        addr,
        client: reqwest::Client::new(),
        zone_ids: Vec::new(),
        config,
        clock: opts.clock,
        stop,
        server: Some(server),
        _dir: dir,
    };
    for (i, zone) in env.sim.zones().iter().enumerate() {
        let port = env.sim.addrs()[i].port();
        let body = json!({"name": zone.name, "modbus_host": "127.0.0.1", "modbus_port": port,
                          "modbus_unit_id": zone.unit_id,
                          "preferences": {"occupied_temp": 21.0 + i as f64 * 0.5, "unoccupied_temp": 15.0 + i as f64}});
        let (status, created) = env.post("/zones", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        env.zone_ids.push(created["id"].as_i64().unwrap());
    }
    env
}

/// Builds the server on `config` and serves it on an ephemeral port until the returned token is cancelled.
async fn serve(
    config: Config,
    clock: SharedClock,
) -> (AppState, SocketAddr, tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    let app = heating_server::build_with_clock(config, clock).await.unwrap();
    let state = app.state().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    let server = tokio::spawn(async move {
        app.run(listener, async move { token.cancelled().await }).await.unwrap();
    });
    (state, addr, stop, server)
}

impl Env {
    /// Stops the server and starts a new one on the same database, clock and simulator: a server restart.
    pub async fn restart(mut self) -> Self {
        self.stop.cancel();
        if let Some(s) = self.server.take() {
            s.await.unwrap();
        }
        let (state, addr, stop, server) = serve(self.config.clone(), self.clock.clone()).await;
        Self { state, addr, stop, server: Some(server), ..self }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self.client.post(self.url(path)).json(body).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let r = self.client.delete(self.url(path)).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    /// The target register of simulated zone `i`, read from the simulator itself.
    pub fn device_target(&self, i: usize) -> f64 {
        self.sim.zones()[i].current().target.celsius()
    }

    pub async fn commands(&self, i: usize) -> Vec<Value> {
        let (s, v) = self.get(&format!("/commands/zone/{}", self.zone_ids[i])).await;
        assert_eq!(s, StatusCode::OK);
        v.as_array().unwrap().clone()
    }

    pub async fn zone_status(&self, i: usize) -> Value {
        let (s, v) = self.get("/status").await;
        assert_eq!(s, StatusCode::OK);
        v["zones"].as_array().unwrap().iter().find(|z| z["id"] == self.zone_ids[i]).unwrap().clone()
    }

    /// Waits until `check` holds on `/status` for zone `i`, up to `within`; returns how long it took.
    pub async fn wait_for(&self, i: usize, within: Duration, check: impl Fn(&Value) -> bool) -> Duration {
        let started = tokio::time::Instant::now();
        loop {
            let z = self.zone_status(i).await;
            if check(&z) {
                return started.elapsed();
            }
            assert!(started.elapsed() < within, "condition not met within {within:?}; zone status: {z}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(s) = self.server.take() {
            s.await.unwrap();
        }
    }
}

/// The log lines (plain text, no colours) emitted on this thread while the guard lives. `#[tokio::test]` runs
/// the server's tasks on the test's thread, so they are captured too.
///
/// One global subscriber (installed once per test binary) writes each event to the capture of the thread that
/// logged it, if any. A scoped subscriber per test (`set_default`) could lose events: tracing caches each call
/// site's interest globally, and a call site first hit on another test's thread, without a subscriber, could be
/// cached as uninteresting.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<LogCapture>> = const { std::cell::RefCell::new(None) };
}

/// Stops capturing on this thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURING.with(|c| *c.borrow_mut() = None);
    }
}

impl LogCapture {
    /// Starts capturing at INFO and above (the default level of the binary).
    pub fn start() -> (Self, CaptureGuard) {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_ansi(false)
                .with_writer(|| CAPTURING.with(|c| c.borrow().clone()).unwrap_or_default())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in these tests");
        });
        let capture = Self::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(capture.clone()));
        (capture, CaptureGuard(()))
    }

    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap()).lines().map(str::to_string).collect()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
