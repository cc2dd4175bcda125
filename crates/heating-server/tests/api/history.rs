//! `GET /zones/{id}/history`: buckets aggregated in the database, checked against the raw readings.

use chrono::{DateTime, Duration, Utc};
use heating_server::storage::NewReading;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, assert_error, json_of, spawn_app, t0, utc};

fn rfc(t: DateTime<Utc>) -> String {
    heating_server::time::rfc3339(t)
}

/// A polled-looking reading: every field set.
fn reading(zone_id: i64, ts: DateTime<Utc>, temperature: f64, i: usize) -> NewReading {
    NewReading {
        zone_id,
        ts,
        temperature,
        target_temp: Some(if i.is_multiple_of(4) { 21.0 } else { 17.0 }),
        occupancy: i.is_multiple_of(3),
        heater_on: Some(i.is_multiple_of(2)),
        energy_wh: Some(u32::try_from(i * 5).unwrap()),
        outdoor_temp: Some(-2.0 + (i % 7) as f64 * 0.5),
        estimated: Default::default(),
    }
}

async fn history(app: &TestApp, id: i64, query: &str) -> Value {
    let (status, body) = json_of(app.get(&format!("/zones/{id}/history?{query}")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn close(a: &Value, b: f64, what: &str) {
    let a = a.as_f64().unwrap_or_else(|| panic!("{what}: not a number: {a}"));
    assert!((a - b).abs() < 1e-9, "{what}: {a} != {b}");
}

fn stats_of(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, values.iter().sum::<f64>() / values.len() as f64, max)
}

fn check_stats(got: &Value, values: &[f64], what: &str) {
    let (min, avg, max) = stats_of(values);
    close(&got["min"], min, &format!("{what}.min"));
    close(&got["avg"], avg, &format!("{what}.avg"));
    close(&got["max"], max, &format!("{what}.max"));
}

#[tokio::test]
async fn buckets_hold_min_avg_max_of_the_raw_readings() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    // 100 readings, one every 10 s from t0, with temperatures that are not monotonic within a bucket.
    let raw: Vec<NewReading> = (0..100)
        .map(|i| reading(id, t0() + Duration::seconds(10 * i as i64), 15.0 + ((i * 7) % 13) as f64 * 0.5, i))
        .collect();
    app.state.storage.insert_readings(&raw).await.unwrap();
    // Another zone's readings in the same range must not count.
    let other = app.zone_named("Other").await;
    app.state.storage.insert_readings(&[reading(other, t0(), 99.0, 0)]).await.unwrap();

    let body =
        history(&app, id, &format!("from={}&to={}&points=10", rfc(t0()), rfc(t0() + Duration::seconds(1000)))).await;
    assert_eq!(body["zone_id"], id);
    assert_eq!(body["points"], 10);
    assert_eq!(body["bucket_seconds"], 100.0);
    assert_eq!(body["readings"], 100);
    assert_eq!(utc(&body["from"]), t0());
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 10);
    for (b, bucket) in buckets.iter().enumerate() {
        let ctx = format!("bucket {b}");
        assert_eq!(utc(&bucket["start"]), t0() + Duration::seconds(100 * b as i64), "{ctx}");
        let inside: Vec<&NewReading> = raw[b * 10..b * 10 + 10].iter().collect();
        assert_eq!(bucket["count"], 10, "{ctx}");
        check_stats(&bucket["temperature"], &inside.iter().map(|r| r.temperature).collect::<Vec<_>>(), &ctx);
        check_stats(&bucket["target_temp"], &inside.iter().map(|r| r.target_temp.unwrap()).collect::<Vec<_>>(), &ctx);
        check_stats(&bucket["outdoor_temp"], &inside.iter().map(|r| r.outdoor_temp.unwrap()).collect::<Vec<_>>(), &ctx);
        let heating = inside.iter().filter(|r| r.heater_on == Some(true)).count() as f64 / 10.0;
        close(&bucket["heater_on_fraction"], heating, &format!("{ctx} heating"));
        let occupied = inside.iter().filter(|r| r.occupancy).count() as f64 / 10.0;
        close(&bucket["occupied_fraction"], occupied, &format!("{ctx} occupied"));
    }
    // The counter rose by 5 Wh per reading: 99 steps.
    close(&body["energy_kwh"], 0.495, "energy");
}

