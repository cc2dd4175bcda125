//! Devices that vanish, come back, or never answer: the others keep being polled on time.

use std::time::Duration;

use heating_server::jobs::poll_once;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{LogCapture, Options, start};

#[tokio::test]
async fn a_stopped_zone_goes_offline_and_comes_back_without_a_restart() {
    let (logs, _guard) = LogCapture::start();
    let opts = Options::live();
    let interval = Duration::from_secs_f64(opts.poll_interval_secs);
    let backoff_cap = Duration::from_secs_f64(opts.backoff_max_secs);
    let env = start(opts).await;
    for i in 0..5 {
        env.wait_for(i, Duration::from_secs(5), |z| z["health"]["state"] == "online").await;
    }
    env.sim.stop_zone(4);
    // Two failed polls: at most two intervals, plus a request deadline each and the check's own granularity.
    let took = env.wait_for(4, interval * 2 + Duration::from_millis(900), |z| z["health"]["state"] == "offline").await;
    eprintln!("offline after {took:?}");
    let before = env.state.reports.poll().unwrap();
    // The others keep being polled, on time, while zone 4 is away.
    for i in 0..4 {
        let seen = env.zone_status(i).await["health"]["last_seen"].as_str().unwrap().to_string();
        env.wait_for(i, interval * 3, |z| z["health"]["last_seen"].as_str() != Some(&seen)).await;
        assert_eq!(env.zone_status(i).await["health"]["state"], "online");
    }
    let after = env.state.reports.poll().unwrap();
    assert!(after.started_at > before.started_at);
    assert_eq!(after.ok, 4, "{after:?}");
    assert!(after.duration_ms < 250.0, "a refused zone does not slow the cycle: {after:?}");

    env.sim.restart_zone(4).await.unwrap();
    let took = env
        .wait_for(4, backoff_cap + interval * 2 + Duration::from_millis(500), |z| z["health"]["state"] == "online")
        .await;
    eprintln!("online again after {took:?}");
    // A few more cycles online: nothing more is logged.
    let seen = env.zone_status(4).await["health"]["last_seen"].as_str().unwrap().to_string();
    env.wait_for(4, interval * 4, |z| z["health"]["last_seen"].as_str() != Some(&seen)).await;
    let id = env.zone_ids[4];
    let zone_name = env.sim.zones()[4].name.clone();
    env.shutdown().await;

    // The outage lasted many cycles, yet it is one WARN (with the zone and the error) and one INFO.
    let lines = logs.lines();
    let about = |needle: &str| -> Vec<&String> { lines.iter().filter(|l| l.contains(needle)).collect() };
    let offline = about("zone offline");
    assert_eq!(offline.len(), 1, "{lines:#?}");
    assert!(offline[0].contains(" WARN ") && offline[0].contains(&format!("zone_id={id}")), "{offline:?}");
    assert!(offline[0].contains(&zone_name) && offline[0].contains("zone offline: "), "{offline:?}");
    let back = about("zone back online");
    assert_eq!(back.len(), 1, "{lines:#?}");
    assert!(back[0].contains(" INFO ") && back[0].contains(&format!("zone_id={id}")), "{back:?}");
    let warnings: Vec<_> = lines.iter().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 1, "no other warning: {warnings:#?}");
}

#[tokio::test]
async fn a_silent_device_delays_nobody_beyond_the_request_timeout() {
    let opts = Options { jobs: false, ..Options::live() };
    let timeout = Duration::from_millis(opts.timeout_ms);
    let env = start(opts).await;
    // Accepts connections, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let (s, _) = env.post("/zones", &json!({"name": "Silent", "modbus_host": "127.0.0.1", "modbus_port": port})).await;
    assert_eq!(s, StatusCode::CREATED);

    let report = poll_once(&env.state).await;
    assert_eq!((report.zones, report.ok, report.failed), (6, 5, 1), "{report:?}");
    assert_eq!(report.stored, 5, "healthy zones' readings are stored");
    let cycle = Duration::from_secs_f64(report.duration_ms / 1000.0);
    assert!(cycle >= timeout && cycle < timeout + Duration::from_millis(200), "cycle took {cycle:?}");
    // While it is in backoff it costs nothing at all.
    let report = poll_once(&env.state).await;
    assert_eq!((report.ok, report.skipped), (5, 1), "{report:?}");
    assert!(report.duration_ms < 100.0, "{report:?}");
    let (_, status) = env.get("/status").await;
    let silent_zone = status["zones"].as_array().unwrap().iter().find(|z| z["name"] == "Silent").unwrap().clone();
    assert_eq!(silent_zone["health"]["state"], "degraded");
    assert!(silent_zone["health"]["last_error"].as_str().unwrap().contains("no answer"), "{silent_zone}");
    holder.abort();
}

#[tokio::test]
async fn zones_added_changed_and_deleted_are_picked_up_without_restart() {
    let opts = Options { jobs: false, ..Options::live() };
    let env = start(opts).await;
    assert_eq!(poll_once(&env.state).await.zones, 5);
    let (s, _) = env.delete(&format!("/zones/{}?cascade=true", env.zone_ids[0])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(poll_once(&env.state).await.zones, 4);
    // Point zone 1 at zone 2's device: the next cycle reads through a new link.
    let port = env.sim.addrs()[2].port();
    let r = env
        .client
        .put(env.url(&format!("/zones/{}", env.zone_ids[1])))
        .json(&json!({"modbus_port": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report = poll_once(&env.state).await;
    assert_eq!((report.ok, report.failed), (3, 1), "port 9 answers nothing: {report:?}");
    let r = env
        .client
        .put(env.url(&format!("/zones/{}", env.zone_ids[1])))
        .json(&json!({"modbus_port": port, "modbus_unit_id": 1, "name": "Bedroom moved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "zone 2 already has that endpoint");
}
