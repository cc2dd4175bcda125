//! `/sensordata`: posting readings, listing them newest first, time ranges, batch inserts, the app clock.

use chrono::Duration;
use heating_server::storage::NewReading;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, json_of, spawn_app, t0, utc};

fn reading(zone_id: i64, offset_s: i64, temperature: f64) -> NewReading {
    NewReading {
        zone_id,
        ts: t0() + Duration::seconds(offset_s),
        temperature,
        target_temp: None,
        occupancy: false,
        heater_on: None,
        energy_wh: None,
        outdoor_temp: None,
        estimated: Default::default(),
    }
}

fn temperatures(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|r| r["temperature"].as_f64().unwrap()).collect()
}

#[tokio::test]
async fn post_reading_stores_it_with_the_app_clock_time() {
    let app = spawn_app().await;
    let id = app.zone_named("Office").await; // the clock read t0 for this
    let (status, r) =
        json_of(app.post("/sensordata/", &json!({"zone_id": id, "temperature": 20.5, "occupancy": true})).await).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["zone_id"], id);
    assert_eq!(r["temperature"], 20.5);
    assert_eq!(r["occupancy"], true);
    assert_eq!(r["timestamp"], "2026-11-27T10:00:01.000Z", "the app's clock, not the wall clock");
    for key in ["target_temp", "heater_on", "energy_wh", "outdoor_temp"] {
        assert_eq!(r[key], Value::Null, "{key} is null for a hand-posted reading");
    }

    // Integers 0/1 for occupancy, and the optional device fields.
    let full = json!({"zone_id": id, "temperature": 19, "occupancy": 0, "target_temp": 21.0, "heater_on": true,
                      "energy_wh": 4_000_000_000u32, "outdoor_temp": -7.5});
    let (status, r) = json_of(app.post("/sensordata", &full).await).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!((r["occupancy"].as_bool(), r["heater_on"].as_bool()), (Some(false), Some(true)));
    assert_eq!((r["energy_wh"].as_u64(), r["outdoor_temp"].as_f64()), (Some(4_000_000_000), Some(-7.5)));
}

#[tokio::test]
async fn post_reading_errors() {
    let app = spawn_app().await;
    let id = app.zone_named("Office").await;
    assert_error(
        app.post("/sensordata/", &json!({"zone_id": 999, "temperature": 20.0, "occupancy": false})).await,
        StatusCode::NOT_FOUND,
        "Zone not found",
    )
    .await;
    let cases = [
        (json!({"temperature": 20.0, "occupancy": false}), "zone_id"),
        (json!({"zone_id": id, "occupancy": false}), "temperature"),
        (json!({"zone_id": id, "temperature": 20.0}), "occupancy"),
        (json!({"zone_id": id, "temperature": "20", "occupancy": false}), "temperature"),
        (json!({"zone_id": id, "temperature": 20.0, "occupancy": "yes"}), "occupancy"),
        (json!({"zone_id": id, "temperature": 20.0, "occupancy": 2}), "occupancy"),
        (json!({"zone_id": id, "temperature": 500.0, "occupancy": true}), "temperature: 500"),
        (json!({"zone_id": id, "temperature": 20.0, "occupancy": true, "target_temp": 50}), "target_temp"),
        (json!({"zone_id": id, "temperature": 20.0, "occupancy": true, "outdoor_temp": -100}), "outdoor_temp"),
        (json!({"zone_id": id, "temperature": 20.0, "occupancy": true, "energy_wh": -1}), "energy_wh"),
    ];
    for (body, needle) in cases {
        assert_error(app.post("/sensordata/", &body).await, StatusCode::UNPROCESSABLE_ENTITY, needle).await;
    }
    let (_, all) = json_of(app.get("/sensordata/").await).await;
    assert_eq!(all, json!([]));
}

