//! `heating-server demo`: the whole system in one process. Five simulated zones (the zone simulator's library,
//! real Modbus TCP on loopback), the server on a fresh SQLite file, the zones registered through the same code as
//! `POST /zones/`, all on one scaled simulated clock, so an observer sees a day of occupancy and heating in
//! 24 minutes at the default 60×. Readings and commands carry simulated timestamps.
//!
//! A building that has run for a while has a history, and the predictive controller learns from it. So that the
//! demo shows that from its first minute, it first simulates the week before the start ([`simulate_history`]: the
//! same zones, weather and occupancy, under the prototype's reactive control) and logs one reading per zone and
//! minute, as the poller would have; the live zones then continue from where that week ended. The learning job
//! fits each zone's model and learns its occupancy from that history at its first run. `--history-days 0` starts
//! with an empty database instead.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use heating_core::clock::{ScaledClock, SharedClock};
use heating_core::control::{ControlInput, Decision, ReadingView, decide};
use heating_core::preferences::Preferences;
use heating_core::registers::ZoneSnapshot;
use heating_core::zone::SimZone;
use serde_json::json;
use tokio::net::TcpListener;
use zone_simulator::{Simulator, SimulatorConfig};

use heating_server::config::{Config, DEFAULT_DATABASE_URL};
use heating_server::domain::{Caller, Role};
use heating_server::fleet::LiveReading;
use heating_server::services::ServiceError;
use heating_server::services::readings;
use heating_server::services::tokens::{self, TokenRequest};
use heating_server::services::zones::{self, NewZone};
use heating_server::storage::{NewReading, ZoneId};
use heating_server::{AppState, build_with_clock};

/// Seconds between polls unless `--poll-interval-secs` says otherwise.
pub const DEMO_POLL_INTERVAL_SECS: f64 = 2.0;
/// Seconds between control runs unless `--control-interval-secs` says otherwise.
pub const DEMO_CONTROL_INTERVAL_SECS: f64 = 10.0;
/// The strategy unless `--control-strategy` says otherwise: it meets the benchmark's targets.
pub const DEMO_STRATEGY: heating_predict::Strategy = heating_predict::Strategy::Predictive;

/// The demo's database when none is given: created afresh at every start.
pub const DEMO_DATABASE_FILE: &str = "heating-demo.db";

/// Options of `heating-server demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Simulated seconds per real second (60: a simulated day in 24 minutes).
    #[arg(long, default_value_t = 60.0, value_parser = parse_scale)]
    pub time_scale: f64,
    /// Port of the first simulated zone; the five zones use consecutive ports (0: ephemeral ports).
    #[arg(long, default_value_t = 5020)]
    pub base_port: u16,
    /// Simulated start time (RFC 3339); default: now.
    #[arg(long)]
    pub start: Option<DateTime<Utc>>,
    /// Keep the demo database of an earlier run instead of starting from an empty one.
    #[arg(long)]
    pub keep_database: bool,
    /// Days of simulated history logged before the start (one reading per zone and minute, under reactive
    /// control), so that charts, zone models and learned occupancy have data from the first minute; 0 to 14.
    /// Not added to a kept database.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(0..=14))]
    pub history_days: u32,
}

/// One zone's simulated past: the readings the poller would have logged.
#[derive(Debug)]
pub struct History {
    pub readings: Vec<(DateTime<Utc>, ZoneSnapshot)>,
}

