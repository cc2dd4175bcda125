//! Tokens, roles and the audit log over real HTTP: every route × every kind of caller (the table below), 401 for
//! missing, unknown, revoked and expired tokens, the token API, anonymous reads, the failed sign-in limit, actors
//! on commands and audit entries, and the device network allowlist.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Duration;
use heating_server::config::AuthSettings;
use heating_server::domain::{Caller, Role, TokenName};
use heating_server::services::auth::{generate_token, hash_token};
use heating_server::services::tokens::{self, TokenRequest};
use heating_server::storage::NewToken;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, json_of, spawn_app, spawn_app_with, t0};

/// Who may call a route: anyone (public), or a role and above.
#[derive(Debug, Clone, Copy)]
enum Needs {
    Public,
    Role(Role),
}

use Needs::Public;
const VIEWER: Needs = Needs::Role(Role::Viewer);
const OPERATOR: Needs = Needs::Role(Role::Operator);
const ADMIN: Needs = Needs::Role(Role::Admin);

/// The table: method, path (`{z}`: a zone without a device), body (`{n}`: a number unique to the request), who
/// may call it, and its status for a caller who may. Every other caller gets 401 (no token, an unknown, revoked or
/// expired token) or 403 (a role too low).
const TABLE: &[(&str, &str, Option<&str>, Needs, u16)] = &[
    ("GET", "/health", None, Public, 200),
    ("GET", "/", None, Public, 200),
    ("GET", "/assets/app.js", None, Public, 200),
    ("GET", "/docs/", None, Public, 200),
    ("GET", "/api-docs/openapi.json", None, Public, 200),
    ("GET", "/auth/whoami", None, VIEWER, 200),
    ("GET", "/status", None, VIEWER, 200),
    ("GET", "/metrics", None, VIEWER, 200),
    ("GET", "/zones", None, VIEWER, 200),
    ("GET", "/zones/{z}", None, VIEWER, 200),
    ("GET", "/zones/{z}/details", None, VIEWER, 200),
    ("GET", "/zones/{z}/history", None, VIEWER, 200),
    ("GET", "/zones/{z}/history.csv", None, VIEWER, 200),
    ("GET", "/history.csv", None, VIEWER, 200),
    ("GET", "/zones/{z}/model", None, VIEWER, 409), // no device: no rated power yet
    ("GET", "/zones/{z}/plan", None, VIEWER, 200),
    ("GET", "/sensordata", None, VIEWER, 200),
    ("GET", "/sensordata/zone/{z}", None, VIEWER, 200),
    ("GET", "/commands/zone/{z}", None, VIEWER, 200),
    ("GET", "/weather/forecast/Berlin", None, VIEWER, 200),
    ("POST", "/zones/{z}/target", Some(r#"{"target_temp": 21.0}"#), OPERATOR, 409),
    ("DELETE", "/zones/{z}/hold", None, OPERATOR, 404),
    ("POST", "/commands", Some(r#"{"zone_id": {z}, "target_temp": 21.0}"#), OPERATOR, 201),
    ("POST", "/sensordata", Some(r#"{"zone_id": {z}, "temperature": 20.5, "occupancy": true}"#), OPERATOR, 201),
    ("POST", "/zones", Some(r#"{"name": "Room {n}"}"#), ADMIN, 201),
    ("PUT", "/zones/{z}", Some(r#"{"preferences": {"max_temp": 27.0}}"#), ADMIN, 200),
    ("DELETE", "/zones/999999", None, ADMIN, 404),
    ("POST", "/tokens", Some(r#"{"name": "t{n}", "role": "viewer"}"#), ADMIN, 201),
    ("GET", "/tokens", None, ADMIN, 200),
    ("DELETE", "/tokens/999999", None, ADMIN, 404),
    ("GET", "/audit", None, ADMIN, 200),
    ("GET", "/groups", None, VIEWER, 200),
    ("GET", "/groups/999999", None, VIEWER, 404),
    ("GET", "/groups/999999/summary", None, VIEWER, 404),
    ("GET", "/groups/999999/history", None, VIEWER, 404),
    ("GET", "/status?view=compact", None, VIEWER, 200),
    ("POST", "/groups", Some(r#"{"name": "Floor {n}"}"#), ADMIN, 201),
    ("PUT", "/groups/999999", Some(r#"{"name": "x"}"#), ADMIN, 404),
    ("DELETE", "/groups/999999", None, ADMIN, 404),
    ("GET", "/alerts", None, VIEWER, 200),
    ("POST", "/alerts/999999/acknowledge", Some("{}"), OPERATOR, 404),
    ("GET", "/device-profiles", None, VIEWER, 200),
    ("GET", "/device-profiles/relay-coil", None, VIEWER, 200),
    ("POST", "/device-profiles", Some(POSTED_PROFILE), ADMIN, 201),
    // Nothing listens on port 1: the probe reaches no device.
    (
        "POST",
        "/device-profiles/probe",
        Some(r#"{"host": "127.0.0.1", "port": 1, "profile": "heating-sim"}"#),
        ADMIN,
        503,
    ),
    (
        "POST",
        "/maintenance/rollups/rebuild",
        Some(r#"{"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}"#),
        ADMIN,
        200,
    ),
];

/// A profile of its own name per request (`p{n}`), as `POST /device-profiles` takes it.
const POSTED_PROFILE: &str = r#"{"toml": "format = 1\nname = \"p{n}\"\nversion = 1\ndescription = \"d\"\n[points.air_temperature]\ntable = \"input\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\n[points.target]\ntable = \"holding\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\nwrite = \"fc06\"\nmin = 5.0\nmax = 30.0\nstep = 0.5\n"}"#;

/// Requests with bad credentials come from addresses of their own (all of 127.0.0.0/8 is loopback), so that the
/// failed sign-in limit of one address is not what the table tests.
static NEXT_ADDRESS: AtomicU32 = AtomicU32::new(1);

fn fresh_client() -> reqwest::Client {
    let n = NEXT_ADDRESS.fetch_add(1, Ordering::SeqCst);
    let ip = IpAddr::from([127, 1, (n >> 8) as u8, (n & 0xff) as u8]);
    reqwest::Client::builder().local_address(ip).build().unwrap()
}

fn auth_on(settings: impl FnOnce(&mut AuthSettings)) -> impl FnOnce(&mut heating_server::Config) {
    move |c| {
        c.auth.auth = true;
        settings(&mut c.auth);
    }
}

/// A token made through the service, as `heating-server token create` makes it.
async fn token(app: &TestApp, name: &str, role: Role) -> String {
    let request = TokenRequest { name: name.into(), role, expires_in_days: None };
    tokens::create(&app.state, &Caller::system("test"), request).await.unwrap().secret.expose().to_string()
}

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = client.request(Method::from_bytes(method.as_bytes()).unwrap(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn each_role_can_do_exactly_its_actions() {
    let app = spawn_app_with(auth_on(|_| {})).await;
    let admin = token(&app, "admin-1", Role::Admin).await;
    let operator = token(&app, "operator-1", Role::Operator).await;
    let viewer = token(&app, "viewer-1", Role::Viewer).await;
    let revoked = token(&app, "revoked-1", Role::Admin).await;
    let id = app.state.storage.token_by_name("revoked-1").await.unwrap().unwrap().id;
    tokens::revoke(&app.state, &Caller::system("test"), id).await.unwrap();
    let expired = generate_token().unwrap();
    let new = NewToken {
        name: TokenName::parse("expired-1").unwrap(),
        role: Role::Admin,
        token_hash: hash_token(&expired),
        prefix: expired[..8].to_string(),
        created_at: t0() - Duration::days(2),
        expires_at: Some(t0() - Duration::days(1)),
    };
    app.state.storage.create_token(&new).await.unwrap();
    let zone = send(&app, &app.client, "POST", "/zones", Some(r#"{"name": "Hall"}"#), Some(&admin)).await;
    let (status, zone) = json_of(zone).await;
    assert_eq!(status, StatusCode::CREATED, "{zone}");
    let z = zone["id"].as_i64().unwrap().to_string();

    let callers: [(&str, Option<&str>, Option<Role>); 7] = [
        ("no token", None, None),
        ("unknown token", Some("hst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None),
        ("revoked token", Some(&revoked), None),
        ("expired token", Some(&expired), None),
        ("viewer", Some(&viewer), Some(Role::Viewer)),
        ("operator", Some(&operator), Some(Role::Operator)),
        ("admin", Some(&admin), Some(Role::Admin)),
    ];
    let mut n = 0;
    let mut wrong = Vec::new();
    for &(method, path, body, needs, ok) in TABLE {
        for &(who, token, role) in &callers {
            n += 1;
            let path = path.replace("{z}", &z);
            let body = body.map(|b| b.replace("{z}", &z).replace("{n}", &n.to_string()));
            let expected = match (needs, role) {
                (Public, _) => ok,
                (Needs::Role(_), None) => 401,
                (Needs::Role(r), Some(have)) if have >= r => ok,
                (Needs::Role(_), Some(_)) => 403,
            };
            let client = if role.is_none() { fresh_client() } else { app.client.clone() };
            let resp = send(&app, &client, method, &path, body.as_deref(), token).await;
            let status = resp.status().as_u16();
            let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
            let text = resp.text().await.unwrap();
            if status != expected {
                wrong.push(format!("{method} {path} as {who}: {status}, expected {expected}: {text}"));
                continue;
            }
            if status == 401 {
                assert!(challenge.as_deref().is_some_and(|c| c.starts_with("Bearer")), "{method} {path} {who}");
                assert!(token.is_none_or(|t| !text.contains(t)), "the token is never echoed: {text}");
            }
            if status == 403 {
                let needed = match needs {
                    Needs::Role(r) => r.as_str(),
                    Public => unreachable!(),
                };
                assert!(text.contains(&format!("needs the {needed} role")), "{method} {path} {who}: {text}");
            }
        }
    }
    assert!(wrong.is_empty(), "endpoint × role table broken:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn whoami_tokens_and_revocation() {
    let app = spawn_app_with(auth_on(|_| {})).await;
    let admin = token(&app, "admin-1", Role::Admin).await;
    let whoami = send(&app, &app.client, "GET", "/auth/whoami", None, Some(&admin)).await;
    assert_eq!(json_of(whoami).await.1, json!({"name": "admin-1", "role": "admin", "auth": true}));

    let body = r#"{"name": "hall-tablet", "role": "operator", "expires_in_days": 30}"#;
    let (status, created) = json_of(send(&app, &app.client, "POST", "/tokens", Some(body), Some(&admin)).await).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let tablet = created["token"].as_str().unwrap().to_string();
    assert!(tablet.starts_with("hst_") && tablet.len() == 47, "{tablet}");
    assert_eq!((created["name"].as_str(), created["role"].as_str()), (Some("hall-tablet"), Some("operator")));
    assert_eq!(created["prefix"].as_str(), Some(&tablet[..8]));
    assert!(created["expires_at"].is_string() && created["revoked_at"].is_null());
    let whoami = send(&app, &app.client, "GET", "/auth/whoami", None, Some(&tablet)).await;
    assert_eq!(json_of(whoami).await.1, json!({"name": "hall-tablet", "role": "operator", "auth": true}));

    let (status, list) = json_of(send(&app, &app.client, "GET", "/tokens", None, Some(&admin)).await).await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&tablet) && !text.contains(&hash_token(&tablet)) && !text.contains("token_hash"), "{text}");
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin-1", "hall-tablet"]);
    assert!(list[1]["last_used_at"].is_string(), "used once: {list}");

    let again = send(&app, &app.client, "POST", "/tokens", Some(body), Some(&admin)).await;
    assert_error(again, StatusCode::CONFLICT, "a token named \"hall-tablet\" already exists").await;
    let bad = send(&app, &app.client, "POST", "/tokens", Some(r#"{"name": "x", "role": "root"}"#), Some(&admin)).await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "role").await;
    let bad = r#"{"name": "42", "role": "viewer"}"#;
    let bad = send(&app, &app.client, "POST", "/tokens", Some(bad), Some(&admin)).await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "name").await;
    let bad = r#"{"name": "y", "role": "viewer", "expires_in_days": 0}"#;
    let bad = send(&app, &app.client, "POST", "/tokens", Some(bad), Some(&admin)).await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "expires_in_days").await;
    let bad = r#"{"name": "y", "role": "viewer", "expires_in_days": 1.5}"#;
    let bad = send(&app, &app.client, "POST", "/tokens", Some(bad), Some(&admin)).await;
    assert_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "expires_in_days").await;
    // A whole number written as a float is an integer to JSON Schema, so to the API.
    let whole = r#"{"name": "z", "role": "viewer", "expires_in_days": 30.0}"#;
    let whole = send(&app, &app.client, "POST", "/tokens", Some(whole), Some(&admin)).await;
    assert_eq!(whole.status(), StatusCode::CREATED);

    let id = created["id"].as_i64().unwrap();
    let (status, revoked) =
        json_of(send(&app, &app.client, "DELETE", &format!("/tokens/{id}"), None, Some(&admin)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string() && revoked.get("token").is_none(), "{revoked}");
    let refused = send(&app, &app.client, "GET", "/auth/whoami", None, Some(&tablet)).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "Token revoked").await;
    let stored = std::fs::read(&app.db_path).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(&tablet), "never stored in clear");
}

#[tokio::test]
async fn anonymous_reads_allow_reads_only() {
    let app = spawn_app_with(auth_on(|a| a.anonymous_reads = true)).await;
    let (status, me) = json_of(app.get("/auth/whoami").await).await;
    assert_eq!((status, me), (StatusCode::OK, json!({"name": "anonymous", "role": "viewer", "auth": true})));
    assert_eq!(app.get("/zones").await.status(), StatusCode::OK);
    assert_eq!(app.get("/status").await.status(), StatusCode::OK);
    assert_error(app.post("/zones", &json!({"name": "X"})).await, StatusCode::UNAUTHORIZED, "Bearer").await;
    assert_error(app.get("/tokens").await, StatusCode::FORBIDDEN, "admin").await;
    let bad = send(&app, &app.client, "GET", "/zones", None, Some("hst_nope")).await;
    assert_error(bad, StatusCode::UNAUTHORIZED, "Invalid token").await;
}

#[tokio::test]
async fn local_mode_acts_as_the_admin_local() {
    let app = spawn_app().await;
    let (_, me) = json_of(app.get("/auth/whoami").await).await;
    assert_eq!(me, json!({"name": "local", "role": "admin", "auth": false}));
    let id = app.zone_named("Kitchen").await;
    let (status, command) = json_of(app.post("/commands", &json!({"zone_id": id, "target_temp": 20.0})).await).await;
    assert_eq!((status, command["actor"].as_str()), (StatusCode::CREATED, Some("local")));
    let (_, audit) = json_of(app.get("/audit").await).await;
    assert_eq!(audit[0]["actor"], json!("local"));
    assert_eq!(audit[0]["action"], json!("zone.create"));
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_address() {
    let app = spawn_app_with(auth_on(|_| {})).await;
    let admin = token(&app, "admin-1", Role::Admin).await;
    let client = fresh_client();
    for _ in 0..10 {
        let resp = send(&app, &client, "GET", "/zones", None, Some("hst_guess")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = send(&app, &client, "GET", "/zones", None, Some("hst_guess")).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-ins").await;
    let blocked = send(&app, &client, "GET", "/zones", None, Some(&admin)).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "blocked whatever it sends");
    let other = send(&app, &fresh_client(), "GET", "/zones", None, Some(&admin)).await;
    assert_eq!(other.status(), StatusCode::OK, "other addresses are not");
}

#[tokio::test]
async fn the_sign_in_limit_is_a_setting_and_zero_means_none() {
    let app = spawn_app_with(auth_on(|a| a.sign_in_failures_per_minute = 3)).await;
    let client = fresh_client();
    for _ in 0..3 {
        assert_eq!(
            send(&app, &client, "GET", "/zones", None, Some("hst_guess")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let resp = send(&app, &client, "GET", "/zones", None, Some("hst_guess")).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "blocked after 3");
    let app = spawn_app_with(auth_on(|a| a.sign_in_failures_per_minute = 0)).await;
    let client = fresh_client();
    for _ in 0..30 {
        assert_eq!(
            send(&app, &client, "GET", "/zones", None, Some("hst_guess")).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn audit_entries_and_commands_name_the_actor() {
    let app = spawn_app_with(auth_on(|_| {})).await;
    let admin = token(&app, "facility-laptop", Role::Admin).await;
    let operator = token(&app, "hall-tablet", Role::Operator).await;
    let as_admin = |m: &'static str, p: String, b: Option<String>| {
        let (app, admin) = (&app, admin.clone());
        async move { json_of(send(app, &app.client, m, &p, b.as_deref(), Some(&admin)).await).await }
    };
    let (_, zone) = as_admin("POST", "/zones".into(), Some(r#"{"name": "Office"}"#.into())).await;
    let z = zone["id"].as_i64().unwrap();
    let (_, other) = as_admin("POST", "/zones".into(), Some(r#"{"name": "Other"}"#.into())).await;
    let change = r#"{"name": "Office 1", "preferences": {"max_temp": 24.0}}"#;
    let (status, _) = as_admin("PUT", format!("/zones/{z}"), Some(change.into())).await;
    assert_eq!(status, StatusCode::OK);
    let body = format!(r#"{{"zone_id": {z}, "target_temp": 21.0}}"#);
    let (status, command) =
        json_of(send(&app, &app.client, "POST", "/commands", Some(&body), Some(&operator)).await).await;
    assert_eq!((status, command["actor"].as_str()), (StatusCode::CREATED, Some("hall-tablet")));
    let (_, commands) = as_admin("GET", format!("/commands/zone/{z}"), None).await;
    assert_eq!(commands[0]["actor"], json!("hall-tablet"));
    let (status, _) = as_admin("DELETE", format!("/zones/{}", other["id"]), None).await;
    assert_eq!(status, StatusCode::OK);

    let (status, log) = as_admin("GET", "/audit".into(), None).await;
    assert_eq!(status, StatusCode::OK);
    let rows: Vec<(&str, &str)> =
        log.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert_eq!(
        rows,
        [
            ("zone.delete", "facility-laptop"),
            ("zone.update", "facility-laptop"),
            ("zone.create", "facility-laptop"),
            ("zone.create", "facility-laptop"),
            ("token.create", "test"),
            ("token.create", "test"),
        ]
    );
    assert_eq!(log[1]["details"]["preferences.max_temp"], json!({"from": 28.0, "to": 24.0}));
    assert_eq!(log[1]["details"]["name"], json!({"from": "Office", "to": "Office 1"}));
    let (_, of_zone) = as_admin("GET", format!("/audit?zone_id={z}&limit=1"), None).await;
    assert_eq!(of_zone.as_array().unwrap().len(), 1);
    assert_eq!(of_zone[0]["action"], json!("zone.update"));
    let (status, _) = as_admin("GET", "/audit?limit=0".into(), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn device_networks_refuse_other_hosts() {
    let app = spawn_app_with(|c| c.auth.device_networks = "10.20.0.0/16,127.0.0.1/32".parse().unwrap()).await;
    let refused = app.post("/zones", &json!({"name": "A", "modbus_host": "10.30.0.1", "modbus_port": 502})).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "modbus_host: 10.30.0.1 is outside").await;
    let named = app.post("/zones", &json!({"name": "A", "modbus_host": "plc.example", "modbus_port": 502})).await;
    assert_error(named, StatusCode::UNPROCESSABLE_ENTITY, "modbus_host").await;
    let ok = app.create_zone(json!({"name": "A", "modbus_host": "10.20.1.2", "modbus_port": 502})).await;
    app.create_zone(json!({"name": "B", "modbus_port": 5020})).await; // localhost is 127.0.0.1
    app.create_zone(json!({"name": "No device", "modbus_host": "anything.example"})).await;
    let moved = app.put(&format!("/zones/{}", ok["id"]), &json!({"modbus_host": "8.8.8.8"})).await;
    assert_error(moved, StatusCode::UNPROCESSABLE_ENTITY, "modbus_host").await;
}

#[tokio::test]
async fn devices_stored_before_the_networks_were_set_are_not_used() {
    let app = spawn_app_with(|c| c.auth.device_networks = "10.20.0.0/16".parse().unwrap()).await;
    // As a zone registered before DEVICE_NETWORKS was set: straight into the database.
    let fields = heating_server::storage::ZoneFields {
        name: heating_server::domain::ZoneName::parse("Old").unwrap(),
        preferences: Default::default(),
        modbus_host: heating_server::domain::ModbusHost::parse("10.30.0.1").unwrap(),
        modbus_port: std::num::NonZeroU16::new(502),
        modbus_unit_id: 1,
        device_profile: "heating-sim".into(),
        rated_power_w: None,
    };
    let old = app.state.storage.create_zone(&fields, chrono::Utc::now()).await.unwrap();
    app.state.fleet.reload(&app.state.storage).await.unwrap();
    assert!(app.state.fleet.get(old.id).is_none(), "not polled or controlled");
    let refused = app.post(&format!("/zones/{}/target", old.id), &json!({"target_temp": 21.0})).await;
    assert_error(refused, StatusCode::CONFLICT, "outside the allowed device networks").await;
}
