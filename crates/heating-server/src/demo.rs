//! `heating-server demo`: the whole system in one process. Five simulated zones (the zone simulator's library,
//! real Modbus TCP on loopback), the server on a fresh SQLite file, the zones registered through the same code as
//! `POST /zones/`, all on one scaled simulated clock, so an observer sees a day of occupancy and heating in
//! 24 minutes at the default 60×. Readings and commands carry simulated timestamps.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use heating_core::clock::{ScaledClock, SharedClock};
use serde_json::json;
use tokio::net::TcpListener;
use zone_simulator::{Simulator, SimulatorConfig};

use crate::config::{Config, DEFAULT_DATABASE_URL};
use crate::http::zones::{ZoneCreate, register_zone};

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

/// Runs the demo: the HTTP server on `listener` until `shutdown` completes.
pub async fn run(
    mut config: Config,
    args: DemoArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.demo = true;
    if config.database_url == DEFAULT_DATABASE_URL {
        if !args.keep_database {
            remove_demo_database()?;
        }
        config.database_url = format!("sqlite://{DEMO_DATABASE_FILE}?mode=rwc");
    }
    let clock: SharedClock = Arc::new(ScaledClock::new(args.start.unwrap_or_else(Utc::now), args.time_scale));
    let sim_config = SimulatorConfig {
        base_port: args.base_port,
        weather: config.synthetic_weather(),
        time_scale: args.time_scale,
        start: args.start,
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::bind_with_clock(&sim_config, clock.clone())
        .await
        .context("cannot start the simulated zones (is a zone simulator already running on these ports?)")?
        .spawn();
    let app = crate::build_with_clock(config, clock.clone()).await?;
    for (zone, addr) in simulator.zones().iter().zip(simulator.addrs()) {
        let body = ZoneCreate {
            name: zone.name.clone(),
            preferences: Some(demo_preferences(&zone.name)),
            modbus_port: std::num::NonZeroU16::new(addr.port()),
            modbus_host: Some(addr.ip().to_string()),
            modbus_unit_id: Some(zone.unit_id),
        };
        match register_zone(app.state(), body).await {
            Ok(z) => tracing::info!(zone_id = z.id, name = %z.name, %addr, "demo zone registered"),
            Err(crate::http::error::ApiError::Conflict(msg)) if args.keep_database => {
                tracing::info!(name = %zone.name, "demo zone kept from the earlier run ({msg})");
            }
            Err(e) => return Err(anyhow::anyhow!("cannot register demo zone {:?}: {e}", zone.name)),
        }
    }
    tracing::info!(time_scale = args.time_scale, start = %clock.now(), "demo running on a simulated clock");
    let served = app.run(listener, shutdown).await;
    simulator.shutdown().await;
    served
}