#[tokio::test]
async fn empty_buckets_are_left_out_and_the_range_is_half_open() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    let at = |s: i64| t0() + Duration::seconds(s);
    // Readings in buckets 0 and 3 of four 60 s buckets; one exactly at `to` (excluded), one before `from`.
    let raw = [
        reading(id, at(-1), 30.0, 0),
        reading(id, at(0), 20.0, 0),
        reading(id, at(59), 22.0, 1),
        reading(id, at(180), 18.0, 2),
        reading(id, at(240), 30.0, 3),
    ];
    app.state.storage.insert_readings(&raw).await.unwrap();
    let body = history(&app, id, &format!("from={}&to={}&points=4", rfc(at(0)), rfc(at(240)))).await;
    let buckets = body["buckets"].as_array().unwrap();
    let starts: Vec<DateTime<Utc>> = buckets.iter().map(|b| utc(&b["start"])).collect();
    assert_eq!(starts, [at(0), at(180)], "{body}");
    assert_eq!(buckets[0]["count"], 2);
    check_stats(&buckets[0]["temperature"], &[20.0, 22.0], "bucket 0");
    check_stats(&buckets[1]["temperature"], &[18.0], "bucket 3");
    assert_eq!(body["readings"], 3);

    // Nothing in range: no buckets, no energy.
    let empty = history(&app, id, &format!("from={}&to={}", rfc(at(1000)), rfc(at(2000)))).await;
    assert_eq!(empty["buckets"], Value::Array(vec![]));
    assert_eq!(empty["readings"], 0);
    assert_eq!(empty["energy_kwh"], Value::Null);
}

#[tokio::test]
async fn points_bounds_the_number_of_buckets() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    let raw: Vec<NewReading> =
        (0..1000).map(|i| reading(id, t0() + Duration::seconds(i as i64), 20.0 + (i % 10) as f64, i)).collect();
    app.state.storage.insert_readings(&raw).await.unwrap();
    let range = format!("from={}&to={}", rfc(t0()), rfc(t0() + Duration::seconds(1000)));
    for points in [1, 3, 7, 999, 1000, 2000] {
        let body = history(&app, id, &format!("{range}&points={points}")).await;
        let buckets = body["buckets"].as_array().unwrap();
        assert!(!buckets.is_empty() && buckets.len() <= points, "{points}: {} buckets", buckets.len());
        let total: i64 = buckets.iter().map(|b| b["count"].as_i64().unwrap()).sum();
        assert_eq!(total, 1000, "{points}: every reading in exactly one bucket");
        let starts: Vec<DateTime<Utc>> = buckets.iter().map(|b| utc(&b["start"])).collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{points}: oldest first");
    }
    let one = history(&app, id, &format!("{range}&points=1")).await;
    check_stats(&one["buckets"][0]["temperature"], &raw.iter().map(|r| r.temperature).collect::<Vec<_>>(), "all");
    // The default is 500 buckets.
    let default = history(&app, id, &range).await;
    assert_eq!(default["points"], 500);
    assert_eq!(default["buckets"].as_array().unwrap().len(), 500);
}

#[tokio::test]
async fn the_default_range_is_the_last_day_of_the_server_clock() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    // The step clock reads t0 + a few seconds from now on: one reading a day old, one an hour old.
    let raw = [reading(id, t0() - Duration::hours(25), 10.0, 0), reading(id, t0() - Duration::hours(1), 20.0, 1)];
    app.state.storage.insert_readings(&raw).await.unwrap();
    let body = history(&app, id, "").await;
    assert_eq!(body["readings"], 1, "{body}");
    let to = utc(&body["to"]);
    assert!(to >= t0() && to < t0() + Duration::minutes(1), "to is the server's now: {to}");
    assert_eq!(utc(&body["from"]), to - Duration::hours(24));
    // Only `to`: the day before it.
    let body = history(&app, id, &format!("to={}", rfc(t0() - Duration::hours(24)))).await;
    assert_eq!(body["readings"], 1);
    check_stats(&body["buckets"][0]["temperature"], &[10.0], "day-old reading");
}

#[tokio::test]
async fn energy_survives_counter_resets_and_wraps() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    let top = u32::MAX - 99; // 100 Wh below the wrap
    let counters = [1000, 1500, 2000, 300, 800, top, top + 50, 150, 150];
    // +500 +500, reset (counts 300), +500, (jump up counts as use) , +50, wrap (+50 to the top, +150 after).
    let expected: i64 = 500 + 500 + 300 + 500 + (i64::from(top) - 800) + 50 + (100 - 50 + 150);
    let raw: Vec<NewReading> = counters
        .iter()
        .enumerate()
        .map(|(i, &e)| NewReading { energy_wh: Some(e), ..reading(id, t0() + Duration::seconds(i as i64), 20.0, i) })
        .collect();
    app.state.storage.insert_readings(&raw).await.unwrap();
    // Whether a reset or wrap falls inside a bucket or between two, the sum is the same.
    for (span_s, points) in [(3600, 500), (9, 1), (9, 2), (9, 3), (9, 4), (9, 9), (9, 500)] {
        let range = format!("from={}&to={}&points={points}", rfc(t0()), rfc(t0() + Duration::seconds(span_s)));
        let body = history(&app, id, &range).await;
        close(&body["energy_kwh"], expected as f64 / 1000.0, &format!("energy over {span_s} s in {points} buckets"));
    }
    // A counter that only rises: the last value minus the first, whatever the buckets.
    let body = history(&app, id, &format!("from={}&to={}&points=1", rfc(t0()), rfc(t0() + Duration::seconds(3)))).await;
    close(&body["energy_kwh"], 1.0, "1000 -> 1500 -> 2000");
}

