//! Poller scale: N simulated zones (default 10,000) on their own loopback ports, polled at a 1 s period by the
//! real `poll_once` into a real SQLite file, simulator and server in one process on this machine's cores.
//!
//! `cargo bench -p heating-server --bench poll_scale` (env `ZONES`, `CYCLES`, `POLL_CONCURRENCY`). Prints the
//! cycle time (p50, p95, max), the readings stored per cycle, and the server's CPU cost: polls per CPU-second of
//! every thread but the simulator's (which runs on a runtime of its own, threads named `sim`; CPU time from
//! `/proc/self/task/*/schedstat`). `BENCH_ROLLUPS=off` stores the readings without updating the rollups (the
//! storage's hidden `without_rollups`, not a setting), to measure what maintaining them costs. Each zone needs two
//! sockets in this process (its listener and the server side of the poller's connection) plus the poller's own:
//! the bench raises the open-file limit as far as it may, and says so if that is not enough.

use std::sync::Arc;
use std::time::{Duration, Instant};

use heating_core::clock::WallClock;
use heating_server::Config;
use heating_server::jobs::poll_once;
use heating_server::services::zones::{self, NewZone};
use zone_simulator::config::Cli;
use zone_simulator::{Simulator, SimulatorConfig};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn raise_fd_limit(needed: u64) -> u64 {
    use rlimit::Resource;
    let _ = Resource::NOFILE.set(needed, needed);
    let _ = rlimit::increase_nofile_limit(needed);
    Resource::NOFILE.get().map(|(soft, _)| soft).unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let zones = env_or("ZONES", 10_000);
    let cycles = env_or("CYCLES", 10);
    let limit = raise_fd_limit(zones as u64 * 3 + 1024);
    if limit < zones as u64 * 3 + 256 {
        eprintln!(
            "open-file limit {limit} is too low for {zones} zones; run with ZONES={}",
            limit.saturating_sub(256) / 3
        );
        std::process::exit(2);
    }
    let cli = <Cli as clap::Parser>::parse_from(["zone-simulator", "--zones", &zones.to_string(), "--base-port", "0"]);
    let sim_config = SimulatorConfig::from_cli(&cli)?;
    let clock = Arc::new(WallClock);
    let t = Instant::now();
    // The simulator on a runtime of its own, so that its CPU time can be told apart from the server's.
    let sim_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("sim").enable_all().build()?;
    let sim_clock = clock.clone();
    let sim = sim_runtime
        .spawn(async move { Simulator::bind_with_clock(&sim_config, sim_clock).await.map(|s| s.spawn()) })
        .await??;
    println!("{zones} zones listening in {:.1} s", t.elapsed().as_secs_f64());

    let dir = tempfile::tempdir()?;
    let mut config = Config::with_database_url(format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()));
    config.background_jobs_disabled = true;
    config.poll_concurrency = env_or("POLL_CONCURRENCY", config.poll_concurrency);
    let app = heating_server::build_with_clock(config, clock).await?;
    let mut state = app.state().clone();
    let rollups = std::env::var("BENCH_ROLLUPS").map_or(true, |v| v != "off");
    if !rollups {
        state.storage = state.storage.clone().without_rollups();
    }
    let t = Instant::now();
    for (zone, addr) in sim.zones().iter().zip(sim.addrs()) {
        let new = NewZone {
            name: zone.name.clone(),
            preferences: None,
            modbus_port: std::num::NonZeroU16::new(addr.port()),
            modbus_host: Some("127.0.0.1".into()),
            modbus_unit_id: Some(1),
            device_profile: None,
            rated_power_w: None,
            group_id: None,
        };
        zones::create(&state, &heating_server::domain::Caller::local(), new)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("{zones} zones registered in {:.1} s", t.elapsed().as_secs_f64());

    // The first cycle also opens every connection; it is reported apart.
    let first = poll_once(&state).await;
    println!(
        "first cycle (connects): {:.0} ms, {} ok, {} failed, {} stored",
        first.duration_ms, first.ok, first.failed, first.stored
    );
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut durations = Vec::new();
    let (mut ok, mut stored, mut failed) = (0, 0, 0);
    let cpu_before = server_cpu_ns();
    for _ in 0..cycles {
        ticks.tick().await;
        let r = poll_once(&state).await;
        durations.push(r.duration_ms);
        ok += r.ok;
        failed += r.failed;
        stored += r.stored;
    }
    let mut sorted = durations.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{cycles} cycles at a 1 s period: cycle p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; {} readings stored ({} per cycle), {} failed",
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.95),
        sorted[sorted.len() - 1],
        stored,
        stored / cycles as u64,
        failed,
    );
    let cpu_s = (server_cpu_ns() - cpu_before) as f64 / 1e9;
    println!(
        "rollups {}: server CPU {cpu_s:.2} s over {cycles} cycles: {:.0} polls per CPU-second",
        if rollups { "on" } else { "off" },
        ok as f64 / cpu_s
    );
    println!("all zones answered every cycle: {}", ok == zones * cycles && failed == 0);
    sim.shutdown().await;
    sim_runtime.shutdown_background();
    Ok(())
}

/// CPU time so far of this process's threads but the simulator's (`sim`), in nanoseconds (`schedstat`: time on
/// CPU, precise, unlike `stat`'s clock ticks).
fn server_cpu_ns() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with("sim") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    total
}