/// Simulates the zones of `sim` for `days` days up to `start`, each under the reactive control policy with its
/// preferences (a decision every `control_every`), and returns one snapshot per zone and minute. Each zone's
/// profile in `sim` is then set to start where its history ended (air temperature and target), so the live
/// simulator continues it. Pure computation: seconds for a week of five zones.
pub fn simulate_history(
    sim: &mut SimulatorConfig,
    preferences: &[Preferences],
    start: DateTime<Utc>,
    days: u32,
    control_every: Duration,
) -> anyhow::Result<Vec<History>> {
    let from = start - Duration::days(i64::from(days));
    let step = Duration::milliseconds((sim.step_s * 1000.0).round() as i64);
    let mut out = Vec::with_capacity(sim.zones.len());
    for (i, (spec, prefs)) in sim.zones.iter_mut().zip(preferences).enumerate() {
        let mut zone = SimZone::new(&spec.profile, i as u64, &sim.weather, from)
            .map_err(|e| anyhow::anyhow!("zone {:?}: {}", spec.profile.name, e.0))?;
        let mut readings = Vec::with_capacity(usize::try_from(days).unwrap_or(0) * 24 * 60);
        let mut now = from;
        let mut next_control = from;
        while now < start {
            if now >= next_control {
                let s = zone.snapshot();
                let input = ControlInput {
                    preferences: prefs,
                    now,
                    utc_offset_minutes: sim.weather.utc_offset_minutes,
                    reading: Some(ReadingView {
                        at: now,
                        occupied: s.occupied,
                        device_target: s.target,
                        outdoor_c: Some(s.outdoor_temperature),
                    }),
                    stale_after: control_every,
                    weather_outdoor_c: None,
                    hold: None,
                };
                if let Decision::Target { target, .. } = decide(&input) {
                    zone.set_target(target);
                }
                next_control = now + control_every;
            }
            now += Duration::minutes(1);
            zone.advance_to(now, step, &sim.weather);
            readings.push((now, zone.snapshot()));
        }
        let last = zone.snapshot();
        spec.profile.initial_temperature_c = Some(last.air_temperature);
        spec.profile.initial_target_c = last.target.celsius();
        out.push(History { readings });
    }
    Ok(out)
}

/// The demo's intervals and strategy where the flags and environment set none.
fn apply_demo_defaults(config: &mut Config) {
    config.poll_interval_secs.get_or_insert(DEMO_POLL_INTERVAL_SECS);
    config.control_interval_secs.get_or_insert(DEMO_CONTROL_INTERVAL_SECS);
    config.control_strategy.get_or_insert(DEMO_STRATEGY);
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    heating_core::clock::validate_scale(v)
}

/// Each default zone's comfort preferences in the demo: a building's rooms do not all want the same.
fn demo_preferences(name: &str) -> serde_json::Value {
    match name {
        "Living Room" => json!({"occupied_temp": 21.5, "unoccupied_temp": 17.0}),
        "Bedroom" => json!({"occupied_temp": 18.5, "unoccupied_temp": 16.0}),
        "Kitchen" => json!({"occupied_temp": 20.0, "unoccupied_temp": 16.5}),
        "Office" => json!({"occupied_temp": 21.0, "unoccupied_temp": 16.0}),
        "Guest Room" => json!({"occupied_temp": 20.5, "unoccupied_temp": 14.0}),
        _ => json!({}),
    }
}

/// Logs a zone's simulated history as readings.
async fn log_history(state: &AppState, zone_id: ZoneId, history: &History) -> anyhow::Result<()> {
    let readings: Vec<NewReading> =
        history.readings.iter().map(|&(at, snapshot)| LiveReading::measured(at, snapshot).to_record(zone_id)).collect();
    readings::import(state, &Caller::system("demo"), &readings).await.context("cannot log the simulated history")?;
    Ok(())
}

fn remove_demo_database() -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{DEMO_DATABASE_FILE}{suffix}");
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove the old demo database {path}")),
        }
    }
    Ok(())
}

/// Tells how to sign in: nothing to do in local mode; with `--auth`, a fresh admin token, printed alone on stdout.
async fn print_sign_in(state: &AppState, listener: &TcpListener) -> anyhow::Result<()> {
    let url = listener.local_addr().map(|a| format!("http://{a}/")).unwrap_or_default();
    if !heating_server::services::auth::enabled(state) {
        eprintln!("demo: open {url} (local mode: no sign-in, every request acts as the admin `local`)");
        return Ok(());
    }
    let name = format!("demo-admin-{}", state.clock.now().timestamp());
    let request = TokenRequest { name, role: Role::Admin, expires_in_days: Some(1) };
    let issued =
        tokens::create(state, &Caller::system("demo"), request).await.context("cannot create the demo token")?;
    eprintln!(
        "demo: open {url} and sign in with this admin token (shown once; send it as `Authorization: Bearer <token>`):"
    );
    println!("{}", issued.secret.expose());
    Ok(())
}

