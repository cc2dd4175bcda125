//! How fast is `GET /zones/{id}/history` over a week, a month and a year, on SQLite and on PostgreSQL?
//!
//! Per backend: zone "Month" gets one reading a second for 30 days (2,592,000 readings, stored through
//! `insert_readings` in batches of 20,000, so the rollups are maintained as in production), zone "Year" one reading a
//! minute for 365 days (525,600 readings). Then the storage call behind the endpoint is timed: the last week and the
//! whole month of 1 s readings in 500 points (answered from the 15-minute and hourly rollups and the raw edges),
//! the year in 365 points (hourly rollups), and shorter ranges. SQLite runs on a fresh file in a temporary
//! directory; PostgreSQL on a fresh database created through `BENCH_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards. Also printed: rows and bytes per row of the
//! raw table and of each rollup level, for the data lifecycle's disk estimates.
//!
//! ```sh
//! cargo run --release -p heating-server --example history_bench
//! BENCH_BACKENDS=sqlite BENCH_DAYS=7 cargo run --release -p heating-server --example history_bench
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::storage::{HistoryQuery, NewReading, Storage, ZoneFields};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

const RUNS: usize = 7;
const BATCH: usize = 20_000;

fn env_or(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One synthetic reading of zone `zone` at `start + s` seconds; `energy` is the zone's counter.
fn reading(zone: i64, start: DateTime<Utc>, s: i64, step_s: i64, energy: &mut u32) -> NewReading {
    let day = (s % 86_400) as f64 / 86_400.0;
    let heater_on = (s / 600) % 3 == 0;
    if heater_on {
        *energy = energy.wrapping_add(step_s as u32);
    }
    NewReading {
        zone_id: zone,
        ts: start + chrono::Duration::seconds(s),
        temperature: 19.0 + 2.0 * (day * std::f64::consts::TAU).sin() + (s % 7) as f64 * 0.05,
        target_temp: Some(if (s / 3600) % 24 >= 7 { 21.0 } else { 17.0 }),
        occupancy: (s / 1800) % 2 == 0,
        heater_on: Some(heater_on),
        energy_wh: Some(*energy),
        outdoor_temp: Some(4.0 + 3.0 * (day * std::f64::consts::TAU).cos()),
        estimated: Default::default(),
    }
}

/// Readings of `zone` every `step_s` seconds for `seconds`, ending at `end`; returns how long storing took.
async fn fill(s: &Storage, zone: i64, end: DateTime<Utc>, seconds: i64, step_s: i64) -> anyhow::Result<Duration> {
    let start = end - chrono::Duration::seconds(seconds);
    let began = Instant::now();
    let mut energy = 0u32;
    let mut batch = Vec::with_capacity(BATCH);
    let mut t = 0;
    while t < seconds {
        batch.push(reading(zone, start, t, step_s, &mut energy));
        if batch.len() == BATCH {
            s.insert_readings(&batch).await?;
            batch.clear();
        }
        t += step_s;
    }
    s.insert_readings(&batch).await?;
    Ok(began.elapsed())
}

fn fields(name: &str) -> anyhow::Result<ZoneFields> {
    Ok(ZoneFields {
        name: ZoneName::parse(name).map_err(anyhow::Error::msg)?,
        preferences: Preferences::default(),
        modbus_host: ModbusHost::parse("localhost").map_err(anyhow::Error::msg)?,
        modbus_port: None,
        modbus_unit_id: 1,
        device_profile: "heating-sim".into(),
        rated_power_w: None,
    })
}

async fn bench(label: &str, storage: &Storage) -> anyhow::Result<()> {
    let days = env_or("BENCH_DAYS", 30);
    let end: DateTime<Utc> = "2026-12-01T00:00:00Z".parse()?;
    let month = storage.create_zone(&fields("Month")?, end).await?;
    let year = storage.create_zone(&fields("Year")?, end).await?;
    let took = fill(storage, month.id, end, days * 86_400, 1).await?;
    println!("[{label}] {} days of 1 s readings stored in {:.1} s (rollups maintained)", days, took.as_secs_f64());
    let took = fill(storage, year.id, end, 365 * 86_400, 60).await?;
    println!("[{label}] 365 days of 60 s readings stored in {:.1} s", took.as_secs_f64());

    let h = chrono::Duration::hours;
    let cases = [
        ("week of 1 s, 500 points", month.id, end - h(7 * 24), 500),
        ("month of 1 s, 500 points", month.id, end - h(days * 24), 500),
        ("year of 60 s, 365 points", year.id, end - h(365 * 24), 365),
        ("week of 1 s, 2000 points", month.id, end - h(7 * 24), 2000),
        ("24 hours, 500 points", month.id, end - h(24), 500),
        ("1 hour, 500 points", month.id, end - h(1), 500),
    ];
    println!(
        "[{label}] {:<26} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "range", "level", "buckets", "readings", "median", "best"
    );
    for (what, zone, from, points) in cases {
        let query = HistoryQuery::new(from, end, points).map_err(anyhow::Error::msg)?;
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut shape = (0, 0, "");
        for _ in 0..RUNS {
            let t = Instant::now();
            let history = storage.zone_history(zone, query).await?;
            times.push(t.elapsed());
            shape = (history.buckets.len(), history.readings, history.resolution.as_str());
        }
        times.sort();
        println!(
            "[{label}] {what:<26} {:>6} {:>9} {:>9} {:>7.1}ms {:>7.1}ms",
            shape.2,
            shape.0,
            shape.1,
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Rows and bytes of each table: SQLite's `dbstat` (payload and page overhead of the table and its indexes).
async fn sqlite_sizes(url: &str) -> anyhow::Result<()> {
    let pool = sqlx::SqlitePool::connect(url).await?;
    for (table, indexes) in [
        ("sensor_readings", "'sensor_readings', 'sensor_readings_zone_ts', 'sensor_readings_ts'"),
        ("readings_1m", "'readings_1m', 'readings_1m_unsettled'"),
        ("readings_15m", "'readings_15m', 'readings_15m_unsettled', 'readings_15m_bucket'"),
        ("readings_1h", "'readings_1h', 'readings_1h_unsettled'"),
    ] {
        let (rows,): (i64,) =
            sqlx::query_as(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(&pool).await?;
        let (bytes,): (i64,) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ({indexes})"
        )))
        .fetch_one(&pool)
        .await?;
        print_size("sqlite", table, rows, bytes);
    }
    pool.close().await;
    Ok(())
}

async fn postgres_sizes(url: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url).await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    for table in ["sensor_readings", "readings_1m", "readings_15m", "readings_1h"] {
        let (rows, bytes): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT (SELECT COUNT(*) FROM {table}), pg_total_relation_size('{table}')"
        )))
        .fetch_one(&pool)
        .await?;
        print_size("postgres", table, rows, bytes);
    }
    pool.close().await;
    Ok(())
}

fn print_size(label: &str, table: &str, rows: i64, bytes: i64) {
    println!(
        "[{label}] {table:<16} {rows:>9} rows {:>8.1} MiB {:>6.1} bytes/row (table + indexes)",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / rows.max(1) as f64
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    if backends.contains("sqlite") {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
        let storage = Storage::connect(&url).await?;
        bench("sqlite", &storage).await?;
        storage.close().await;
        if let Err(e) = sqlite_sizes(&url).await {
            println!("[sqlite] sizes unavailable: {e}");
        }
    }
    if backends.contains("postgres") {
        let admin_url =
            std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let options: sqlx::postgres::PgConnectOptions = admin_url.parse()?;
        let mut admin = options.connect().await?;
        let name = format!("heating_bench_{}", std::process::id());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
        let url = options.clone().database(&name).to_url_lossy().to_string();
        let outcome = async {
            let storage = Storage::connect(&url).await?;
            bench("postgres", &storage).await?;
            storage.close().await;
            postgres_sizes(&url).await
        }
        .await;
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut admin).await?;
        admin.close().await?;
        outcome?;
    }
    Ok(())
}
