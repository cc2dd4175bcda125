//! How fast is `GET /zones/{id}/history` on a week of one-second readings?
//!
//! Inserts 604,800 readings (one zone, one per second for 7 days) into a fresh SQLite file in a temporary
//! directory, then times the storage call behind the endpoint for a few ranges and bucket counts.
//!
//! ```sh
//! cargo run --release -p heating-server --example history_bench
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::storage::{HistoryQuery, NewReading, Storage, ZoneFields};

const SECONDS: i64 = 7 * 24 * 3600;
const RUNS: usize = 7;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    let storage = Storage::connect(&url).await?;
    let start: DateTime<Utc> = "2026-11-20T00:00:00Z".parse()?;
    let fields = ZoneFields {
        name: ZoneName::parse("Bench").map_err(anyhow::Error::msg)?,
        preferences: Preferences::default(),
        modbus_host: ModbusHost::parse("localhost").map_err(anyhow::Error::msg)?,
        modbus_port: None,
        modbus_unit_id: 1,
        device_profile: "heating-sim".into(),
        rated_power_w: None,
    };
    let zone = storage.create_zone(&fields, start).await?;

    let began = Instant::now();
    let mut energy = 0u32;
    let mut batch = Vec::with_capacity(20_000);
    for s in 0..SECONDS {
        let day = (s % 86_400) as f64 / 86_400.0;
        let heater_on = (s / 600) % 3 == 0;
        if heater_on {
            energy = energy.wrapping_add(1);
        }
        batch.push(NewReading {
            zone_id: zone.id,
            ts: start + chrono::Duration::seconds(s),
            temperature: 19.0 + 2.0 * (day * std::f64::consts::TAU).sin() + (s % 7) as f64 * 0.05,
            target_temp: Some(if (s / 3600) % 24 >= 7 { 21.0 } else { 17.0 }),
            occupancy: (s / 1800) % 2 == 0,
            heater_on: Some(heater_on),
            energy_wh: Some(energy),
            outdoor_temp: Some(4.0 + 3.0 * (day * std::f64::consts::TAU).cos()),
            estimated: Default::default(),
        });
        if batch.len() == batch.capacity() {
            storage.insert_readings(&batch).await?;
            batch.clear();
        }
    }
    storage.insert_readings(&batch).await?;
    println!("inserted {SECONDS} readings in {:.1} s", began.elapsed().as_secs_f64());

    let end = start + chrono::Duration::seconds(SECONDS);
    let cases = [
        ("7 days, 500 points", start, end, 500),
        ("7 days, 2000 points", start, end, 2000),
        ("24 hours, 500 points", end - chrono::Duration::hours(24), end, 500),
        ("1 hour, 500 points", end - chrono::Duration::hours(1), end, 500),
    ];
    println!("{:<22} {:>9} {:>9} {:>9} {:>9}", "range", "buckets", "readings", "median", "best");
    for (label, from, to, points) in cases {
        let query = HistoryQuery::new(from, to, points).map_err(anyhow::Error::msg)?;
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut shape = (0, 0);
        for _ in 0..RUNS {
            let t = Instant::now();
            let history = storage.zone_history(zone.id, query).await?;
            times.push(t.elapsed());
            shape = (history.buckets.len(), history.readings);
        }
        times.sort();
        println!(
            "{label:<22} {:>9} {:>9} {:>7.1}ms {:>7.1}ms",
            shape.0,
            shape.1,
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
    }
    storage.close().await;
    Ok(())
}
