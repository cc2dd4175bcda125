//! Does a retention run over 10 million expired rows delay the poller? (Acceptance 4 of the data lifecycle.)
//!
//! Fills a fresh database with `--rows` expired readings (default 10,000,000, 100 zones, spread over the 30 days
//! before the cutoff; one `INSERT ... SELECT` over a generated series) and 100,000 readings newer than the cutoff,
//! then runs the retention job's purge (the same code: batches of `RETENTION_BATCH_ROWS` with the job's pause
//! between them) while a simulated poller stores a batch of 1,000 readings every second and times each batch.
//! Prints the poll batches' latency (max, p99, median) during the run, the purge's rate, and checks that every row
//! newer than the cutoff, and every polled row, is still there.
//!
//! ```sh
//! cargo run --release -p heating-server --example retention_bench                      # SQLite
//! cargo run --release -p heating-server --example retention_bench -- --postgres       # TEST_POSTGRES_URL's server
//! cargo run --release -p heating-server --example retention_bench -- --rows 1000000 --batch 5000
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::clock::ManualClock;
use heating_core::preferences::Preferences;
use heating_server::Config;
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::jobs::maintenance::purge;
use heating_server::storage::{NewReading, Retained, ZoneFields};
use sqlx::{AssertSqlSafe, Connection};

