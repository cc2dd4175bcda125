//! A trailing slash is optional on every path, and `/health` reports the database.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, json_of, spawn_app};

#[tokio::test]
async fn every_get_path_answers_the_same_with_and_without_a_trailing_slash() {
    let app = spawn_app().await;
    let id = app.create_zone(json!({"name": "Hall"})).await["id"].as_i64().unwrap();
    let (s, _) =
        json_of(app.post("/sensordata", &json!({"zone_id": id, "temperature": 20.0, "occupancy": true})).await).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = json_of(app.post("/commands", &json!({"zone_id": id, "target_temp": 20.0})).await).await;
    assert_eq!(s, StatusCode::CREATED);

    for path in [
        "/zones".to_string(),
        "/zones?limit=1".to_string(),
        format!("/zones/{id}"),
        format!("/zones/{id}/details"),
        "/zones/999".to_string(),
        "/sensordata".to_string(),
        format!("/sensordata/zone/{id}"),
        "/commands/zone/999".to_string(),
        format!("/commands/zone/{id}"),
        "/health".to_string(),
        "/api-docs/openapi.json".to_string(),
    ] {
        let slashed = match path.split_once('?') {
            Some((p, q)) => format!("{p}/?{q}"),
            None => format!("{path}/"),
        };
        let (s1, b1) = json_of(app.get(&path).await).await;
        let (s2, b2) = json_of(app.get(&slashed).await).await;
        assert_eq!((s1, &b1), (s2, &b2), "{path} vs {slashed}");
        assert_ne!(s1, StatusCode::METHOD_NOT_ALLOWED);
    }
    // Live answers change between two requests (the clock moves); the status codes must not.
    for path in ["/status", "/weather"] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK);
        assert_eq!(app.get(&format!("{path}/")).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn writes_work_with_and_without_a_trailing_slash() {
    let app = spawn_app().await;
    for (i, path) in ["/zones", "/zones/"].iter().enumerate() {
        let (s, z) = json_of(app.post(path, &json!({"name": format!("Z{i}")})).await).await;
        assert_eq!(s, StatusCode::CREATED, "{path}: {z}");
        let id = z["id"].as_i64().unwrap();
        for p in [format!("/zones/{id}"), format!("/zones/{id}/")] {
            let (s, _) = json_of(app.put(&p, &json!({"preferences": {"occupied_temp": 22}})).await).await;
            assert_eq!(s, StatusCode::OK, "PUT {p}");
        }
        let (s, _) = json_of(
            app.post(
                &format!("/sensordata{}", &path[6..]),
                &json!({"zone_id": id, "temperature": 20.0, "occupancy": true}),
            )
            .await,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) =
            json_of(app.post(&format!("/commands{}", &path[6..]), &json!({"zone_id": id, "target_temp": 20.0})).await)
                .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = json_of(app.delete(&format!("/zones/{id}/?cascade=true")).await).await;
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let app = spawn_app().await;
    assert_error(app.get("/nope").await, StatusCode::NOT_FOUND, "no route for GET /nope").await;
    // `/` is the dashboard (tests/api/dashboard.rs); any other method on it is a JSON error.
    assert_error(app.post("/", &json!({})).await, StatusCode::METHOD_NOT_ALLOWED, "POST").await;
    let resp = app.client.request(Method::PATCH, app.url("/zones/1")).send().await.unwrap();
    assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "PATCH").await;
    assert_error(app.delete("/zones/").await, StatusCode::METHOD_NOT_ALLOWED, "DELETE").await;
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = spawn_app().await;
    let (status, body) = json_of(app.get("/health").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok", "database": "ok"}));
    // Close the pool under the running server: the database no longer answers.
    app.state.storage.close().await;
    let (status, body) = json_of(app.get("/health/").await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "unreachable");
    assert!(body["detail"].is_string());
}
