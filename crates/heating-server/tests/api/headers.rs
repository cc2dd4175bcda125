//! Security headers on every response, and the `Host` check against DNS rebinding.

use heating_server::config::AllowedHosts;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const DASHBOARD_CSP: &str =
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'";

async fn with_host(app: &TestApp, host: &str, path: &str) -> (StatusCode, Value) {
    let resp = app.client.get(app.url(path)).header("host", host).send().await.unwrap();
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{path} for {host}");
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_response_says_nosniff_and_the_dashboard_allows_only_its_own_origin() {
    let app = spawn_app().await;
    let cases = [
        (Method::GET, "/", StatusCode::OK),
        (Method::GET, "/assets/app.js", StatusCode::OK),
        (Method::GET, "/assets/nope.js", StatusCode::NOT_FOUND),
        (Method::GET, "/zones", StatusCode::OK),
        (Method::GET, "/zones/999", StatusCode::NOT_FOUND),
        (Method::GET, "/status", StatusCode::OK),
        (Method::GET, "/health", StatusCode::OK),
        (Method::DELETE, "/health", StatusCode::METHOD_NOT_ALLOWED),
        (Method::GET, "/no/such/path", StatusCode::NOT_FOUND),
        (Method::GET, "/api-docs/openapi.json", StatusCode::OK),
        (Method::GET, "/docs/", StatusCode::OK),
        (Method::GET, "/docs/swagger-ui.css", StatusCode::OK),
        (Method::GET, "/zones?limit=0", StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (method, path, status) in cases {
        let resp = app.client.request(method.clone(), app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), status, "{method} {path}");
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{method} {path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{method} {path}");
        assert_eq!(h["x-frame-options"], "DENY", "{method} {path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{method} {path}: {csp}");
        if path == "/" || path.starts_with("/assets/") {
            assert_eq!(csp, DASHBOARD_CSP, "{path}");
        } else if path.starts_with("/docs") {
            assert!(csp.starts_with("default-src 'self';"), "{path}: {csp}");
        } else {
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        }
        // One of each, never doubled by the dashboard's own.
        assert_eq!(h.get_all("x-content-type-options").iter().count(), 1, "{path}");
    }
    // A 304 too.
    let etag = app.get("/").await.headers()["etag"].clone();
    let again = app.client.get(app.url("/")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["x-content-type-options"], "nosniff");
    assert_eq!(again.headers()["content-security-policy"], DASHBOARD_CSP);
    app.stop().await;
}

#[tokio::test]
async fn bound_to_loopback_only_loopback_names_are_answered() {
    let app = spawn_app().await; // believes it is bound to 127.0.0.1:8000, the default
    for host in ["localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LocalHost:1"] {
        for path in ["/", "/zones", "/health"] {
            assert_eq!(with_host(&app, host, path).await.0, StatusCode::OK, "{host} {path}");
        }
    }
    // A rebinding page's host name, on any path, the dashboard included.
    for host in ["evil.example", "evil.example:8000", "127.0.0.2:8000", "localhost.evil.example", "bad host"] {
        for path in ["/", "/zones", "/health", "/no/such/path", "/docs/"] {
            let (status, body) = with_host(&app, host, path).await;
            assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host} {path}");
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains("--allowed-hosts / ALLOWED_HOSTS"), "{detail}");
            assert!(detail.contains(&format!("{host:?}")), "{detail}");
        }
    }
    // Refused before anything happens: no zone is created.
    let resp = app
        .client
        .post(app.url("/zones"))
        .header("host", "evil.example")
        .json(&serde_json::json!({"name": "Rebound"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST);
    let zones: Value = app.get("/zones").await.json().await.unwrap();
    assert_eq!(zones.as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn bound_elsewhere_any_host_is_answered_unless_named() {
    let app = spawn_app_with(|c| c.bind = "0.0.0.0:8000".parse().unwrap()).await;
    for host in ["heating.example.org", "10.0.0.5:8000", "localhost"] {
        assert_eq!(with_host(&app, host, "/zones").await.0, StatusCode::OK, "{host}");
    }
    app.stop().await;

    let app = spawn_app_with(|c| {
        c.bind = "0.0.0.0:8000".parse().unwrap();
        c.hosts.allowed_hosts = Some(AllowedHosts::Only(vec!["heating.example.org".into(), "10.0.0.5".into()]));
    })
    .await;
    for host in ["heating.example.org", "HEATING.example.org:8000", "10.0.0.5:8000"] {
        assert_eq!(with_host(&app, host, "/zones").await.0, StatusCode::OK, "{host}");
    }
    for host in ["localhost", "10.0.0.6", "evil.example"] {
        assert_eq!(with_host(&app, host, "/zones").await.0, StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    app.stop().await;

    let app = spawn_app_with(|c| c.hosts.allowed_hosts = Some(AllowedHosts::Any)).await;
    assert_eq!(with_host(&app, "evil.example", "/zones").await.0, StatusCode::OK, "`*` on loopback");
    app.stop().await;
}
