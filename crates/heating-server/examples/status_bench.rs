//! `GET /status` at building scale: 1,000 zones (env `ZONES`) in 10 floor groups, served by zone-simulator rooms in
//! this process and polled once by the real `poll_once` (and decided by `control_once`), so that every zone has a
//! reading and a decision; then `REQUESTS` (default 200) requests over loopback HTTP for the full answer, the
//! compact one (`view=compact`) and one floor's compact answer (`group=ID&view=compact`). Prints, for each, the body
//! size (total and per zone) and the time per answer (median, 95th percentile) as the client sees it.
//!
//! `cargo run --release -p heating-server --example status_bench` (env `ZONES`, `REQUESTS`, `FLOORS`).

use std::sync::Arc;
use std::time::Instant;

use heating_core::clock::{ManualClock, SharedClock};
use heating_server::Config;
use heating_server::domain::Caller;
use heating_server::jobs::{control_once, poll_once};
use heating_server::services::groups::{self, NewGroup};
use heating_server::services::zones::{self, NewZone};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let zones = env_or("ZONES", 1000);
    let requests = env_or("REQUESTS", 200);
    let floors = env_or("FLOORS", 10).max(1);
    let _ = rlimit::increase_nofile_limit(zones as u64 * 3 + 1024);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let shared: SharedClock = clock.clone();
    let rooms = heating_core::zone::default_profiles();
    let specs = (0..zones)
        .map(|i| {
            zone_simulator::ZoneSpec::from_profile(heating_core::zone::ZoneProfile {
                name: format!("Room {}.{:02}", i % floors + 1, i / floors + 1),
                ..rooms[i % rooms.len()].clone()
            })
        })
        .collect();
    let sim_config = zone_simulator::SimulatorConfig { base_port: 0, zones: specs, ..Default::default() };
    let sim = zone_simulator::Simulator::bind_with_clock(&sim_config, shared.clone()).await?.spawn();
    let dir = tempfile::tempdir()?;
    let mut config = Config::with_database_url(format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()));
    config.background_jobs_disabled = true;
    let app = heating_server::build_with_clock(config, shared).await?;
    let state = app.state().clone();
    let caller = Caller::local();
    let err = |e: heating_server::services::ServiceError| anyhow::anyhow!("{e}");
    let site =
        groups::create(&state, &caller, NewGroup { name: "HQ".into(), kind: Some("building".into()), parent_id: None })
            .await
            .map_err(err)?;
    let mut floor_ids = Vec::new();
    for f in 0..floors {
        let new = NewGroup { name: format!("Floor {}", f + 1), kind: Some("floor".into()), parent_id: Some(site.id) };
        floor_ids.push(groups::create(&state, &caller, new).await.map_err(err)?.id);
    }
    for (i, addr) in sim.addrs().iter().enumerate() {
        let new = NewZone {
            name: sim.zones()[i].name.clone(),
            modbus_port: std::num::NonZeroU16::new(addr.port()),
            modbus_host: Some("127.0.0.1".into()),
            group_id: Some(floor_ids[i % floors]),
            ..NewZone::default()
        };
        zones::create(&state, &caller, new).await.map_err(err)?;
    }
    clock.advance(chrono::Duration::seconds(5));
    let polled = poll_once(&state).await;
    anyhow::ensure!(polled.ok == zones, "poll: {polled:?}");
    control_once(&state).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = tokio_util::sync::CancellationToken::new();
    let token = stop.clone();
    let server = tokio::spawn(async move { app.run(listener, async move { token.cancelled().await }).await });
    let client = reqwest::Client::new();
    println!("GET /status, {zones} zones in {floors} floors, {requests} requests each (loopback HTTP, one client)");
    let floor_path = format!("/status?group={}&view=compact", floor_ids[0]);
    for (label, path, n) in [
        ("full", "/status".to_string(), zones),
        ("compact", "/status?view=compact".to_string(), zones),
        ("one floor, compact", floor_path, zones.div_ceil(floors)),
    ] {
        let url = format!("http://{addr}{path}");
        // Warm-up (connection, caches).
        for _ in 0..5 {
            client.get(&url).send().await?.bytes().await?;
        }
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let r = client.get(&url).send().await?;
            anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
            bytes = r.bytes().await?.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{label:>20}: {:>8} bytes ({:>4.0} bytes/zone), median {:>6.2} ms, p95 {:>6.2} ms",
            bytes,
            bytes as f64 / n as f64,
            percentile(&times, 0.5),
            percentile(&times, 0.95)
        );
    }
    stop.cancel();
    server.await??;
    sim.shutdown().await;
    Ok(())
}
