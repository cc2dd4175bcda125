//! The data lifecycle end to end: a simulated 60 days under raw retention of 7 days (acceptance 3), the CSV export
//! over HTTP (content, headers, errors, streaming), and `/status`'s maintenance and database parts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use heating_core::clock::{Clock, ManualClock};
use heating_core::preferences::Preferences;
use heating_server::config::{MaintenanceJob, parse_keep};
use heating_server::domain::{ModbusHost, ZoneName};
use heating_server::jobs::maintenance::run_job;
use heating_server::storage::{History, HistoryQuery, NewReading, ReadingFilter, ZoneFields};
use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app};
use crate::maintenance::app_on;

pub fn zone_fields(name: &str) -> ZoneFields {
    ZoneFields {
        name: ZoneName::parse(name).unwrap(),
        preferences: Preferences::default(),
        modbus_host: ModbusHost::parse("localhost").unwrap(),
        modbus_port: None,
        modbus_unit_id: 1,
        device_profile: "heating-sim".into(),
        rated_power_w: None,
    }
}

/// A reading at `ts` whose values follow from `i`; `energy_wh` is the counter.
pub fn reading(zone_id: i64, ts: DateTime<Utc>, i: u32) -> NewReading {
    NewReading {
        zone_id,
        ts,
        temperature: 19.0 + f64::from(i % 40) / 10.0,
        target_temp: (!i.is_multiple_of(5)).then_some(21.0),
        occupancy: i % 7 < 3,
        heater_on: (!i.is_multiple_of(11)).then_some(i.is_multiple_of(3)),
        energy_wh: Some(1000 + i * 2),
        outdoor_temp: (!i.is_multiple_of(13)).then(|| -2.5 + f64::from(i % 20) * 0.25),
        // Every fourth reading as from a device without an energy meter (the estimate's flag is exported too).
        estimated: heating_server::storage::Estimated::from_bits(u8::from(i.is_multiple_of(4))),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// 60 days at a 60 s poll interval for 3 zones, raw readings and 1-minute rollups kept 7 days (15-minute and hourly
/// rollups forever, the defaults), the retention job run at the end of every day (server clock). Checks raw rows,
/// what only the rollups can answer (the history of day 1 on day 60 as on day 2, the 60 days' energy) and the file's
/// size: flat but for the levels kept forever, which grow by design (about 15 kB a zone and day at any interval).
#[tokio::test]
async fn sixty_days_at_60_s_with_7_days_raw_history_from_rollups() {
    const ZONES: usize = 3;
    const PER_DAY: usize = 1440;
    let dir = tempfile::tempdir().unwrap();
    let start = at("2026-01-01T00:00:00Z");
    let clock = Arc::new(ManualClock::new(start));
    let state = app_on(&dir, clock.clone(), |c| {
        c.retention.retention_raw = parse_keep("7d").unwrap();
        c.retention.retention_minute = parse_keep("7d").unwrap();
    })
    .await;
    let mut zones = Vec::new();
    for z in 0..ZONES {
        zones.push(state.storage.create_zone(&zone_fields(&format!("Sim {z}")), start).await.unwrap().id);
    }
    let day = |d: i64| start + Span::days(d);
    let day1 = HistoryQuery::new(day(0), day(1), 96).unwrap();
    let whole = HistoryQuery::new(day(0), day(60), 60).unwrap();
    let mut counter = 0u32;
    let mut day1_on_day2: Vec<History> = Vec::new();
    let (mut raw_rows, mut sizes) = (Vec::new(), Vec::new());
    for d in 0..60 {
        let mut batch = Vec::with_capacity(ZONES * PER_DAY);
        for m in 0..PER_DAY {
            counter += 1;
            for &z in &zones {
                batch.push(reading(z, day(d) + Span::minutes(m as i64), counter));
            }
        }
        state.storage.insert_readings(&batch).await.unwrap();
        clock.set(day(d + 1));
        run_job(&state, MaintenanceJob::Retention).await;
        let run = state.reports.maintenance(MaintenanceJob::Retention).last_run.unwrap();
        assert!(run.ok, "{run:?}");
        let rows = state.storage.table_rows().await.unwrap();
        raw_rows.push(rows.iter().find(|(t, _)| *t == "sensor_readings").unwrap().1);
        // The file, and the part of it that the levels kept forever take.
        let forever: i64 = state
            .storage
            .table_bytes()
            .await
            .unwrap()
            .iter()
            .filter(|(t, _)| ["readings_15m", "readings_1h"].contains(t))
            .map(|(_, b)| *b)
            .sum();
        sizes.push((state.storage.database_size_bytes().await.unwrap(), forever));
        if d == 1 {
            for &z in &zones {
                day1_on_day2.push(state.storage.zone_history(z, day1).await.unwrap());
            }
        }
    }
    // Raw rows: every day's until day 7, then exactly the last 7 days' (nothing newer than the cutoff lost).
    for (d, rows) in raw_rows.iter().enumerate() {
        let days = (d + 1).min(7);
        assert_eq!(*rows, (days * ZONES * PER_DAY) as i64, "raw rows after day {}", d + 1);
    }
    let rest: Vec<i64> = sizes[30..].iter().map(|(file, forever)| file - forever).collect();
    let (min, max) = (*rest.iter().min().unwrap(), *rest.iter().max().unwrap());
    let (first, last) = (sizes[30], sizes[59]);
    println!(
        "database over the last 30 days: file {}..{} bytes, of which 15-minute and hourly rollups {}..{}; \
         the rest {min}..{max} bytes",
        first.0, last.0, first.1, last.1
    );
    assert!(max as f64 <= min as f64 * 1.10, "the file grows: {min}..{max} bytes over the last 30 days");
    // The levels kept forever grow by what they hold, nothing more: the file by no more than they did (+10 %).
    assert!(
        (last.0 - first.0) as f64 <= (last.1 - first.1) as f64 * 1.10 + min as f64 * 0.10,
        "the file grew by {} bytes, its rollups kept forever by {}",
        last.0 - first.0,
        last.1 - first.1
    );

    {
        for (i, &z) in zones.iter().enumerate() {
            let now = state.storage.zone_history(z, day1).await.unwrap();
            assert_same_history(&now, &day1_on_day2[i], z);
            let total = state.storage.zone_history(z, whole).await.unwrap();
            let expected = i64::from(counter - 1) * 2;
            assert_eq!(total.energy_wh, Some(expected), "zone {z}: energy over the 60 days");
        }
    }
}

/// The same buckets, counts and energy; means within rounding (rollups sum in another order than raw rows).
fn assert_same_history(a: &History, b: &History, zone: i64) {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1.0);
    let stats = |x: Option<heating_server::storage::Stats>, y: Option<heating_server::storage::Stats>| match (x, y) {
        (Some(x), Some(y)) => close(x.min, y.min) && close(x.avg, y.avg) && close(x.max, y.max),
        (x, y) => x.is_none() && y.is_none(),
    };
    let same = a.readings == b.readings
        && a.energy_wh == b.energy_wh
        && a.buckets.len() == b.buckets.len()
        && a.buckets.iter().zip(&b.buckets).all(|(x, y)| {
            x.start == y.start
                && x.count == y.count
                && stats(Some(x.temperature), Some(y.temperature))
                && stats(x.target_temp, y.target_temp)
                && stats(x.outdoor_temp, y.outdoor_temp)
                && x.heater_on_fraction
                    .zip(y.heater_on_fraction)
                    .map_or(x.heater_on_fraction.is_none() && y.heater_on_fraction.is_none(), |(p, q)| close(p, q))
                && close(x.occupied_fraction, y.occupied_fraction)
        });
    assert!(same, "zone {zone}: day 1 on day 60\n{a:?}\ndiffers from day 2's\n{b:?}");
}

/// The CSV line of a reading, written here apart from the server's code.
fn csv_line(r: &heating_server::storage::Reading) -> String {
    let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    format!(
        "{},{},{},{},{},{},{},{},{}",
        r.zone_id,
        r.ts.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        r.temperature,
        f(r.target_temp),
        f(r.outdoor_temp),
        if r.occupancy { "1" } else { "0" },
        r.heater_on.map_or("", |h| if h { "1" } else { "0" }),
        r.energy_wh.map_or(String::new(), |e| e.to_string()),
        r.estimated.names().join(";"),
    )
}

const HEADER: &str = "zone_id,ts,temperature_c,target_c,outdoor_c,occupied,heater_on,energy_wh,estimated";

#[tokio::test]
async fn csv_exports_hold_the_stored_readings_with_headers_for_a_download() {
    let app = spawn_app().await;
    let a = app.zone_named("Export A").await;
    let b = app.zone_named("Export B").await;
    let t = at("2026-11-20T08:00:00Z");
    let mut rows = Vec::new();
    for i in 0..30u32 {
        rows.push(reading(a, t + Span::seconds(i64::from(i) * 30), i));
        rows.push(reading(b, t + Span::seconds(i64::from(i) * 30), i + 100));
    }
    app.state.storage.insert_readings(&rows).await.unwrap();
    let storage = app.state.storage.clone();
    let stored = |zone| {
        let storage = storage.clone();
        async move {
            let mut r = storage.list_zone_readings(zone, ReadingFilter::default()).await.unwrap();
            r.reverse();
            r
        }
    };
    let (sa, sb) = (stored(a).await, stored(b).await);

    let resp = app.get(&format!("/zones/{a}/history.csv?from=2026-11-20T08:00:00Z&to=2026-11-20T09:00:00Z")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"history-zone-{a}-20261120T080000Z-20261120T090000Z.csv\"")
    );
    let text = resp.text().await.unwrap();
    let expected: Vec<String> = std::iter::once(HEADER.to_string()).chain(sa.iter().map(csv_line)).collect();
    assert_eq!(text, expected.join("\n") + "\n");
    assert!(text.contains(",,"), "missing values are empty fields");

    // All zones, a sub-range: oldest first, ties by id.
    let text = app.get("/history.csv?from=2026-11-20T08:05:00Z&to=2026-11-20T08:10:00Z").await.text().await.unwrap();
    let mut both: Vec<_> =
        sa.iter().chain(&sb).filter(|r| r.ts >= t + Span::minutes(5) && r.ts < t + Span::minutes(10)).collect();
    both.sort_by_key(|r| (r.ts, r.id));
    let expected: Vec<String> = std::iter::once(HEADER.to_string()).chain(both.iter().map(|r| csv_line(r))).collect();
    assert_eq!(text, expected.join("\n") + "\n");
    assert_eq!(text.lines().count(), 21);

    // Default range: the last 24 hours before now (the server clock is days after these readings): header only.
    assert_eq!(app.get(&format!("/zones/{a}/history.csv")).await.text().await.unwrap(), format!("{HEADER}\n"));

    let q = "from=2026-11-20T08:00:00Z&to=2026-11-20T09:00:00Z";
    // Rollup levels: one row per bucket (a zone's by time; all zones by zone, then time), the counts adding up to the
    // raw readings, the energy counter's first and last value and the energy used inside each bucket.
    let text = app.get(&format!("/zones/{a}/history.csv?{q}&level=1m")).await.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("zone_id,bucket_start,readings,temperature_min_c,"), "{text}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 15, "{text}");
    assert!(rows.iter().all(|r| r[0] == a.to_string() && r[2] == "2" && r.len() == 17), "{text}");
    assert_eq!(rows[0][1], "2026-11-20T08:00:00.000Z");
    let text = app.get(&format!("/history.csv?{q}&level=1h")).await.text().await.unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let (first, last) = (rows[0].len() - 3, rows[0].len() - 1);
    let shown: Vec<_> = rows.iter().map(|r| (r[0], r[2], r[first], r[first + 1], r[last])).collect();
    let (a_id, b_id) = (a.to_string(), b.to_string());
    assert_eq!(shown, [(&*a_id, "30", "1000", "1058", "58"), (&*b_id, "30", "1200", "1258", "58")], "{text}");
    assert_error(app.get(&format!("/history.csv?{q}&level=weekly")).await, StatusCode::UNPROCESSABLE_ENTITY, "level:")
        .await;
    assert_error(
        app.get(&format!("/zones/{a}/history.csv?from=2026-11-20T09:00:00Z&to=2026-11-20T08:00:00Z")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "from must be before to",
    )
    .await;
    assert_error(
        app.get("/history.csv?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "to: the range is longer than 366 days",
    )
    .await;
    assert_error(app.get("/history.csv?from=yesterday").await, StatusCode::UNPROCESSABLE_ENTITY, "from").await;
    assert_error(app.get(&format!("/zones/999999/history.csv?{q}")).await, StatusCode::NOT_FOUND, "not found").await;
    app.stop().await;
}

/// A large export is streamed: its first bytes arrive while the server has not read the end of the range yet —
/// readings stored at the end of the range after the first bytes arrived are in the answer (keyset pages read
/// one by one as the client reads), and the whole answer equals the stored readings.
#[tokio::test]
async fn a_large_export_streams_page_by_page() {
    let app = spawn_app().await;
    let z = app.zone_named("Large").await;
    let t = at("2026-11-01T00:00:00Z");
    const N: u32 = 150_000; // about 11 MB of CSV, far more than the socket buffers hold
    let rows: Vec<_> = (0..N).map(|i| reading(z, t + Span::seconds(i64::from(i)), i)).collect();
    app.state.storage.insert_readings(&rows).await.unwrap();
    let to = t + Span::seconds(i64::from(N) + 100);
    let url = format!("/zones/{z}/history.csv?from=2026-11-01T00:00:00Z&to={}", to.format("%Y-%m-%dT%H:%M:%SZ"));
    let started = Instant::now();
    let resp = app.get(&url).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut resp = resp;
    let first = resp.chunk().await.unwrap().unwrap();
    let first_after = started.elapsed();
    assert!(first.starts_with(HEADER.as_bytes()));
    // Stored now, at the very end of the range: only a lazily read export can hold them.
    let late: Vec<_> = (0..10).map(|i| reading(z, t + Span::seconds(i64::from(N) + 50 + i), 7)).collect();
    app.state.storage.insert_readings(&late).await.unwrap();
    let mut all = first.to_vec();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        all.extend_from_slice(&chunk);
    }
    println!("first bytes after {first_after:?}, all {} bytes after {:?}", all.len(), started.elapsed());
    let text = String::from_utf8(all).unwrap();
    let mut stored = app.state.storage.readings_between(z, t, to, 1_000_000).await.unwrap();
    stored.sort_by_key(|r| (r.ts, r.id));
    assert_eq!(stored.len(), N as usize + 10);
    let expected: Vec<String> = std::iter::once(HEADER.to_string()).chain(stored.iter().map(csv_line)).collect();
    assert!(text == expected.join("\n") + "\n", "the export differs from the stored readings");
    app.stop().await;
}

#[tokio::test]
async fn status_shows_the_maintenance_jobs_and_rows_and_bytes_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-12-01T03:00:00Z")));
    let mut state = app_on(&dir, clock.clone(), |_| {}).await;
    // As a running server (whose jobs are on) would show them.
    let mut config = (*state.config).clone();
    config.background_jobs_disabled = false;
    state.config = Arc::new(config);
    run_job(&state, MaintenanceJob::DbCheck).await;
    let status = heating_server::services::status::status(&state).await.unwrap();
    let jobs: Vec<_> = status.maintenance.iter().map(|j| (j.job.name(), j.schedule.clone(), j.next_run)).collect();
    assert_eq!(
        jobs,
        [
            ("retention", Some("0 */10 * * * *".into()), Some(at("2026-12-01T03:10:00Z"))),
            ("occupancy_relearn", Some("0 0 0 * * *".into()), Some(at("2026-12-02T00:00:00Z"))),
            ("db_check", Some("0 30 3 * * *".into()), Some(at("2026-12-01T03:30:00Z"))),
            ("rollup_rebuild", None, None),
        ]
    );
    let check = status.maintenance[2].record.last_run.clone().unwrap();
    assert_eq!((check.started_at, check.ok), (clock.now(), true));

    // Over HTTP: the JSON form, and the database's figures once read (the first `/status` starts reading them).
    let app = spawn_app().await;
    let z = app.zone_named("Counted").await;
    app.state.storage.insert_readings(&[reading(z, at("2026-11-27T10:00:00Z"), 1)]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = crate::helpers::json_of(app.get("/status").await).await;
        assert_eq!(status, StatusCode::OK);
        if !body["database"].is_null() {
            break body;
        }
        assert!(Instant::now() < deadline, "no database figures: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let names: Vec<_> = body["maintenance"]["jobs"].as_array().unwrap().iter().map(|j| j["name"].clone()).collect();
    assert_eq!(names, ["retention", "occupancy_relearn", "db_check", "rollup_rebuild"]);
    assert_eq!(body["maintenance"]["jobs"][0]["setting"], "MAINTENANCE_RETENTION_CRON");
    assert!(body["maintenance"]["jobs"][0]["schedule"].is_null(), "this test server runs no jobs: {body}");
    let tables = body["database"]["tables"].as_array().unwrap();
    let readings = tables.iter().find(|t| t["name"] == "sensor_readings").unwrap();
    assert_eq!(readings["rows"], 1);
    assert!(readings["bytes"].as_i64().unwrap() > 0, "{readings}");
    assert!(body["database"]["size_bytes"].as_i64().unwrap() > 0);
    // SQLite: one instance, this one.
    let instances = body["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{body}");
    let me = &instances[0];
    assert!(me["this"] == true && me["alive"] == true && !me["id"].as_str().unwrap().is_empty(), "{me}");
    assert!(me["started_at"].as_str().unwrap().ends_with('Z'), "{me}");
    app.stop().await;
}