#[tokio::test]
async fn all_readings_newest_first_with_pagination() {
    let app = spawn_app().await;
    let a = app.zone_named("A").await;
    let b = app.zone_named("B").await;
    // Inserted out of time order, across two zones.
    let batch =
        [reading(a, 30, 3.0), reading(b, 10, 1.0), reading(a, 50, 5.0), reading(b, 40, 4.0), reading(a, 20, 2.0)];
    app.state.storage.insert_readings(&batch).await.unwrap();
    let (status, all) = json_of(app.get("/sensordata/").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(temperatures(&all), [5.0, 4.0, 3.0, 2.0, 1.0]);
    assert_eq!(utc(&all[0]["timestamp"]), t0() + Duration::seconds(50));
    let (_, page) = json_of(app.get("/sensordata/?skip=1&limit=2").await).await;
    assert_eq!(temperatures(&page), [4.0, 3.0]);
    let (_, page) = json_of(app.get("/sensordata?skip=4&limit=1000").await).await;
    assert_eq!(temperatures(&page), [1.0]);
    for query in ["limit=0", "limit=1001", "skip=-1", "limit=x"] {
        assert_error(app.get(&format!("/sensordata/?{query}")).await, StatusCode::UNPROCESSABLE_ENTITY, "").await;
    }
}

#[tokio::test]
async fn zone_readings_newest_first_in_a_time_range() {
    let app = spawn_app().await;
    let a = app.zone_named("A").await;
    let b = app.zone_named("B").await;
    let batch: Vec<NewReading> = [7, 2, 9, 0, 5, 3, 8, 1, 6, 4]
        .iter()
        .map(|&s| reading(a, s, s as f64))
        .chain([reading(b, 100, 99.0)])
        .collect();
    app.state.storage.insert_readings(&batch).await.unwrap();

    let (status, r) = json_of(app.get(&format!("/sensordata/zone/{a}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(temperatures(&r), [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
    let (_, r) = json_of(app.get(&format!("/sensordata/zone/{a}/?skip=2&limit=3")).await).await;
    assert_eq!(temperatures(&r), [7.0, 6.0, 5.0]);

    // from inclusive, to exclusive.
    let from = "2026-11-27T10:00:03Z";
    let to = "2026-11-27T10:00:06.000Z";
    let (_, r) = json_of(app.get(&format!("/sensordata/zone/{a}?from={from}&to={to}")).await).await;
    assert_eq!(temperatures(&r), [5.0, 4.0, 3.0]);
    let (_, r) = json_of(app.get(&format!("/sensordata/zone/{a}?from={from}&limit=2")).await).await;
    assert_eq!(temperatures(&r), [9.0, 8.0]);
    let (_, r) = json_of(app.get(&format!("/sensordata/zone/{a}?to={from}")).await).await;
    assert_eq!(temperatures(&r), [2.0, 1.0, 0.0]);

    assert_error(
        app.get(&format!("/sensordata/zone/{a}?from={to}&to={from}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "from must not be after to",
    )
    .await;
    assert_error(
        app.get(&format!("/sensordata/zone/{a}?from=yesterday")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "from",
    )
    .await;
    assert_error(app.get(&format!("/sensordata/zone/{a}?limit=0")).await, StatusCode::UNPROCESSABLE_ENTITY, "limit")
        .await;
    assert_error(app.get("/sensordata/zone/999").await, StatusCode::NOT_FOUND, "Zone not found").await;
    assert_error(app.get("/sensordata/zone/x").await, StatusCode::UNPROCESSABLE_ENTITY, "path parameter").await;
}

#[tokio::test]
async fn batch_insert_is_one_transaction() {
    let app = spawn_app().await;
    let a = app.zone_named("A").await;
    // More rows than one multi-row INSERT holds.
    let batch: Vec<NewReading> = (0..1234).map(|i| reading(a, i, 20.0)).collect();
    assert_eq!(app.state.storage.insert_readings(&batch).await.unwrap(), 1234);
    assert_eq!(app.state.storage.insert_readings(&[]).await.unwrap(), 0);

    // A bad row in the last chunk rolls back the whole batch.
    let mut bad: Vec<NewReading> = (0..1100).map(|i| reading(a, 10_000 + i, 21.0)).collect();
    bad.push(reading(999, 0, 21.0));
    let err = app.state.storage.insert_readings(&bad).await.unwrap_err();
    assert!(matches!(err, heating_server::storage::StorageError::NotFound { what: "zone" }), "{err:?}");
    let (_, newest) = json_of(app.get(&format!("/sensordata/zone/{a}?limit=1")).await).await;
    assert_eq!(utc(&newest[0]["timestamp"]), t0() + Duration::seconds(1233), "none of the failed batch was kept");
}
