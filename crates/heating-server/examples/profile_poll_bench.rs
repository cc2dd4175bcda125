//! Poller cost across device profiles: 1,000 zones (env `ZONES`) polled by the real `poll_once` into a real SQLite
//! file, once all speaking `heating-sim` (one FC03 each), once spread evenly over the four built-in profiles (1, 1,
//! 3 and 4 requests a poll), and prints polls per CPU-second of this process for both. The devices are the zone
//! simulator's rooms served through their profile (`ZoneSpec::device_profile`), in this process, so their cost is
//! in the figure too: the comparison is what matters.
//!
//! `cargo run --release -p heating-server --example profile_poll_bench` (env `ZONES`, `CYCLES`).

use std::sync::Arc;
use std::time::Instant;

use heating_core::clock::{ManualClock, SharedClock};
use heating_server::Config;
use heating_server::jobs::poll_once;
use heating_server::services::zones::{self, NewZone};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU time (user + system) of this process so far, seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command; USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

struct Run {
    polls: usize,
    /// Read requests a poll makes, from the profiles' read plans.
    requests: usize,
    cpu_s: f64,
    wall_s: f64,
}

async fn run(profiles: &[&str], zones: usize, cycles: usize) -> anyhow::Result<Run> {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let shared: SharedClock = clock.clone();
    let rooms = heating_core::zone::default_profiles();
    let specs = (0..zones)
        .map(|i| zone_simulator::ZoneSpec {
            device_profile: Arc::new(device_profile::builtin(profiles[i % profiles.len()]).expect("a built-in")),
            ..zone_simulator::ZoneSpec::from_profile(heating_core::zone::ZoneProfile {
                name: format!("zone {i}"),
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
    let mut requests = 0;
    for (i, addr) in sim.addrs().iter().enumerate() {
        let name = profiles[i % profiles.len()];
        requests += device_profile::ReadPlan::new(&device_profile::builtin(name).expect("a built-in")).blocks.len();
        let new = NewZone {
            name: format!("zone {i}"),
            preferences: None,
            modbus_port: std::num::NonZeroU16::new(addr.port()),
            modbus_host: Some("127.0.0.1".into()),
            modbus_unit_id: Some(1),
            device_profile: Some(name.into()),
            rated_power_w: Some(1000.0),
            group_id: None,
        };
        zones::create(&state, &heating_server::domain::Caller::local(), new)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    // The first cycle opens the connections; not measured.
    clock.advance(chrono::Duration::seconds(5));
    let first = poll_once(&state).await;
    anyhow::ensure!(first.ok == zones, "first cycle: {first:?}");
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut polls = 0;
    for _ in 0..cycles {
        clock.advance(chrono::Duration::seconds(5));
        let r = poll_once(&state).await;
        anyhow::ensure!(r.failed == 0, "{r:?}");
        polls += r.ok;
    }
    let cpu_s = cpu_seconds() - cpu0;
    let wall_s = wall0.elapsed().as_secs_f64();
    sim.shutdown().await;
    Ok(Run { polls, requests, cpu_s, wall_s })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let zones = env_or("ZONES", 1000);
    let cycles = env_or("CYCLES", 30);
    let _ = rlimit::increase_nofile_limit(zones as u64 * 3 + 1024);
    println!("{zones} zones, {cycles} cycles each");
    let mut base = None;
    for (label, profiles) in [
        ("heating-sim only", vec!["heating-sim"]),
        ("all four built-ins", vec!["heating-sim", "prototype-v1", "thermo-f32", "relay-coil"]),
    ] {
        let r = run(&profiles, zones, cycles).await?;
        let rate = r.polls as f64 / r.cpu_s;
        let ratio = base.map_or(String::new(), |b: f64| format!(" ({:.2}× the heating-sim figure)", rate / b));
        base.get_or_insert(rate);
        println!(
            "{label:>20}: {:.0} polls per CPU-second{ratio}; {:.2} requests a poll; {:.1} CPU-s, {:.1} s wall for {} polls",
            rate,
            r.requests as f64 / zones as f64,
            r.cpu_s,
            r.wall_s,
            r.polls
        );
    }
    Ok(())
}
