//! `heating-server demo`, the README's first command, from the binary: zones registered, a week of history logged,
//! readings flowing, every zone's model identified from that history and its plan made with it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_demo_registers_the_zones_and_readings_flow() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_heating-server"))
            .current_dir(dir.path())
            .args(["--bind", "127.0.0.1:0", "--poll-interval-secs", "0.3", "demo", "--base-port", "0"])
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .env_remove("WEATHERAPI_KEY")
            .env_remove("WEATHER_PROVIDER")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut base = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            base = Some(rest.split_whitespace().next().unwrap().trim_end_matches('/').to_string());
            break;
        }
    }
    let base = base.expect("the demo announces its address");
    let client = reqwest::Client::new();
    let zones: serde_json::Value = client.get(format!("{base}/zones")).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> = zones.as_array().unwrap().iter().map(|z| z["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Living Room", "Bedroom", "Kitchen", "Office", "Guest Room"]);
    assert!(dir.path().join("heating-demo.db").exists(), "a fresh SQLite file in the working directory");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status: serde_json::Value =
            client.get(format!("{base}/status")).send().await.unwrap().json().await.unwrap();
        let flowing = status["zones"].as_array().unwrap().iter().all(|z| z["health"]["state"] == "online");
        let readings: serde_json::Value =
            client.get(format!("{base}/sensordata?limit=1000")).send().await.unwrap().json().await.unwrap();
        if flowing && readings.as_array().unwrap().len() >= 10 {
            assert_eq!(status["clock_scale"], 60.0, "simulated clock");
            assert_eq!(status["weather"]["provider"], "simulated", "no key, no network: simulated weather");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no readings flowing: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The week before the start is history: one reading per zone and minute.
    let now = |status: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(status["now"].as_str().unwrap()).unwrap().to_utc()
    };
    let week_old: serde_json::Value = client
        .get(format!("{base}/sensordata/zone/1?skip={}&limit=1", 7 * 24 * 60 - 10))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status: serde_json::Value = client.get(format!("{base}/status")).send().await.unwrap().json().await.unwrap();
    let oldest = chrono::DateTime::parse_from_rfc3339(week_old[0]["timestamp"].as_str().unwrap()).unwrap().to_utc();
    let age = now(&status) - oldest;
    assert!(age > chrono::Duration::hours(6 * 24 + 20) && age <= chrono::Duration::days(7), "{age}: {week_old}");

    // The learning job fits every zone's model from it, and the predictive controller plans with it (the first
    // control run comes one control interval, 10 s, after the start).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let status: serde_json::Value =
            client.get(format!("{base}/status")).send().await.unwrap().json().await.unwrap();
        let zones = status["zones"].as_array().unwrap();
        let learned = zones.iter().all(|z| z["model"]["source"] == "identified" && z["strategy"] == "predictive");
        let plan: serde_json::Value =
            client.get(format!("{base}/zones/1/plan")).send().await.unwrap().json().await.unwrap();
        if learned && plan["plan"]["model_source"] == "identified" && status["learning"]["good"] == 5 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "models not identified or not planned with: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
