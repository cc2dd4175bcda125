//! Restarts keep data, migrations are idempotent, and an unusable database is a clear startup error.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use heating_server::Config;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use sqlx::sqlite::SqliteConnectOptions;

use crate::helpers::{StepClock, json_of, spawn_app, spawn_app_on, sqlite_url};

#[tokio::test]
async fn restart_on_the_same_database_keeps_everything() {
    let app = spawn_app().await;
    let id = app.create_zone(json!({"name": "Attic", "modbus_port": 5024, "preferences": {"x": [1, 2]}})).await["id"]
        .as_i64()
        .unwrap();
    json_of(app.post("/sensordata/", &json!({"zone_id": id, "temperature": 18.25, "occupancy": true})).await).await;
    json_of(app.post("/commands/", &json!({"zone_id": id, "target_temp": 19.5})).await).await;
    let (_, before) = json_of(app.get(&format!("/zones/{id}/details")).await).await;
    let db_path = app.db_path.clone();
    let dir = app.stop_keep_dir().await;

    let app = spawn_app_on(&db_path, StepClock::new()).await;
    let (status, after) = json_of(app.get(&format!("/zones/{id}/details")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, before);
    let (_, zones) = json_of(app.get("/zones").await).await;
    assert_eq!(zones.as_array().unwrap().len(), 1);
    // The restarted server still writes.
    let (status, _) = json_of(app.post("/zones/", &json!({"name": "Cellar"})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;
    drop(dir);
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let app = spawn_app().await;
    app.zone_named("Kept").await;
    // Again on the running database, and again through a second application on the same file.
    app.state.storage.migrate().await.unwrap();
    let second = heating_server::build(Config::with_database_url(sqlite_url(&app.db_path))).await.unwrap();
    second.state().storage.migrate().await.unwrap();
    second.state().storage.close().await;

    let migrations_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let files = std::fs::read_dir(&migrations_dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
        .count();
    assert!(files >= 1);

    let options = SqliteConnectOptions::new().filename(&app.db_path);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*), SUM(success) FROM _sqlx_migrations").fetch_one(&pool).await.unwrap();
    let (applied, succeeded): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((applied, succeeded), (files as i64, files as i64), "each migration applied exactly once");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
    pool.close().await;

    let (_, zones) = json_of(app.get("/zones").await).await;
    assert_eq!(zones[0]["name"], "Kept");
}

#[tokio::test]
async fn an_unopenable_database_is_a_clear_error_from_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/heating.db");
    let err = heating_server::build(Config::with_database_url(sqlite_url(&missing))).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("could not open database") && msg.contains("no/such/dir/heating.db"), "{msg}");
    assert!(msg.contains("unable to open database file"), "{msg}");

    // A directory is not a database file either.
    let err = heating_server::build(Config::with_database_url(sqlite_url(dir.path()))).await.unwrap_err();
    assert!(format!("{err:#}").contains("could not open database"), "{err:#}");

    let err = heating_server::build(Config::with_database_url("mysql://u:pw@host/db")).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("unsupported database URL") && !msg.contains("pw@"), "{msg}");
}

/// Runs the binary with `DATABASE_URL` and extra variables; returns (success, exit code, stderr).
async fn run_binary(database_url: &str, extra_env: &[(&str, &str)]) -> (bool, Option<i32>, String) {
    let cwd = tempfile::tempdir().unwrap(); // no .env here or above it in a fresh temp dir
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_heating-server"));
    cmd.current_dir(cwd.path())
        .env_remove("RUST_LOG")
        .env_remove("WEATHERAPI_KEY")
        .env_remove("POLL_INTERVAL_SECS")
        .env_remove("CONTROL_INTERVAL_SECS")
        .env("DATABASE_URL", database_url)
        .env("BIND", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let output =
        tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("the binary exits by itself").unwrap();
    (output.status.success(), output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn the_binary_exits_non_zero_with_a_clear_message_on_an_unopenable_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("missing-dir/heating.db"));
    let (ok, code, stderr) =
        run_binary(&url, &[("WEATHERAPI_KEY", "key-that-must-not-leak"), ("RUST_LOG", "debug")]).await;
    assert!(!ok, "{stderr}");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("could not open database"), "{stderr}");
    assert!(stderr.contains("missing-dir/heating.db"), "{stderr}");
    assert!(stderr.contains("unable to open database file"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("key-that-must-not-leak"), "the key is never logged: {stderr}");
    assert!(stderr.contains("[redacted]"), "the debug log shows the config with the key redacted: {stderr}");

    let (ok, _, stderr) = run_binary("postgres://app:s3cret-pw@localhost/heating", &[]).await;
    assert!(!ok);
    assert!(stderr.contains("could not open database postgres://app:[redacted]@localhost/heating"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw") && !stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn the_binary_refuses_an_unknown_control_strategy_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("heating.db"));
    let (ok, code, stderr) = run_binary(&url, &[("CONTROL_STRATEGY", "bogus")]).await;
    assert!(!ok, "{stderr}");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr
            .contains("unknown control strategy \"bogus\": expected one of constant, reactive, scheduled, predictive"),
        "{stderr}"
    );
}
