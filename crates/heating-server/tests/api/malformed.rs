//! Malformed bodies get a clear 4xx JSON error on every endpoint that takes a body, never a 500.

use reqwest::{Method, StatusCode};

use crate::helpers::{json_of, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_4xx_json_error_everywhere() {
    let app = spawn_app().await;
    let id = app.zone_named("Hall").await;
    let put_path: &'static str = Box::leak(format!("/zones/{id}").into_boxed_str());
    let endpoints = [
        (Method::POST, "/zones/"),
        (Method::PUT, put_path),
        (Method::POST, "/sensordata/"),
        (Method::POST, "/commands/"),
    ];
    // (body, expected status, text the detail must contain)
    let bodies: [(&'static str, StatusCode, &str); 8] = [
        ("{", StatusCode::BAD_REQUEST, "not valid JSON"),
        ("{\"name\": \"x\",}", StatusCode::BAD_REQUEST, "not valid JSON"),
        ("not json", StatusCode::BAD_REQUEST, "not valid JSON"),
        ("", StatusCode::BAD_REQUEST, "not valid JSON"),
        ("\u{1F525}", StatusCode::BAD_REQUEST, "not valid JSON"),
        ("[]", StatusCode::UNPROCESSABLE_ENTITY, "invalid request body"),
        ("null", StatusCode::UNPROCESSABLE_ENTITY, "invalid request body"),
        ("42", StatusCode::UNPROCESSABLE_ENTITY, "invalid request body"),
    ];
    for (method, path) in &endpoints {
        for (body, status, needle) in &bodies {
            let resp = app.send_raw(method.clone(), path, body).await;
            let (got, json) = json_of(resp).await;
            assert_eq!(got, *status, "{method} {path} with {body:?}: {json}");
            let detail = json["detail"].as_str().unwrap();
            assert!(detail.contains(needle), "{method} {path} with {body:?}: {detail}");
        }
        // No JSON content type.
        let resp = app.client.request(method.clone(), app.url(path)).body("{\"name\":\"x\"}").send().await.unwrap();
        let (got, json) = json_of(resp).await;
        assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{method} {path}");
        assert!(json["detail"].as_str().unwrap().contains("application/json"));
        // Too large.
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
        let resp = app
            .client
            .request(method.clone(), app.url(path))
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        let (got, json) = json_of(resp).await;
        assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE, "{method} {path}: {json}");
    }
    // The zone is untouched and the server still healthy.
    let (status, zone) = json_of(app.get(put_path).await).await;
    assert_eq!((status, zone["name"].as_str()), (StatusCode::OK, Some("Hall")));
}
