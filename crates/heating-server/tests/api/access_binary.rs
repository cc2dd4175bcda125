//! The binary's side of access: it refuses to serve beyond loopback without authentication, and `token
//! create|list|revoke` work on the server's database, with the token never in a log, a list or the database.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::sqlite_url;

/// The binary in a fresh directory (no `.env`), with none of the settings of the environment it runs in.
pub(crate) fn binary(cwd: &std::path::Path, database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heating-server"));
    cmd.current_dir(cwd).env("DATABASE_URL", database_url).env("RUST_LOG", "debug");
    for var in ["AUTH", "INSECURE_NO_AUTH", "ANONYMOUS_READS", "DEVICE_NETWORKS", "BIND", "WEATHERAPI_KEY"] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    cmd
}

pub(crate) async fn output(mut cmd: Command) -> (bool, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("exits by itself").unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_binary_refuses_to_serve_beyond_loopback_without_auth() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("heating.db"));
    let mut cmd = binary(dir.path(), &url);
    cmd.args(["--bind", "0.0.0.0:0"]).env("RUST_LOG", "off");
    let (ok, _, stderr) = output(cmd).await;
    assert!(!ok, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("refusing to serve on 0.0.0.0:0 without authentication"), "{stderr}");
    assert!(stderr.contains("--auth") && stderr.contains("--insecure-no-auth"), "{stderr}");
    assert!(!dir.path().join("heating.db").exists(), "refused before anything else");

    let mut cmd = binary(dir.path(), &url);
    cmd.args(["demo", "--base-port", "0"]).env("BIND", "0.0.0.0:0").env("RUST_LOG", "off");
    let (ok, _, stderr) = output(cmd).await;
    assert!(!ok && stderr.contains("refusing to serve"), "the demo too: {stderr}");
}

#[tokio::test]
async fn tokens_from_the_command_line_never_appear_in_logs_lists_or_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("heating.db");
    let url = sqlite_url(&db);
    let mut create = binary(dir.path(), &url);
    create.args(["token", "create", "--name", "ops", "--role", "admin", "--expires-days", "30"]);
    let (ok, stdout, create_log) = output(create).await;
    assert!(ok, "{create_log}");
    let token = stdout.trim().to_string();
    assert_eq!(stdout, format!("{token}\n"), "the token alone on stdout");
    assert!(token.starts_with("hst_") && token.len() == 47, "{token}");
    assert!(create_log.contains("shown only this once"), "{create_log}");

    // The server, with authentication, on a port of its choosing; its log is collected.
    let mut server = binary(dir.path(), &url);
    server.args(["--auth", "--bind", "127.0.0.1:0"]);
    let mut child = server.spawn().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = log.clone();
    let reader = tokio::spawn(async move {
        let mut tx = Some(tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find("listening on http://")
                && let Some(tx) = tx.take()
            {
                let addr = line[at + "listening on http://".len()..].split('/').next().unwrap().to_string();
                let _ = tx.send(addr);
            }
            collected.lock().unwrap().push_str(&line);
            collected.lock().unwrap().push('\n');
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(60), rx).await.expect("the server starts").unwrap();
    let client = reqwest::Client::new();
    let url_of = |p: &str| format!("http://{addr}{p}");

    let me = client.get(url_of("/auth/whoami")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.json::<serde_json::Value>().await.unwrap(), json!({"name": "ops", "role": "admin", "auth": true}));
    let created =
        client.post(url_of("/zones")).bearer_auth(&token).json(&json!({"name": "Hall"})).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let almost = format!("{token}x");
    let refused = client.get(url_of("/zones")).bearer_auth(&almost).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(!refused.text().await.unwrap().contains(&token));
    let none = client.get(url_of("/zones")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);

    let mut list = binary(dir.path(), &url);
    list.args(["token", "list"]);
    let (ok, listed, list_log) = output(list).await;
    assert!(ok && listed.contains("ops") && listed.contains("admin") && listed.contains(&token[..8]), "{listed}");
    let mut revoke = binary(dir.path(), &url);
    revoke.args(["token", "revoke", "ops"]);
    let (ok, _, revoke_log) = output(revoke).await;
    assert!(ok && revoke_log.contains("revoked"), "{revoke_log}");
    let after = client.get(url_of("/zones")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "revoked from the next request on");

    child.start_kill().unwrap();
    let _ = child.wait().await;
    reader.await.unwrap();
    let log = log.lock().unwrap().clone();
    assert!(log.contains("failed sign-in") && log.contains(&token[..8]), "failures logged with a prefix: {log}");
    for (what, text) in [
        ("server log", &log),
        ("create log", &create_log),
        ("list", &listed),
        ("list log", &list_log),
        ("revoke log", &revoke_log),
    ] {
        assert!(!text.contains(&token), "the token is in the {what}: {text}");
        assert!(!text.contains(&token[..12]), "more than the prefix is in the {what}: {text}");
    }
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(!String::from_utf8_lossy(&bytes).contains(&token), "the token is stored in clear in {path}");
        }
    }
}