/// Runs the demo: the HTTP server on `listener` until `shutdown` completes.
pub async fn run(
    mut config: Config,
    args: DemoArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    apply_demo_defaults(&mut config);
    if config.database_url == DEFAULT_DATABASE_URL {
        if !args.keep_database {
            remove_demo_database()?;
        }
        config.database_url = format!("sqlite://{DEMO_DATABASE_FILE}?mode=rwc");
    }
    let start = args.start.unwrap_or_else(Utc::now);
    let clock: SharedClock = Arc::new(ScaledClock::new(start, args.time_scale));
    let mut sim_config = SimulatorConfig {
        base_port: args.base_port,
        weather: config.synthetic_weather(),
        time_scale: args.time_scale,
        start: Some(start),
        ..SimulatorConfig::default()
    };
    let preferences = sim_config
        .zones
        .iter()
        .map(|z| Preferences::from_json(demo_preferences(&z.profile.name)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("demo preferences: {e}"))?;
    let fresh = !args.keep_database || !std::path::Path::new(DEMO_DATABASE_FILE).exists();
    let history = if fresh && args.history_days > 0 {
        let control_every =
            Duration::milliseconds((config.control_interval().as_secs_f64() * args.time_scale * 1000.0) as i64);
        let history = simulate_history(&mut sim_config, &preferences, start, args.history_days, control_every)?;
        tracing::info!(days = args.history_days, "simulated the week before the start, to log as history");
        history
    } else {
        Vec::new()
    };
    let simulator = Simulator::bind_with_clock(&sim_config, clock.clone())
        .await
        .context("cannot start the simulated zones (is a zone simulator already running on these ports?)")?
        .spawn();
    let app = build_with_clock(config, clock.clone()).await?;
    for (i, (zone, addr)) in simulator.zones().iter().zip(simulator.addrs()).enumerate() {
        let new = NewZone {
            name: zone.name.clone(),
            preferences: Some(demo_preferences(&zone.name)),
            modbus_port: std::num::NonZeroU16::new(addr.port()),
            modbus_host: Some(addr.ip().to_string()),
            modbus_unit_id: Some(zone.unit_id),
            device_profile: None,
            rated_power_w: None,
            group_id: None,
        };
        match zones::create(app.state(), &Caller::system("demo"), new).await {
            Ok(z) => {
                tracing::info!(zone_id = z.id, name = %z.name, %addr, "demo zone registered");
                if let Some(h) = history.get(i) {
                    log_history(app.state(), z.id, h).await?;
                }
            }
            Err(ServiceError::Conflict(msg)) if args.keep_database => {
                tracing::info!(name = %zone.name, "demo zone kept from the earlier run ({msg})");
            }
            Err(e) => return Err(anyhow::anyhow!("cannot register demo zone {:?}: {e}", zone.name)),
        }
    }
    tracing::info!(time_scale = args.time_scale, start = %clock.now(), "demo running on a simulated clock");
    print_sign_in(app.state(), &listener).await?;
    let served = app.run(listener, shutdown).await;
    simulator.shutdown().await;
    served
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn the_demo_has_its_own_defaults_and_the_flags_win() {
        let mut demo = Config::default();
        apply_demo_defaults(&mut demo);
        assert_eq!(demo.poll_interval(), std::time::Duration::from_secs(2));
        assert_eq!(demo.control_interval(), std::time::Duration::from_secs(10));
        assert_eq!(demo.control_strategy(), heating_predict::Strategy::Predictive, "the demo's default");
        let mut cli = Cli::try_parse_from(["heating-server", "--control-strategy", "Scheduled", "demo"]).unwrap();
        apply_demo_defaults(&mut cli.config);
        assert_eq!(cli.config.control_strategy(), heating_predict::Strategy::Scheduled, "the flag wins");
        let err = Cli::try_parse_from(["heating-server", "--control-strategy", "bogus"]).unwrap_err().to_string();
        assert!(
            err.contains(
                "unknown control strategy \"bogus\": expected one of constant, reactive, scheduled, predictive"
            ),
            "{err}"
        );
    }
}
