//! `GET /alerts` and `POST /alerts/{id}/acknowledge` over HTTP with authentication on: the list by state and zone,
//! an operator's acknowledgement recorded with the token's name (and audited), a viewer refused, a cleared alert a
//! 409, bad filters a 422 naming the field, `/status`'s summary; alert settings refused at start naming the setting.

use heating_server::domain::{Caller, Role};
use heating_server::services::tokens::{self, TokenRequest};
use heating_server::storage::{AlertKind, NewAlert};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json_of, spawn_app_with, t0};

async fn token(app: &TestApp, name: &str, role: Role) -> String {
    let request = TokenRequest { name: name.into(), role, expires_in_days: None };
    tokens::create(&app.state, &Caller::system("test"), request).await.unwrap().secret.expose().to_string()
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    json_of(app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap()).await
}

async fn acknowledge(app: &TestApp, id: i64, token: &str) -> reqwest::Response {
    let url = app.url(&format!("/alerts/{id}/acknowledge"));
    app.client.post(url).bearer_auth(token).json(&json!({})).send().await.unwrap()
}

/// Raises an alert as the alert job does: stored, and kept in memory for `/status`.
async fn raise(app: &TestApp, zone_id: i64, kind: AlertKind) -> i64 {
    let new = NewAlert { zone_id, kind, message: format!("{kind} here"), raised_at: t0() };
    let alert = app.state.storage.insert_alert(&new).await.unwrap();
    app.state.alerts.record(&alert);
    alert.id
}

