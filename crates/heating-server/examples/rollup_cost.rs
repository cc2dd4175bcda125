//! What storing a poll cycle's readings costs, rollups on and off, without the Modbus side: `--zones` zones (default
//! 1,000), `--cycles` batches (default 300) of one reading per zone, one second apart, into a fresh SQLite file (or
//! PostgreSQL with `--postgres`, `TEST_POSTGRES_URL`'s server), through `Storage::insert_readings`. Prints the CPU
//! time of this process per batch and per reading (PostgreSQL's own work happens in its server processes and is not
//! counted) and the wall time per batch.
//!
//! ```sh
//! cargo run --release -p heating-server --example rollup_cost              # rollups on
//! cargo run --release -p heating-server --example rollup_cost -- --off     # off (the benchmark's hidden switch)
//! cargo run --release -p heating-server --example rollup_cost -- --each    # every batch's wall time too
//! ```

use std::time::Instant;

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::storage::{NewReading, Storage, ZoneFields};
use sqlx::{AssertSqlSafe, Connection};

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU time of this process so far (every thread), in nanoseconds.
fn cpu_ns() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    total
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let zones: i64 = arg("--zones", 1000);
    let cycles: i64 = arg("--cycles", 300);
    let off = std::env::args().any(|a| a == "--off");
    let postgres = std::env::args().any(|a| a == "--postgres");
    let dir = tempfile::tempdir()?;
    let (url, pg) = if postgres {
        let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("rollup_cost_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
        let Some(i) = admin.rfind('/') else { anyhow::bail!("TEST_POSTGRES_URL has no database part") };
        (format!("{}/{name}", &admin[..i]), Some((conn, name)))
    } else {
        (format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()), None)
    };
    let storage = Storage::connect(&url).await?;
    let storage = if off { storage.without_rollups() } else { storage };
    // 2026-12-01T10:00:20Z: the cycles cross minute, quarter and hour boundaries.
    let start: DateTime<Utc> = "2026-12-01T10:00:20Z".parse()?;
    let mut ids = Vec::new();
    for z in 0..zones {
        let fields = ZoneFields {
            name: ZoneName::parse(&format!("Bench {z}")).map_err(anyhow::Error::msg)?,
            preferences: Preferences::default(),
            modbus_host: ModbusHost::parse("localhost").map_err(anyhow::Error::msg)?,
            modbus_port: None,
            modbus_unit_id: 1,
            device_profile: "heating-sim".into(),
            rated_power_w: None,
        };
        ids.push(storage.create_zone(&fields, start).await?.id);
    }
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    for c in 0..cycles {
        let batch: Vec<NewReading> = ids
            .iter()
            .enumerate()
            .map(|(i, &zone_id)| NewReading {
                zone_id,
                ts: start + chrono::Duration::milliseconds(c * 1000 + i as i64 / 10),
                temperature: 19.0 + (i % 30) as f64 / 10.0 + (c % 7) as f64 / 100.0,
                target_temp: Some(20.5),
                occupancy: (c / 60 + i as i64) % 2 == 0,
                heater_on: Some((c + i as i64) % 3 == 0),
                energy_wh: Some(1000 + (c * 3 + i as i64) as u32),
                outdoor_temp: Some(4.2),
                estimated: Default::default(),
            })
            .collect();
        let (t, c0) = (Instant::now(), cpu_ns());
        storage.insert_readings(&batch).await?;
        cpu.push((cpu_ns() - c0) as f64 / 1e6);
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        if std::env::args().any(|a| a == "--each") {
            println!("batch {c}: {:.1} ms", wall[wall.len() - 1]);
        }
    }
    // The first 10 batches warm the caches; the rest are measured.
    let measured = &cpu[10.min(cpu.len())..];
    let total: f64 = measured.iter().sum();
    let mut w = wall[10.min(wall.len())..].to_vec();
    w.sort_by(f64::total_cmp);
    println!(
        "rollups {}: {:.2} ms CPU per batch of {zones}, {:.2} µs per reading; wall p50 {:.2} ms, max {:.2} ms",
        if off { "off" } else { "on" },
        total / measured.len() as f64,
        total * 1e3 / (measured.len() as f64 * zones as f64),
        w[w.len() / 2],
        w[w.len() - 1],
    );
    storage.close().await;
    if let Some((mut conn, name)) = pg {
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&mut conn).await?;
    }
    Ok(())
}
