//! Zone groups over real HTTP: the tree (create, list with paths and counts, rename, move, refusals), zones put in
//! groups through `POST /zones` and `PUT /zones/{id}`, `GET /status?group=` and `?view=compact`, a group's summary
//! and history, the audit entries.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_of, spawn_app};

async fn group(app: &TestApp, body: Value) -> Value {
    let (status, g) = json_of(app.post("/groups", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    g
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

#[tokio::test]
async fn groups_form_a_tree_that_can_be_renamed_moved_and_emptied() {
    let app = spawn_app().await;
    let hq = group(&app, json!({"name": "HQ", "kind": "building"})).await;
    assert_eq!((hq["kind"].as_str(), hq["parent_id"].is_null()), (Some("building"), true), "{hq}");
    let f1 = group(&app, json!({"name": " Floor 1 ", "kind": "Floor", "parent_id": id(&hq)})).await;
    assert_eq!(f1["name"], "Floor 1", "trimmed");
    assert_eq!(f1["kind"], "floor", "kind read ignoring case");
    assert_eq!(f1["path"], json!(["HQ", "Floor 1"]));
    let f2 = group(&app, json!({"name": "Floor 2", "kind": "floor", "parent_id": id(&hq)})).await;
    let wing = group(&app, json!({"name": "East wing", "parent_id": id(&f2)})).await;
    assert_eq!(wing["kind"], "group", "the default kind");
    assert_eq!(wing["path"], json!(["HQ", "Floor 2", "East wing"]));

    // Refusals, each naming the field.
    let r = app.post("/groups", &json!({"name": "Floor 1", "parent_id": id(&hq)})).await;
    assert_error(r, StatusCode::CONFLICT, "a group named \"Floor 1\" already exists in group").await;
    let r = app.post("/groups", &json!({"name": "HQ"})).await;
    assert_error(r, StatusCode::CONFLICT, "already exists at the top level").await;
    // The same name under another parent is fine.
    group(&app, json!({"name": "Floor 1", "parent_id": id(&f2)})).await;
    assert_error(
        app.post("/groups", &json!({"name": "X", "parent_id": 999})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "parent_id: no group 999",
    )
    .await;
    assert_error(
        app.post("/groups", &json!({"name": "X", "kind": "wing"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "kind: unknown group kind \"wing\"",
    )
    .await;
    assert_error(
        app.post("/groups", &json!({"name": "  "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "name must not be empty",
    )
    .await;
    assert_error(
        app.post("/groups", &json!({"name": "X", "colour": 1})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "colour",
    )
    .await;

    // Zones join groups when created or updated; the counts follow.
    let a = app.create_zone(json!({"name": "Room 1.01", "group_id": id(&f1)})).await;
    assert_eq!(a["group_id"], id(&f1));
    let b = app.zone_named("Room 2.01").await;
    assert_eq!(app.get(&format!("/zones/{b}")).await.json::<Value>().await.unwrap()["group_id"], Value::Null);
    let (status, moved) = json_of(app.put(&format!("/zones/{b}"), &json!({"group_id": id(&wing)})).await).await;
    assert_eq!((status, &moved["group_id"]), (StatusCode::OK, &json!(id(&wing))), "{moved}");
    let (status, kept) = json_of(app.put(&format!("/zones/{b}"), &json!({"name": "Room 2.01 east"})).await).await;
    assert_eq!((status, &kept["group_id"]), (StatusCode::OK, &json!(id(&wing))), "absent group_id leaves it: {kept}");
    let r = app.put(&format!("/zones/{b}"), &json!({"group_id": 4242})).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "group_id: no group 4242").await;
    let r = app.post("/zones", &json!({"name": "Nowhere", "group_id": 4242})).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "group_id: no group 4242").await;
    assert_eq!(
        app.get("/zones").await.json::<Vec<Value>>().await.unwrap().len(),
        2,
        "the refused zone was not created"
    );

    let (_, list) = json_of(app.get("/groups").await).await;
    let by_name = |path: &[&str]| list.as_array().unwrap().iter().find(|g| g["path"] == json!(path)).unwrap().clone();
    assert_eq!((by_name(&["HQ"])["zones"].as_i64(), by_name(&["HQ"])["zones_total"].as_i64()), (Some(0), Some(2)));
    assert_eq!(by_name(&["HQ", "Floor 2"])["zones_total"], 1);
    assert_eq!(by_name(&["HQ", "Floor 2", "East wing"])["zones"], 1);

    // Rename and move; never under itself.
    let (status, renamed) =
        json_of(app.put(&format!("/groups/{}", id(&wing)), &json!({"name": "West wing"})).await).await;
    assert_eq!((status, renamed["path"].clone()), (StatusCode::OK, json!(["HQ", "Floor 2", "West wing"])));
    let (status, moved) =
        json_of(app.put(&format!("/groups/{}", id(&wing)), &json!({"parent_id": id(&f1)})).await).await;
    assert_eq!((status, moved["path"].clone()), (StatusCode::OK, json!(["HQ", "Floor 1", "West wing"])));
    let r = app.put(&format!("/groups/{}", id(&hq)), &json!({"parent_id": id(&wing)})).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "is group").await;
    let r = app.put(&format!("/groups/{}", id(&hq)), &json!({"parent_id": id(&hq)})).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "parent_id").await;
    let (status, top) = json_of(app.put(&format!("/groups/{}", id(&wing)), &json!({"parent_id": null})).await).await;
    assert_eq!(
        (status, top["parent_id"].clone(), top["path"].clone()),
        (StatusCode::OK, Value::Null, json!(["West wing"]))
    );
    assert_error(app.put("/groups/999", &json!({"name": "x"})).await, StatusCode::NOT_FOUND, "Group 999 not found")
        .await;

    // Only empty groups go.
    assert_error(app.delete(&format!("/groups/{}", id(&hq))).await, StatusCode::CONFLICT, "subgroups").await;
    assert_error(app.delete(&format!("/groups/{}", id(&wing))).await, StatusCode::CONFLICT, "1 zones").await;
    app.put(&format!("/zones/{b}"), &json!({"group_id": null})).await;
    let (status, gone) = json_of(app.delete(&format!("/groups/{}", id(&wing))).await).await;
    assert_eq!((status, gone["name"].as_str()), (StatusCode::OK, Some("West wing")), "the group as it was");
    assert_error(app.get(&format!("/groups/{}", id(&wing))).await, StatusCode::NOT_FOUND, "not found").await;
    assert_error(app.delete(&format!("/groups/{}", id(&wing))).await, StatusCode::NOT_FOUND, "not found").await;
    assert_error(app.get("/groups/abc").await, StatusCode::UNPROCESSABLE_ENTITY, "").await;

    // Every change is in the audit log.
    let (_, audit) = json_of(app.get("/audit?limit=100").await).await;
    let actions: Vec<&str> = audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for a in ["group.create", "group.update", "group.delete"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn status_and_summaries_answer_per_group() {
    let app = spawn_app().await;
    let hq = group(&app, json!({"name": "HQ", "kind": "building"})).await;
    let f1 = group(&app, json!({"name": "Floor 1", "kind": "floor", "parent_id": id(&hq)})).await;
    let f2 = group(&app, json!({"name": "Floor 2", "kind": "floor", "parent_id": id(&hq)})).await;
    let a = app.create_zone(json!({"name": "A", "group_id": id(&f1)})).await;
    let b = app.create_zone(json!({"name": "B", "group_id": id(&f2)})).await;
    let c = app.create_zone(json!({"name": "C"})).await;

    let ids =
        |s: &Value| -> Vec<i64> { s["zones"].as_array().unwrap().iter().map(|z| z["id"].as_i64().unwrap()).collect() };
    let (_, all) = json_of(app.get("/status").await).await;
    assert_eq!(ids(&all), [id(&a), id(&b), id(&c)]);
    assert!(all.get("view").is_none() && all["zones"][0]["health"].is_object(), "the full shape is unchanged: {all}");
    let (_, floor) = json_of(app.get(&format!("/status?group={}", id(&f1))).await).await;
    assert_eq!(ids(&floor), [id(&a)]);
    let (_, building) = json_of(app.get(&format!("/status?group={}", id(&hq))).await).await;
    assert_eq!(ids(&building), [id(&a), id(&b)], "subgroups' zones included");
    assert_error(app.get("/status?group=999").await, StatusCode::NOT_FOUND, "Group 999 not found").await;
    assert_error(app.get("/status?view=tiny").await, StatusCode::UNPROCESSABLE_ENTITY, "view").await;

    let (status, compact) = json_of(app.get("/status?view=compact").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(compact["view"], "compact");
    assert_eq!(
        compact["zone_columns"],
        json!(["id", "name", "group_id", "health", "air", "target", "flags", "alerts"])
    );
    assert_eq!(
        compact["zone_rows"],
        json!([
            [id(&a), "A", id(&f1), "no_device", null, null, 0, 0],
            [id(&b), "B", id(&f2), "no_device", null, null, 0, 0],
            [id(&c), "C", null, "no_device", null, null, 0, 0]
        ])
    );
    assert_eq!(compact["counts"]["zones"], 3);
    assert_eq!(compact["counts"]["with_device"], 0);
    assert_eq!(compact["groups"].as_array().unwrap().len(), 3);
    assert!(compact.get("zones").is_none(), "no full zones in the compact form");
    for key in ["now", "clock_scale", "site_utc_offset_minutes", "poll_interval_s", "weather"] {
        assert!(compact.get(key).is_some(), "{key} kept: {compact}");
    }
    let (_, compact_floor) = json_of(app.get(&format!("/status?group={}&view=compact", id(&f2))).await).await;
    assert_eq!(compact_floor["zone_rows"].as_array().unwrap().len(), 1);
    assert_eq!(compact_floor["counts"]["zones"], 1);

    // Energy per group: the sum of its zones' (as each zone's history counts it).
    let reading =
        |zone: i64, energy: u32| json!({"zone_id": zone, "temperature": 20.0, "occupancy": true, "energy_wh": energy});
    for (zone, e) in [(id(&a), 1000), (id(&a), 1600), (id(&b), 50), (id(&b), 80), (id(&c), 0), (id(&c), 9000)] {
        assert_eq!(app.post("/sensordata", &reading(zone, e)).await.status(), StatusCode::CREATED);
    }
    let range = "from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z";
    let (status, s) = json_of(app.get(&format!("/groups/{}/summary?{range}", id(&hq))).await).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["zones"], 2);
    assert_eq!(s["no_device"], 2);
    assert_eq!(s["energy_kwh"], 0.63, "600 + 30 Wh: {s}");
    assert_eq!(s["group"]["path"], json!(["HQ"]));
    let (_, s1) = json_of(app.get(&format!("/groups/{}/summary?{range}", id(&f1))).await).await;
    assert_eq!(s1["energy_kwh"], 0.6);
    assert_error(app.get("/groups/999/summary").await, StatusCode::NOT_FOUND, "Group 999 not found").await;
    let r = app.get(&format!("/groups/{}/summary?from=2026-11-28T00:00:00Z&to=2026-11-27T00:00:00Z", id(&hq))).await;
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "from must be before to").await;

    let (status, h) = json_of(app.get(&format!("/groups/{}/history?{range}&points=1", id(&hq))).await).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!((h["zones"].as_i64(), h["readings"].as_i64(), h["energy_kwh"].as_f64()), (Some(2), Some(4), Some(0.63)));
    assert_eq!(h["buckets"][0]["count"], 4);
    assert_eq!(h["buckets"][0]["temperature"]["avg"], 20.0);
    assert_eq!(h["buckets"][0]["occupied_fraction"], 1.0);
    app.stop().await;
}
