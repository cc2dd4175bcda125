//! `/commands`: logging commands, listing them, and the status updates the poller will make.

use heating_server::storage::{CommandSource, CommandStatus, StorageError};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, json_of, spawn_app};

#[tokio::test]
async fn post_command_logs_it_pending() {
    let app = spawn_app().await;
    let id = app.zone_named("Office").await;
    let (status, c) = json_of(app.post("/commands/", &json!({"zone_id": id, "target_temp": 21.04})).await).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["zone_id"], id);
    assert_eq!(c["target_temp"], 21.0, "rounded to the register's 0.1 °C");
    assert_eq!(c["status"], "pending");
    assert_eq!(c["source"], "api");
    assert_eq!(c["reason"], Value::Null);
    assert_eq!(c["error"], Value::Null);
    assert_eq!(c["timestamp"], "2026-11-27T10:00:01.000Z");

    let (_, c) =
        json_of(app.post("/commands", &json!({"zone_id": id, "target_temp": 5, "reason": " frost guard "})).await)
            .await;
    assert_eq!((c["target_temp"].as_f64(), c["reason"].as_str()), (Some(5.0), Some("frost guard")));
    let (status, _) = json_of(app.post("/commands", &json!({"zone_id": id, "target_temp": 35.0})).await).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn post_command_errors() {
    let app = spawn_app().await;
    let id = app.zone_named("Office").await;
    for target in [4.9, 35.1, -10.0, 1000.0] {
        assert_error(
            app.post("/commands/", &json!({"zone_id": id, "target_temp": target})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "target_temp: target temperature",
        )
        .await;
    }
    assert_error(
        app.post("/commands/", &json!({"zone_id": id, "target_temp": "21"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "target_temp",
    )
    .await;
    assert_error(
        app.post("/commands/", &json!({"zone_id": id})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "target_temp",
    )
    .await;
    assert_error(
        app.post("/commands/", &json!({"target_temp": 20})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "zone_id",
    )
    .await;
    assert_error(
        app.post("/commands/", &json!({"zone_id": id, "target_temp": 20, "reason": "x".repeat(501)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reason",
    )
    .await;
    assert_error(
        app.post("/commands/", &json!({"zone_id": 999, "target_temp": 20})).await,
        StatusCode::NOT_FOUND,
        "Zone not found",
    )
    .await;
    let (_, list) = json_of(app.get(&format!("/commands/zone/{id}")).await).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn zone_commands_newest_first_with_pagination() {
    let app = spawn_app().await;
    let a = app.zone_named("A").await;
    let b = app.zone_named("B").await;
    for (zone, target) in [(a, 18.0), (b, 30.0), (a, 19.0), (a, 20.0), (a, 21.0)] {
        let (s, _) = json_of(app.post("/commands/", &json!({"zone_id": zone, "target_temp": target})).await).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let targets =
        |v: &Value| v.as_array().unwrap().iter().map(|c| c["target_temp"].as_f64().unwrap()).collect::<Vec<_>>();
    let (status, list) = json_of(app.get(&format!("/commands/zone/{a}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(targets(&list), [21.0, 20.0, 19.0, 18.0]);
    let (_, list) = json_of(app.get(&format!("/commands/zone/{a}/?skip=1&limit=2")).await).await;
    assert_eq!(targets(&list), [20.0, 19.0]);
    for query in ["limit=0", "limit=1001", "skip=-1"] {
        assert_error(app.get(&format!("/commands/zone/{a}?{query}")).await, StatusCode::UNPROCESSABLE_ENTITY, "").await;
    }
    assert_error(app.get("/commands/zone/999").await, StatusCode::NOT_FOUND, "Zone not found").await;
}

#[tokio::test]
async fn command_status_updates_are_visible() {
    let app = spawn_app().await;
    let id = app.zone_named("A").await;
    let (_, c) = json_of(app.post("/commands/", &json!({"zone_id": id, "target_temp": 22.0})).await).await;
    let cid = c["id"].as_i64().unwrap();
    let storage = &app.state.storage;

    let sent = storage.update_command_status(cid, CommandStatus::Sent, None).await.unwrap();
    assert_eq!((sent.status, sent.source), (CommandStatus::Sent, CommandSource::Api));
    let failed =
        storage.update_command_status(cid, CommandStatus::Failed, Some("timeout after 3 tries")).await.unwrap();
    assert_eq!(failed.error.as_deref(), Some("timeout after 3 tries"));
    assert_eq!(storage.get_command(cid).await.unwrap().unwrap(), failed);

    let (_, list) = json_of(app.get(&format!("/commands/zone/{id}")).await).await;
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(list[0]["error"], "timeout after 3 tries");
    let confirmed = storage.update_command_status(cid, CommandStatus::Confirmed, None).await.unwrap();
    assert_eq!(confirmed.error, None);
    assert!(matches!(
        storage.update_command_status(9999, CommandStatus::Sent, None).await,
        Err(StorageError::NotFound { what: "command" })
    ));
}
