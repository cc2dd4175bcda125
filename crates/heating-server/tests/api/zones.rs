//! `/zones`: create, list, read, update, delete, details.

use chrono::Duration;
use heating_server::storage::NewReading;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, json_of, spawn_app, sqlite_url, t0, utc};

#[tokio::test]
async fn create_zone_applies_defaults() {
    let app = spawn_app().await;
    let zone = app.create_zone(json!({"name": "  Office  "})).await;
    assert!(zone["id"].as_i64().unwrap() > 0);
    assert_eq!(zone["name"], "Office", "trimmed");
    assert_eq!(zone["modbus_host"], "localhost");
    assert_eq!(zone["modbus_port"], Value::Null);
    assert_eq!(zone["modbus_unit_id"], 1);
    assert_eq!(
        zone["preferences"],
        json!({
            "occupied_temp": 21.0, "unoccupied_temp": 17.0, "min_temp": 10.0, "max_temp": 28.0,
            "schedule": [], "weather_warm_threshold": 21.0, "weather_warm_offset": 1.0,
            "weather_cold_threshold": null, "weather_cold_offset": 0.5, "weather_location": null,
            "control_strategy": null, "occupancy_schedule": null, "storage_max_temp": null,
            "occupied_max_temp": null
        })
    );
    assert_eq!(utc(&zone["created_at"]), t0());
    assert_eq!(zone["created_at"], "2026-11-27T10:00:00.000Z");
    assert_eq!(zone["created_at"], zone["updated_at"]);
}

#[tokio::test]
async fn duplicate_name_is_a_conflict() {
    let app = spawn_app().await;
    app.create_zone(json!({"name": "Kitchen"})).await;
    assert_error(app.post("/zones/", &json!({"name": "Kitchen"})).await, StatusCode::CONFLICT, "Kitchen").await;
    assert_error(app.post("/zones/", &json!({"name": " Kitchen "})).await, StatusCode::CONFLICT, "already exists")
        .await;
}

#[tokio::test]
async fn duplicate_modbus_endpoint_is_a_conflict_but_zones_without_port_never_collide() {
    let app = spawn_app().await;
    app.create_zone(json!({"name": "A", "modbus_port": 5020})).await;
    let conflict = json!({"name": "B", "modbus_port": 5020, "modbus_host": "LOCALHOST", "modbus_unit_id": 1});
    assert_error(app.post("/zones/", &conflict).await, StatusCode::CONFLICT, "localhost:5020 unit 1").await;
    // Same host and port, another unit id: a different endpoint (a gateway with several units).
    app.create_zone(json!({"name": "B", "modbus_port": 5020, "modbus_unit_id": 2})).await;
    app.create_zone(json!({"name": "C", "modbus_port": 5020, "modbus_host": "10.0.0.5"})).await;
    // JSON Schema counts 5020.0 as an integer, so a generated client may send it: the same endpoint.
    let same = json!({"name": "F", "modbus_port": 5020.0, "modbus_unit_id": 2.0});
    assert_error(app.post("/zones/", &same).await, StatusCode::CONFLICT, "localhost:5020 unit 2").await;
    // No port: no device, so any number of such zones may share host and unit id.
    app.create_zone(json!({"name": "D"})).await;
    app.create_zone(json!({"name": "E", "modbus_port": null})).await;
    let (_, zones) = json_of(app.get("/zones/").await).await;
    assert_eq!(zones.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn invalid_zone_bodies_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": 42}), "name"),
        (json!({"name": "   "}), "name must not be empty"),
        (json!({"name": "x".repeat(101)}), "name must be at most 100"),
        (json!({"name": "Z", "modbus_port": 0}), "modbus_port"),
        (json!({"name": "Z", "modbus_port": 70000}), "modbus_port"),
        (json!({"name": "Z", "modbus_port": "5020"}), "modbus_port"),
        (json!({"name": "Z", "modbus_unit_id": 256}), "modbus_unit_id"),
        (json!({"name": "Z", "modbus_unit_id": -1}), "modbus_unit_id"),
        (json!({"name": "Z", "modbus_port": 5020.5}), "modbus_port"),
        (json!({"name": "Z", "modbus_unit_id": 1.5}), "modbus_unit_id"),
        (json!({"name": "Z", "modbus_unit_id": "1"}), "modbus_unit_id"),
        (json!({"name": "Z", "modbus_host": ""}), "modbus_host"),
        (json!({"name": "Z", "modbus_host": "a b"}), "modbus_host"),
        (json!({"name": "Z", "preferences": {"occupied_temp": "warm"}}), "preferences.occupied_temp"),
        (json!({"name": "Z", "preferences": {"max_temp": 36}}), "preferences.max_temp"),
        (json!({"name": "Z", "preferences": {"unoccupied_temp": 4.9}}), "preferences.unoccupied_temp"),
        (json!({"name": "Z", "preferences": {"min_temp": 22, "max_temp": 20}}), "preferences.min_temp"),
        (json!({"name": "Z", "preferences": [21]}), "preferences must be a JSON object"),
        (
            json!({"name": "Z", "preferences": {"control_strategy": "predictiv"}}),
            "preferences.control_strategy: unknown strategy \"predictiv\" \
             (expected one of: constant, reactive, scheduled, predictive)",
        ),
        (json!({"name": "Z", "preferences": {"control_strategy": 1}}), "preferences.control_strategy"),
        (json!({"name": "Z", "preferences": {"occupancy_schedule": ["someday"]}}), "preferences.occupancy_schedule[0]"),
        (json!({"name": "Z", "preferences": {"occupancy_schedule": "mon-fri 08:30-17:30"}}), "must be an array"),
    ];
    for (body, needle) in cases {
        assert_error(app.post("/zones/", &body).await, StatusCode::UNPROCESSABLE_ENTITY, needle).await;
    }
    let (_, zones) = json_of(app.get("/zones/").await).await;
    assert_eq!(zones, json!([]), "nothing was stored");
}