#[tokio::test]
async fn operators_acknowledge_alerts_with_their_name_and_viewers_only_read_them() {
    let app = spawn_app_with(|c| c.auth.auth = true).await;
    let admin = token(&app, "admin-1", Role::Admin).await;
    let operator = token(&app, "night-shift", Role::Operator).await;
    let viewer = token(&app, "wall-screen", Role::Viewer).await;
    let r = app.client.post(app.url("/zones")).bearer_auth(&admin).json(&json!({"name": "Hall"})).send().await;
    let (s, zone) = json_of(r.unwrap()).await;
    assert_eq!(s, StatusCode::CREATED);
    let z = zone["id"].as_i64().unwrap();
    let offline = raise(&app, z, AlertKind::Offline).await;
    let cold = raise(&app, z, AlertKind::BelowComfort).await;

    let (s, list) = get(&app, "/alerts", &viewer).await;
    assert_eq!(s, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], cold, "newest first (same time: higher id first)");
    assert_eq!((list[1]["kind"].as_str(), list[1]["state"].as_str()), (Some("offline"), Some("active")));
    assert_eq!(list[1]["raised_at"], "2026-11-27T10:00:00.000Z");
    assert_eq!((&list[1]["acknowledged_by"], &list[1]["cleared_at"]), (&Value::Null, &Value::Null));
    let (_, status) = get(&app, "/status", &viewer).await;
    assert_eq!(
        status["alerts"],
        json!({"active": 2, "acknowledged": 0, "by_kind": {"offline": 1, "below_comfort": 1},
        "newest_raised_at": "2026-11-27T10:00:00.000Z"})
    );

    // The compact status counts each zone's open alerts in its `alerts` column (read by name).
    let r = app.client.post(app.url("/zones")).bearer_auth(&admin).json(&json!({"name": "Quiet"})).send().await;
    let quiet = json_of(r.unwrap()).await.1["id"].as_i64().unwrap();
    let alerts_column = |compact: &Value| -> Vec<(i64, i64)> {
        let col = compact["zone_columns"].as_array().unwrap().iter().position(|c| c == "alerts").unwrap();
        let id = compact["zone_columns"].as_array().unwrap().iter().position(|c| c == "id").unwrap();
        let rows = compact["zone_rows"].as_array().unwrap();
        rows.iter().map(|r| (r[id].as_i64().unwrap(), r[col].as_i64().unwrap())).collect()
    };
    let (_, compact) = get(&app, "/status?view=compact", &viewer).await;
    assert_eq!(alerts_column(&compact), [(z, 2), (quiet, 0)]);

    assert_error(acknowledge(&app, offline, &viewer).await, StatusCode::FORBIDDEN, "operator role").await;
    let r = acknowledge(&app, offline, &operator).await;
    let (s, acked) = json_of(r).await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    assert_eq!(
        (acked["state"].as_str(), acked["acknowledged_by"].as_str()),
        (Some("acknowledged"), Some("night-shift"))
    );
    assert!(acked["acknowledged_at"].is_string());
    // Again, by someone else: the first acknowledgement stands, nothing more is recorded.
    let (s, again) = json_of(acknowledge(&app, offline, &admin).await).await;
    assert_eq!((s, &again["acknowledged_by"]), (StatusCode::OK, &json!("night-shift")));
    let (_, audit) = get(&app, &format!("/audit?zone_id={z}"), &admin).await;
    let acks: Vec<_> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "alert.acknowledge").collect();
    assert_eq!(acks.len(), 1, "{audit}");
    assert_eq!(
        (acks[0]["actor"].as_str(), &acks[0]["details"]),
        (Some("night-shift"), &json!({"alert_id": offline, "kind": "offline"}))
    );

    let (_, status) = get(&app, "/status", &viewer).await;
    assert_eq!((&status["alerts"]["active"], &status["alerts"]["acknowledged"]), (&json!(1), &json!(1)));
    let (_, compact) = get(&app, "/status?view=compact", &viewer).await;
    assert_eq!(alerts_column(&compact), [(z, 2), (quiet, 0)], "an acknowledged alert is still open");
    let (_, active) = get(&app, "/alerts?state=active", &viewer).await;
    assert_eq!(active.as_array().unwrap().iter().map(|a| a["id"].clone()).collect::<Vec<_>>(), [json!(cold)]);
    let (_, acked_only) = get(&app, &format!("/alerts?state=acknowledged&zone_id={z}"), &viewer).await;
    assert_eq!(acked_only.as_array().unwrap().len(), 1);
    let (_, other_zone) = get(&app, &format!("/alerts?state=all&zone_id={}", z + 1), &viewer).await;
    assert_eq!(other_zone, json!([]));

    // A note goes to the audit log; a long one is refused naming the field.
    let url = app.url(&format!("/alerts/{cold}/acknowledge"));
    let long = json!({"note": "x".repeat(501)});
    let r = app.client.post(url.clone()).bearer_auth(&operator).json(&long).send().await.unwrap();
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "note: at most 500 characters").await;
    let r = app.client.post(url.clone()).bearer_auth(&operator).json(&json!({"nope": 1})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let note = json!({"note": " window stuck open, facilities called "});
    let r = app.client.post(url).bearer_auth(&operator).json(&note).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, audit) = get(&app, &format!("/audit?zone_id={z}"), &admin).await;
    assert_eq!(
        audit[0]["details"],
        json!({"alert_id": cold, "kind": "below_comfort", "note": "window stuck open, facilities called"})
    );

    // Cleared: still listed in the history, no longer acknowledgeable.
    let cleared = app.state.storage.clear_alert(cold, t0()).await.unwrap();
    app.state.alerts.record(&cleared);
    assert_error(acknowledge(&app, cold, &operator).await, StatusCode::CONFLICT, "has cleared").await;
    let (_, compact) = get(&app, "/status?view=compact", &viewer).await;
    assert_eq!(alerts_column(&compact), [(z, 1), (quiet, 0)], "a cleared alert no longer counts");
    assert_error(acknowledge(&app, 999_999, &operator).await, StatusCode::NOT_FOUND, "Alert not found").await;
    let (_, open) = get(&app, "/alerts", &viewer).await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (_, all) = get(&app, "/alerts?state=all", &viewer).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let r = app.client.get(app.url("/alerts?state=gone")).bearer_auth(&viewer).send().await.unwrap();
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "state: \"gone\" is not one of").await;
    let r = app.client.get(app.url("/alerts?limit=0")).bearer_auth(&viewer).send().await.unwrap();
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "limit").await;
    let r = app.client.post(app.url("/alerts/x/acknowledge")).bearer_auth(&operator).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test]
async fn bad_alert_settings_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::sqlite_url(&dir.path().join("a.db"));
    for (change, needle) in [
        (
            Box::new(|c: &mut heating_server::Config| c.alerts.alert_cold_minutes = -5.0) as Box<dyn Fn(&mut _)>,
            "invalid alert settings: ALERT_COLD_MINUTES: -5 is outside",
        ),
        (
            Box::new(|c: &mut heating_server::Config| {
                c.alerts.alert_webhook_url = Some("mailto:ops@example.com".into())
            }),
            "invalid alert settings: ALERT_WEBHOOK_URL: expected an http:// or https:// URL",
        ),
    ] {
        let mut config = heating_server::Config::with_database_url(url.clone());
        change(&mut config);
        let err = heating_server::build(config).await.unwrap_err();
        assert!(format!("{err:#}").contains(needle), "{err:#}");
    }
}
