//! What does the learning job cost per zone?
//!
//! Simulates the Living Room for 14 days (the domain crate's room physics under the reactive control policy),
//! logs a reading every 5 s (the server's default poll interval: 241,920 readings) into a fresh SQLite file, then
//! times the two steps the learning job runs for each zone every hour: the model fit over the default 3 days and
//! over 14 days (`fit_zone`: load the readings, one-minute samples, least squares), and the occupancy relearned
//! from 14 days (`occupancy_from_storage`: 15-minute buckets aggregated in SQL).
//!
//! ```sh
//! cargo run --release -p heating-server --example learn_bench
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::clock::ManualClock;
use heating_core::control::{ControlInput, Decision, ReadingView, decide};
use heating_core::preferences::Preferences;
use heating_core::weather::SyntheticWeather;
use heating_core::zone::{SimZone, default_profiles};
use heating_server::Config;
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::learning::{fit_zone, occupancy_from_storage};
use heating_server::storage::{NewReading, ZoneFields};

const DAYS: i64 = 14;
const POLL_S: i64 = 5;
const RUNS: usize = 5;

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!("median {:.0} ms, best {:.0} ms", times[times.len() / 2].as_secs_f64() * 1e3, times[0].as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    let start: DateTime<Utc> = "2026-01-05T00:00:00Z".parse()?;
    let end = start + chrono::Duration::days(DAYS);
    let clock = Arc::new(ManualClock::new(end));
    let config = Config { background_jobs_disabled: true, ..Config::with_database_url(url) };
    let app = heating_server::build_with_clock(config, clock).await?;
    let state = app.state().clone();
    let fields = ZoneFields {
        name: ZoneName::parse("Living Room").map_err(anyhow::Error::msg)?,
        preferences: Preferences::default(),
        modbus_host: ModbusHost::parse("localhost").map_err(anyhow::Error::msg)?,
        modbus_port: None,
        modbus_unit_id: 1,
        device_profile: "heating-sim".into(),
        rated_power_w: None,
    };
    let zone = state.storage.create_zone(&fields, start).await?;

    let profile = &default_profiles()[0];
    let weather = SyntheticWeather::with_seed(42);
    let mut room = SimZone::new(profile, 0, &weather, start).map_err(|e| anyhow::anyhow!(e.0))?;
    let prefs = Preferences::default();
    let began = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    let mut now = start;
    let mut readings = 0;
    while now < end {
        if (now - start).num_seconds() % 600 == 0 {
            let s = room.snapshot();
            let input = ControlInput {
                preferences: &prefs,
                now,
                utc_offset_minutes: 0,
                reading: Some(ReadingView {
                    at: now,
                    occupied: s.occupied,
                    device_target: s.target,
                    outdoor_c: Some(s.outdoor_temperature),
                }),
                stale_after: chrono::Duration::minutes(10),
                weather_outdoor_c: None,
                hold: None,
            };
            if let Decision::Target { target, .. } = decide(&input) {
                room.set_target(target);
            }
        }
        now += chrono::Duration::seconds(POLL_S);
        room.advance_to(now, chrono::Duration::seconds(POLL_S), &weather);
        let s = room.snapshot();
        batch.push(NewReading {
            zone_id: zone.id,
            ts: now,
            temperature: (s.air_temperature * 10.0).round() / 10.0,
            target_temp: Some(s.target.celsius()),
            occupancy: s.occupied,
            heater_on: Some(s.heater_on),
            energy_wh: Some(s.energy_wh),
            outdoor_temp: Some((s.outdoor_temperature * 10.0).round() / 10.0),
            estimated: Default::default(),
        });
        if batch.len() == batch.capacity() {
            readings += state.storage.insert_readings(&batch).await?;
            batch.clear();
        }
    }
    readings += state.storage.insert_readings(&batch).await?;
    println!(
        "simulated and logged {readings} readings ({DAYS} days every {POLL_S} s) in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let power = profile.heater_power_w;
    for days in [3, 14] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..RUNS {
            let t = Instant::now();
            last = Some(fit_zone(&state, zone.id, power, days, end).await?);
            times.push(t.elapsed());
        }
        let fit = last.expect("ran");
        let m = fit.model;
        println!(
            "model fit over {days:>2} days: {} (good: {}, UA {:.2} W/K vs {:.2}, C {:.3} MJ/K vs {:.3})",
            summary(times),
            fit.good,
            m.ua_w_per_k,
            profile.ua_w_per_k,
            m.capacitance_j_per_k / 1e6,
            profile.capacitance_mj_per_k
        );
    }
    let mut times = Vec::new();
    let mut counted = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        counted = occupancy_from_storage(&state, zone.id, end).await?.readings();
        times.push(t.elapsed());
    }
    // The window is the 14 days up to the quarter hour after `end`: all but the first quarter hour's readings.
    println!("occupancy relearned from {DAYS} days ({counted} readings): {}", summary(times));
    Ok(())
}