#[tokio::test]
async fn hand_posted_readings_have_no_target_outdoor_or_heater_values() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    let (status, _) = json_of(
        app.post("/sensordata/", &serde_json::json!({"zone_id": id, "temperature": 19.5, "occupancy": 1})).await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let body = history(&app, id, "points=1").await;
    let bucket = &body["buckets"][0];
    check_stats(&bucket["temperature"], &[19.5], "temperature");
    assert_eq!(bucket["target_temp"], Value::Null);
    assert_eq!(bucket["outdoor_temp"], Value::Null);
    assert_eq!(bucket["heater_on_fraction"], Value::Null);
    assert_eq!(bucket["occupied_fraction"], 1.0);
    assert_eq!(body["energy_kwh"], Value::Null);
}

#[tokio::test]
async fn bad_parameters_are_422_and_unknown_zones_404() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    for (query, needle) in [
        ("points=0", "points"),
        ("points=2001", "points"),
        ("points=-1", "points"),
        ("points=many", "points"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-11-27T10:00:00Z&to=2026-11-27T10:00:00Z", "from must be before to"),
        ("from=2026-11-27T11:00:00Z&to=2026-11-27T10:00:00Z", "from must be before to"),
    ] {
        assert_error(app.get(&format!("/zones/{id}/history?{query}")).await, StatusCode::UNPROCESSABLE_ENTITY, needle)
            .await;
    }
    assert_error(app.get("/zones/abc/history").await, StatusCode::UNPROCESSABLE_ENTITY, "path").await;
    assert_error(app.get("/zones/999/history").await, StatusCode::NOT_FOUND, "Zone not found").await;
    // A trailing slash is fine, as everywhere.
    assert_eq!(app.get(&format!("/zones/{id}/history/")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn wide_buckets_come_from_the_rollups_and_a_rebuild_is_audited() {
    let app = spawn_app().await;
    let id = app.zone_named("Lab").await;
    // Two hours of readings, one a minute, from t0.
    let raw: Vec<NewReading> =
        (0..120).map(|i| reading(id, t0() + Duration::minutes(i as i64), 18.0 + (i % 9) as f64 * 0.25, i)).collect();
    app.state.storage.insert_readings(&raw).await.unwrap();
    let range = format!("from={}&to={}", rfc(t0()), rfc(t0() + Duration::hours(2)));
    let body = history(&app, id, &format!("{range}&points=8")).await;
    assert_eq!((body["resolution"].as_str(), body["readings"].as_i64()), (Some("15m"), Some(120)));
    assert_eq!(body["buckets"].as_array().unwrap().len(), 8);
    close(&body["energy_kwh"], 0.595, "energy: 119 steps of 5 Wh");
    let fine = history(&app, id, &format!("{range}&points=1000")).await;
    assert_eq!(fine["resolution"], "raw");

    let rebuild = async |body: Value| app.post("/maintenance/rollups/rebuild", &body).await;
    let (from, to) = (rfc(t0()), rfc(t0() + Duration::hours(2)));
    let (status, out) = json_of(rebuild(serde_json::json!({"zone_id": id, "from": from, "to": to})).await).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!((out["zone_id"].as_i64(), out["chunks"].as_i64()), (Some(id), Some(1)));
    // 120 minutes; the quarters and hours only before the watermark (1:30, the quarter before the newest reading's:
    // the last two quarters are pending minutes), so 6 quarters and 2 hours.
    assert_eq!(out["rows"].as_i64(), Some(120 + 6 + 2), "{out}");
    assert_eq!(utc(&out["from"]), t0());
    let again = history(&app, id, &format!("{range}&points=8")).await;
    assert_eq!(again["buckets"], body["buckets"], "a rebuild of correct rollups changes nothing");
    let (_, audit) = json_of(app.get("/audit").await).await;
    assert_eq!((audit[0]["action"].as_str(), audit[0]["zone_id"].as_i64()), (Some("rollups.rebuild"), Some(id)));

    let refused = rebuild(serde_json::json!({"from": to, "to": from})).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "from").await;
    assert_error(rebuild(serde_json::json!({"to": to})).await, StatusCode::UNPROCESSABLE_ENTITY, "from").await;
    let unknown = rebuild(serde_json::json!({"zone_id": id + 100, "from": from, "to": to})).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "not found").await;
}
