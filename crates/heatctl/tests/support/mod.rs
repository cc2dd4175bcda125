//! A real server (in-process, port 0, authentication on, the poller running) and a real simulator (port 0) for
//! the `heatctl` binary to talk to, with tokens of every role made through the server's token service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use heating_core::clock::{SharedClock, WallClock};
use heating_server::Config;
use heating_server::domain::{Caller, Role};
use heating_server::services::tokens::{self, TokenRequest};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

/// The zones of the simulator: two of the default ones.
pub const ZONES: [&str; 2] = ["Living Room", "Office"];

pub struct Env {
    pub addr: SocketAddr,
    pub sim: SimulatorHandle,
    pub admin: String,
    pub operator: String,
    pub viewer: String,
    /// `HOME` and `XDG_CONFIG_HOME` of every run: no config file unless a test writes one.
    pub home: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    _db: TempDir,
}

/// What a `heatctl` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code 0, or panic with the output.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "heatctl failed:\n{self:#?}");
        self
    }

    /// The given exit code and a message on stderr containing `needle`.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, code, "exit code:\n{self:#?}");
        assert!(self.stderr.contains(needle), "stderr should contain {needle:?}:\n{self:#?}");
        self
    }

    /// stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self:#?}"))
    }
}

impl Env {
    /// The simulator with [`ZONES`], and a server with authentication on and the poller every 0.3 s (control
    /// hourly, so it does not change targets under the tests). No zone is registered yet.
    pub async fn start() -> Self {
        let clock: SharedClock = Arc::new(WallClock);
        let mut sim_config = SimulatorConfig { base_port: 0, ..SimulatorConfig::default() };
        sim_config.zones.retain(|z| ZONES.contains(&z.profile.name.as_str()));
        assert_eq!(sim_config.zones.len(), ZONES.len());
        let sim = Simulator::bind_with_clock(&sim_config, clock.clone()).await.unwrap().spawn();

        let db = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", db.path().join("heatctl.db").display());
        let mut config = Config {
            poll_interval_secs: Some(0.3),
            control_interval_secs: Some(3600.0),
            modbus_backoff_max_secs: 1.0,
            modbus_timeout_ms: 500,
            ..Config::with_database_url(url)
        };
        config.auth.auth = true;
        let app = heating_server::build_with_clock(config, clock).await.expect("app builds");
        let state = app.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run(listener, async {
            let _ = rx.await;
        }));

        let token = |name: &'static str, role| {
            let state = state.clone();
            async move {
                let request = TokenRequest { name: name.into(), role, expires_in_days: None };
                tokens::create(&state, &Caller::system("test"), request).await.unwrap().secret.expose().to_string()
            }
        };
        let admin = token("heatctl-admin", Role::Admin).await;
        let operator = token("heatctl-operator", Role::Operator).await;
        let viewer = token("heatctl-viewer", Role::Viewer).await;
        Self {
            addr,
            sim,
            admin,
            operator,
            viewer,
            home: tempfile::tempdir().unwrap(),
            shutdown: Some(tx),
            server: Some(server),
            _db: db,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulator's Modbus port of zone `i` of [`ZONES`].
    pub fn port(&self, i: usize) -> u16 {
        self.sim.addrs()[i].port()
    }

    /// The config file heatctl reads by default (under `XDG_CONFIG_HOME`).
    pub fn config_path(&self) -> PathBuf {
        self.home.path().join("heatctl").join("config.toml")
    }

    /// Runs `heatctl args...` against the server (`HEATCTL_SERVER`), with `token` as `HEATCTL_TOKEN`.
    pub async fn heatctl(&self, token: Option<&str>, args: &[&str]) -> Run {
        self.heatctl_with(token, Some(&self.url()), args).await
    }

    /// Like [`Env::heatctl`], with no token either. Every run is checked not to print any token.
    pub async fn heatctl_with(&self, token: Option<&str>, server: Option<&str>, args: &[&str]) -> Run {
        let run = heatctl(self.home.path(), token, server, args).await;
        for t in [&self.admin, &self.operator, &self.viewer] {
            assert!(
                !run.stdout.contains(t.as_str()) && !run.stderr.contains(t.as_str()),
                "a token was printed:\n{run:#?}"
            );
        }
        run
    }

    /// Registers the simulator's zones through `heatctl zone add`.
    pub async fn add_zones(&self) {
        for (i, name) in ZONES.iter().enumerate() {
            let port = self.port(i).to_string();
            let args = ["zone", "add", name, "--host", "127.0.0.1", "--port", &port, "--pref", "occupied_temp=22"];
            self.heatctl(Some(&self.admin), &args).await.ok();
        }
    }

    /// Waits (polling `heatctl status --json`) until every zone has been polled and its reading stored.
    pub async fn wait_for_readings(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.heatctl(Some(&self.viewer), &["status", "--json"]).await.ok().json();
            let zones = status["zones"].as_array().unwrap();
            let polled = !zones.is_empty() && zones.iter().all(|z| z["reading"].is_object());
            let stored = status["poller"]["stored"].as_u64().unwrap_or(0) > 0;
            if polled && stored {
                return status;
            }
            assert!(Instant::now() < deadline, "no readings after 30 s: {status:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server and waits for it.
    pub async fn stop_server(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs the binary with a clean environment for it: no `HEATCTL_*` or `NO_COLOR` from outside, `HOME` and
/// `XDG_CONFIG_HOME` in `home`.
pub async fn heatctl(home: &Path, token: Option<&str>, server: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_heatctl"));
    cmd.args(args)
        .env_remove("HEATCTL_TOKEN")
        .env_remove("HEATCTL_SERVER")
        .env_remove("HEATCTL_CONFIG")
        .env_remove("NO_COLOR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .kill_on_drop(true);
    if let Some(t) = token {
        cmd.env("HEATCTL_TOKEN", t);
    }
    if let Some(s) = server {
        cmd.env("HEATCTL_SERVER", s);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("heatctl finishes").unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}