#[tokio::test]
async fn preferences_keep_unknown_keys_and_allow_targets_outside_bounds() {
    let app = spawn_app().await;
    let prefs = json!({"occupied_temp": 30.0, "min_temp": 12.0, "max_temp": 25.0, "eco_mode": true,
                       "ui": {"color": "blue"}});
    let zone = app.create_zone(json!({"name": "Den", "preferences": prefs})).await;
    let p = &zone["preferences"];
    assert_eq!(p["occupied_temp"], 30.0, "outside min..max is allowed (control clamps)");
    assert_eq!(p["unoccupied_temp"], 17.0, "default filled in");
    assert_eq!(p["eco_mode"], true);
    assert_eq!(p["ui"], json!({"color": "blue"}));
    let (_, again) = json_of(app.get(&format!("/zones/{}", zone["id"])).await).await;
    assert_eq!(again["preferences"], *p);
}

#[tokio::test]
async fn list_zones_paginates_by_id_with_bounds() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.zone_named(&format!("Z{i}")).await;
    }
    let names =
        |v: &Value| v.as_array().unwrap().iter().map(|z| z["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (_, all) = json_of(app.get("/zones/").await).await;
    assert_eq!(names(&all), ["Z0", "Z1", "Z2", "Z3", "Z4"]);
    let (_, page) = json_of(app.get("/zones/?skip=1&limit=2").await).await;
    assert_eq!(names(&page), ["Z1", "Z2"]);
    let (_, past_end) = json_of(app.get("/zones?skip=10").await).await;
    assert_eq!(past_end, json!([]));
    let (status, _) = json_of(app.get("/zones?skip=0&limit=1000").await).await;
    assert_eq!(status, StatusCode::OK);
    let (_, one) = json_of(app.get("/zones?limit=1").await).await;
    assert_eq!(names(&one), ["Z0"]);

    for (query, needle) in [
        ("limit=0", "limit must be between 1 and 1000, got 0"),
        ("limit=1001", "limit must be between 1 and 1000, got 1001"),
        ("limit=-5", "limit must be between 1 and 1000"),
        ("skip=-1", "skip must be 0 or more, got -1"),
        ("limit=ten", "limit"),
        ("skip=1.5", "skip"),
    ] {
        assert_error(app.get(&format!("/zones/?{query}")).await, StatusCode::UNPROCESSABLE_ENTITY, needle).await;
    }
}

#[tokio::test]
async fn get_zone_and_its_errors() {
    let app = spawn_app().await;
    let id = app.zone_named("Hall").await;
    let (status, zone) = json_of(app.get(&format!("/zones/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(zone["name"], "Hall");
    let (status, body) = json_of(app.get("/zones/999").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"detail": "Zone not found"}));
    assert_error(app.get("/zones/abc").await, StatusCode::UNPROCESSABLE_ENTITY, "path parameter").await;
}

#[tokio::test]
async fn put_updates_only_the_fields_sent() {
    let app = spawn_app().await;
    let zone = app
        .create_zone(json!({"name": "Bedroom", "modbus_port": 5021, "modbus_unit_id": 3,
                            "preferences": {"occupied_temp": 20.0, "night_mode": "quiet"}}))
        .await;
    let id = zone["id"].as_i64().unwrap();
    let path = format!("/zones/{id}");

    let (status, z) = json_of(app.put(&path, &json!({"name": "Main Bedroom"})).await).await;
    assert_eq!(status, StatusCode::OK, "{z}");
    assert_eq!(z["name"], "Main Bedroom");
    assert_eq!((z["modbus_port"].as_i64(), z["modbus_unit_id"].as_i64()), (Some(5021), Some(3)));
    assert_eq!(z["preferences"], zone["preferences"]);
    assert_eq!(z["created_at"], zone["created_at"]);
    assert!(utc(&z["updated_at"]) > utc(&zone["updated_at"]));

    // Preferences merge key by key; null resets a key.
    let (_, z) =
        json_of(app.put(&path, &json!({"preferences": {"unoccupied_temp": 16.0, "occupied_temp": null}})).await).await;
    assert_eq!(z["preferences"]["unoccupied_temp"], 16.0);
    assert_eq!(z["preferences"]["occupied_temp"], 21.0);
    assert_eq!(z["preferences"]["night_mode"], "quiet", "unknown keys survive");

    // null removes the port; absence leaves it.
    let (_, z) = json_of(app.put(&path, &json!({"modbus_port": null})).await).await;
    assert_eq!(z["modbus_port"], Value::Null);
    let (_, z) = json_of(app.put(&path, &json!({"modbus_port": 5030, "modbus_host": "Zone-Gw"})).await).await;
    assert_eq!((z["modbus_port"].as_i64(), z["modbus_host"].as_str()), (Some(5030), Some("zone-gw")));
    let (_, z) = json_of(app.put(&path, &json!({"modbus_port": 5031.0, "modbus_unit_id": 4.0})).await).await;
    assert_eq!((z["modbus_port"].as_i64(), z["modbus_unit_id"].as_i64()), (Some(5031), Some(4)), "whole numbers");
    let (_, z) = json_of(app.put(&path, &json!({"modbus_port": 5030})).await).await;
    assert_eq!(z["modbus_port"], 5030);
    let (_, z) = json_of(app.put(&path, &json!({})).await).await;
    assert_eq!(z["modbus_port"], 5030);

    // Errors.
    app.create_zone(json!({"name": "Other", "modbus_port": 5040})).await;
    assert_error(app.put(&path, &json!({"name": "Other"})).await, StatusCode::CONFLICT, "Other").await;
    assert_error(
        app.put(&path, &json!({"modbus_port": 5040, "modbus_host": "localhost", "modbus_unit_id": 1})).await,
        StatusCode::CONFLICT,
        "modbus endpoint",
    )
    .await;
    assert_error(
        app.put(&path, &json!({"preferences": {"min_temp": 30}})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "preferences.min_temp",
    )
    .await;
    assert_error(app.put(&path, &json!({"name": ""})).await, StatusCode::UNPROCESSABLE_ENTITY, "name").await;
    assert_error(app.put(&path, &json!({"modbus_port": 0})).await, StatusCode::UNPROCESSABLE_ENTITY, "modbus_port")
        .await;
    assert_error(app.put("/zones/999", &json!({"name": "X"})).await, StatusCode::NOT_FOUND, "Zone not found").await;
    let (_, z) = json_of(app.get(&path).await).await;
    assert_eq!(z["name"], "Main Bedroom", "failed updates changed nothing");
    assert_eq!(z["preferences"]["min_temp"], 10.0);
}

#[tokio::test]
async fn delete_refuses_zones_with_history_unless_cascade() {
    let app = spawn_app().await;
    let empty = app.zone_named("Empty").await;
    let (status, deleted) = json_of(app.delete(&format!("/zones/{empty}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["name"], "Empty");
    assert_error(app.get(&format!("/zones/{empty}")).await, StatusCode::NOT_FOUND, "Zone not found").await;
    assert_error(app.delete(&format!("/zones/{empty}")).await, StatusCode::NOT_FOUND, "Zone not found").await;

    let busy = app.zone_named("Busy").await;
    let keep = app.zone_named("Keep").await;
    for zone_id in [busy, keep] {
        let (s, _) = json_of(
            app.post("/sensordata/", &json!({"zone_id": zone_id, "temperature": 20.0, "occupancy": false})).await,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, _) = json_of(app.post("/commands/", &json!({"zone_id": busy, "target_temp": 20.0})).await).await;
    assert_eq!(s, StatusCode::CREATED);

    let detail = assert_error(app.delete(&format!("/zones/{busy}")).await, StatusCode::CONFLICT, "cascade=true").await;
    assert!(detail.contains("sensor readings: 1") && detail.contains("commands: 1"), "{detail}");
    assert_error(
        app.delete(&format!("/zones/{busy}?cascade=maybe")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "cascade",
    )
    .await;
    let (status, _) = json_of(app.delete(&format!("/zones/{busy}?cascade=false")).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, _) = json_of(app.delete(&format!("/zones/{busy}?cascade=true")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_error(app.get(&format!("/sensordata/zone/{busy}")).await, StatusCode::NOT_FOUND, "Zone not found").await;
    let (_, all) = json_of(app.get("/sensordata/").await).await;
    let zone_ids: Vec<i64> = all.as_array().unwrap().iter().map(|r| r["zone_id"].as_i64().unwrap()).collect();
    assert_eq!(zone_ids, [keep], "only the cascaded zone's history went");
    // Ids are never reused.
    let next = app.zone_named("Busy").await;
    assert!(next > busy);
}

#[tokio::test]
async fn details_list_history_newest_first_and_bounded() {
    let app = spawn_app().await;
    let id = app.zone_named("Lounge").await;
    // 120 readings stored out of time order.
    let readings: Vec<NewReading> = (0..120)
        .map(|i| {
            let offset = (i * 37) % 120; // a permutation of 0..120
            NewReading {
                zone_id: id,
                ts: t0() + Duration::seconds(offset),
                temperature: 15.0 + offset as f64 / 10.0,
                target_temp: Some(20.0),
                occupancy: offset % 2 == 0,
                heater_on: Some(true),
                energy_wh: Some(1000 + offset as u32),
                outdoor_temp: Some(3.5),
                estimated: Default::default(),
            }
        })
        .collect();
    assert_eq!(app.state.storage.insert_readings(&readings).await.unwrap(), 120);
    for target in [19.0, 20.0, 21.0] {
        let (s, _) = json_of(app.post("/commands/", &json!({"zone_id": id, "target_temp": target})).await).await;
        assert_eq!(s, StatusCode::CREATED);
    }

    let (status, d) = json_of(app.get(&format!("/zones/{id}/details")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["name"], "Lounge");
    let data = d["sensor_data"].as_array().unwrap();
    assert_eq!(data.len(), 100, "bounded to 100 by default");
    assert_eq!(utc(&data[0]["timestamp"]), t0() + Duration::seconds(119));
    assert!(data.windows(2).all(|w| utc(&w[0]["timestamp"]) > utc(&w[1]["timestamp"])), "newest first");
    assert_eq!(data[0]["energy_wh"], 1119);
    let targets: Vec<f64> =
        d["commands"].as_array().unwrap().iter().map(|c| c["target_temp"].as_f64().unwrap()).collect();
    assert_eq!(targets, [21.0, 20.0, 19.0], "newest first");

    let (_, d) = json_of(app.get(&format!("/zones/{id}/details?limit=2")).await).await;
    assert_eq!(d["sensor_data"].as_array().unwrap().len(), 2);
    assert_eq!(d["commands"].as_array().unwrap().len(), 2);
    assert_error(app.get(&format!("/zones/{id}/details?limit=0")).await, StatusCode::UNPROCESSABLE_ENTITY, "limit")
        .await;
    assert_error(app.get("/zones/999/details").await, StatusCode::NOT_FOUND, "Zone not found").await;
}

#[tokio::test]
async fn control_strategy_and_occupancy_schedule_are_typed_preferences() {
    let app = spawn_app().await;
    // Accepted as before (any case, blanks around), stored normalized.
    let prefs =
        json!({"control_strategy": " Predictive ", "occupancy_schedule": ["Mon-Fri 08:30-17:30", "sat 10:00-12:00"]});
    let zone = app.create_zone(json!({"name": "Study", "preferences": prefs})).await;
    assert_eq!(zone["preferences"]["control_strategy"], "predictive");
    assert_eq!(zone["preferences"]["occupancy_schedule"], json!(["mon-fri 08:30-17:30", "sat 10:00-12:00"]));
    let path = format!("/zones/{}", zone["id"]);
    let (_, plan) = json_of(app.get(&format!("{path}/plan")).await).await;
    assert_eq!(plan["strategy"], "predictive", "the control job and the plan read the typed preference");

    // A wrong value is refused naming the field (and the allowed values); nothing changes.
    let detail = assert_error(
        app.put(&path, &json!({"preferences": {"control_strategy": "predictiv"}})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "preferences.control_strategy: unknown strategy \"predictiv\"",
    )
    .await;
    assert!(detail.contains("(expected one of: constant, reactive, scheduled, predictive)"), "{detail}");
    let detail = assert_error(
        app.put(&path, &json!({"preferences": {"occupancy_schedule": ["mon-fri 08:30-17:30", "mon-fri 8-17"]}})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "preferences.occupancy_schedule[1]: ",
    )
    .await;
    assert!(detail.contains("mon-fri 8-17"), "{detail}");
    assert_error(
        app.put(&path, &json!({"preferences": {"occupancy_schedule": {"mon": "08:00"}}})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "preferences.occupancy_schedule: must be an array",
    )
    .await;
    let (_, same) = json_of(app.get(&path).await).await;
    assert_eq!(same["preferences"], zone["preferences"], "failed updates changed nothing");

    // A valid change, then null resets each to its default.
    let (status, z) = json_of(app.put(&path, &json!({"preferences": {"control_strategy": "scheduled"}})).await).await;
    assert_eq!(status, StatusCode::OK, "{z}");
    assert_eq!(z["preferences"]["control_strategy"], "scheduled");
    assert_eq!(z["preferences"]["occupancy_schedule"], zone["preferences"]["occupancy_schedule"], "merged key by key");
    let reset = json!({"preferences": {"control_strategy": null, "occupancy_schedule": null}});
    let (_, z) = json_of(app.put(&path, &reset).await).await;
    assert_eq!(
        (&z["preferences"]["control_strategy"], &z["preferences"]["occupancy_schedule"]),
        (&Value::Null, &Value::Null)
    );
    let (_, plan) = json_of(app.get(&format!("{path}/plan")).await).await;
    assert_eq!(plan["strategy"], "reactive", "unset: the server's CONTROL_STRATEGY");
}

/// Earlier versions kept `control_strategy` and `occupancy_schedule` as untyped keys and accepted any value there
/// (with 200). Such a stored zone still loads after the upgrade, with the defaults in place of the values this
/// version cannot read; everything else in it is kept, and the next save writes the cleaned document.
#[tokio::test]
async fn zones_stored_with_values_this_version_refuses_still_load_with_the_defaults() {
    let app = spawn_app().await;
    let id = app.create_zone(json!({"name": "Legacy", "preferences": {"occupied_temp": 22.5}})).await["id"]
        .as_i64()
        .unwrap();
    let legacy = json!({
        "occupied_temp": 22.5, "unoccupied_temp": 17.0, "min_temp": 10.0, "max_temp": 28.0,
        "control_strategy": "predictiv", "occupancy_schedule": "weekdays 9 to 5", "note": "kept"
    });
    let pool = sqlx::SqlitePool::connect(&sqlite_url(&app.db_path)).await.unwrap();
    let updated = sqlx::query("UPDATE zones SET preferences = ? WHERE id = ?")
        .bind(legacy.to_string())
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    pool.close().await;

    let path = format!("/zones/{id}");
    let (status, zone) = json_of(app.get(&path).await).await;
    assert_eq!(status, StatusCode::OK, "{zone}");
    let p = &zone["preferences"];
    assert_eq!((&p["control_strategy"], &p["occupancy_schedule"]), (&Value::Null, &Value::Null), "{p}");
    assert_eq!((p["occupied_temp"].as_f64(), p["note"].as_str()), (Some(22.5), Some("kept")));
    let (status, zones) = json_of(app.get("/zones/").await).await;
    assert_eq!(status, StatusCode::OK, "listing zones still works: {zones}");
    assert_eq!(zones[0]["preferences"], *p);
    let (_, plan) = json_of(app.get(&format!("{path}/plan")).await).await;
    assert_eq!(plan["strategy"], "reactive", "the server's default applies");
    let (status, _) = json_of(app.get(&format!("{path}/details")).await).await;
    assert_eq!(status, StatusCode::OK);

    // Saving any change writes the document back without the unreadable values.
    let (status, z) = json_of(app.put(&path, &json!({"preferences": {"unoccupied_temp": 16.0}})).await).await;
    assert_eq!(status, StatusCode::OK, "{z}");
    assert_eq!(
        (&z["preferences"]["control_strategy"], z["preferences"]["note"].as_str()),
        (&Value::Null, Some("kept"))
    );
    let pool = sqlx::SqlitePool::connect(&sqlite_url(&app.db_path)).await.unwrap();
    let (stored,): (String,) =
        sqlx::query_as("SELECT preferences FROM zones WHERE id = ?").bind(id).fetch_one(&pool).await.unwrap();
    pool.close().await;
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!((&stored["control_strategy"], &stored["occupancy_schedule"]), (&Value::Null, &Value::Null), "{stored}");
}