const ZONES: i64 = 100;
const POLL_BATCH: usize = 1000;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: i64 = arg("--rows", 10_000_000);
    let batch: u32 = arg("--batch", heating_server::config::RetentionSettings::default().retention_batch_rows);
    let postgres = std::env::args().any(|a| a == "--postgres");
    let dir = tempfile::tempdir()?;
    let (url, pg_cleanup) = if postgres {
        let admin = std::env::var("TEST_POSTGRES_URL").unwrap_or("postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("retention_bench_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
        let url = match admin.rfind('/') {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => anyhow::bail!("TEST_POSTGRES_URL has no database part"),
        };
        (url, Some((conn, name)))
    } else {
        (format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()), None)
    };

    let now: DateTime<Utc> = "2026-12-01T00:00:00Z".parse()?;
    let clock = Arc::new(ManualClock::new(now));
    let config = Config { background_jobs_disabled: true, ..Config::with_database_url(url.clone()) };
    let app = heating_server::build_with_clock(config, clock).await?;
    let state = app.state().clone();
    let mut zone_ids = Vec::new();
    for z in 0..ZONES {
        let fields = ZoneFields {
            name: ZoneName::parse(&format!("Bench {z}")).map_err(anyhow::Error::msg)?,
            preferences: Preferences::default(),
            modbus_host: ModbusHost::parse("localhost").map_err(anyhow::Error::msg)?,
            modbus_port: None,
            modbus_unit_id: 1,
            device_profile: "heating-sim".into(),
            rated_power_w: None,
        };
        zone_ids.push(state.storage.create_zone(&fields, now).await?.id);
    }
    let first = zone_ids[0];
    let cutoff = now - chrono::Duration::days(30);
    let cutoff_ms = cutoff.timestamp_millis();

    // Expired rows over the 30 days before the cutoff, and 100,000 rows over the 7 days after it.
    let fill = Instant::now();
    let span_ms: i64 = 30 * 86_400_000;
    let newer: i64 = 100_000;
    let series = |n: i64, from_ms: i64, step_ms: i64| {
        let select = format!(
            "SELECT {first} + (i % {ZONES}), {from_ms} + (i / {ZONES}) * {step_ms}, 20.0 + (i % 50) / 10.0, 21.0, \
             (i % 2), (i % 3 = 0), 1000 + i / {ZONES}, 5.0"
        );
        let insert = "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, \
                      energy_wh, outdoor_temp) ";
        if postgres {
            format!(
                "{insert}SELECT {first} + (i % {ZONES}), {from_ms} + (i / {ZONES}) * {step_ms}, 20.0 + (i % 50) / 10.0, \
                 21.0, (i % 2) = 1, (i % 3) = 0, 1000 + i / {ZONES}, 5.0 FROM generate_series(0::bigint, {n} - 1) AS s(i)"
            )
        } else {
            format!(
                "{insert}WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) {select} FROM s"
            )
        }
    };
    let step_old = (span_ms * ZONES / rows.max(1)).max(1);
    let step_new = 7 * 86_400_000 * ZONES / newer;
    let statements = [series(rows, cutoff_ms - span_ms, step_old), series(newer, cutoff_ms, step_new)];
    if postgres {
        let mut conn = sqlx::PgConnection::connect(&url).await?;
        for s in statements {
            sqlx::query(AssertSqlSafe(s)).execute(&mut conn).await?;
        }
        sqlx::query("VACUUM ANALYZE sensor_readings").execute(&mut conn).await?;
    } else {
        let mut conn = sqlx::SqliteConnection::connect(&url).await?;
        for s in statements {
            sqlx::query(AssertSqlSafe(s)).execute(&mut conn).await?;
        }
        sqlx::query("ANALYZE").execute(&mut conn).await?;
    }
    let count = |s: heating_server::AppState| async move {
        let rows = s.storage.table_rows().await?;
        anyhow::Ok(rows.iter().find(|(t, _)| *t == "sensor_readings").map_or(0, |(_, n)| *n))
    };
    let before = count(state.clone()).await?;
    let newer_before = state.storage.readings_page(None, cutoff, now, None, u32::MAX).await?.len();
    println!(
        "{}: {before} rows ({rows} expired, {newer_before} newer) in {:.1} s; database {} MB",
        if postgres { "PostgreSQL" } else { "SQLite" },
        fill.elapsed().as_secs_f64(),
        state.storage.database_size_bytes().await? / 1_000_000
    );

    // The simulated poller: 1,000 readings every second, each batch timed, until the purge ends.
    let stop = tokio_util::sync::CancellationToken::new();
    let poller = tokio::spawn({
        let (state, stop, zone_ids) = (state.clone(), stop.clone(), zone_ids.clone());
        async move {
            let mut latencies = Vec::new();
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            let mut cycle = 0i64;
            while !stop.is_cancelled() {
                ticks.tick().await;
                cycle += 1;
                let readings: Vec<NewReading> = (0..POLL_BATCH)
                    .map(|i| NewReading {
                        zone_id: zone_ids[i % zone_ids.len()],
                        ts: cutoff
                            + chrono::Duration::days(1)
                            + chrono::Duration::milliseconds(cycle * 1000 + i as i64),
                        temperature: 20.0,
                        target_temp: Some(21.0),
                        occupancy: true,
                        heater_on: Some(false),
                        energy_wh: Some(1),
                        outdoor_temp: Some(4.0),
                        estimated: Default::default(),
                    })
                    .collect();
                let t = Instant::now();
                state.storage.insert_readings(&readings).await.expect("poll batch stored");
                latencies.push(t.elapsed());
            }
            latencies
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (deleted, batches, ms) = purge(&state, Retained::Readings, cutoff, batch).await?;
    stop.cancel();
    let mut latencies = poller.await?;
    let polled = latencies.len() * POLL_BATCH;
    let reclaim = Instant::now();
    let reclaimed = state.storage.reclaim_space(i64::MAX, 1024, Duration::from_millis(10), i64::MAX).await?;
    let reclaim_s = reclaim.elapsed().as_secs_f64();

    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "purge: {deleted} rows in {batches} batches of {batch} in {:.1} s ({:.0} rows/s)",
        ms / 1000.0,
        deleted as f64 / (ms / 1000.0)
    );
    println!(
        "poll batches of {POLL_BATCH} during the purge: {} cycles, max {:.1} ms, p99 {:.1} ms, median {:.1} ms",
        latencies.len(),
        pick(1.0),
        pick(0.99),
        pick(0.5)
    );
    if let Some(r) = reclaimed {
        println!(
            "space given back: {} pages in {reclaim_s:.1} s; database now {} MB",
            r.pages,
            state.storage.database_size_bytes().await? / 1_000_000
        );
    }
    let after = count(state.clone()).await?;
    let newer_after = state.storage.readings_page(None, cutoff, now, None, u32::MAX).await?.len();
    assert_eq!(deleted as i64, rows, "every expired row deleted");
    assert_eq!(newer_after, newer_before + polled, "nothing newer than the cutoff lost, every polled row stored");
    assert_eq!(after, before - rows + polled as i64);
    println!("checked: {newer_after} rows newer than the cutoff kept ({polled} of them polled during the purge)");
    state.storage.close().await;
    if let Some((mut conn, name)) = pg_cleanup {
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await?;
    }
    Ok(())
}
