//! Groups with real devices: the compact status and a group's summary say what the full status says, zone by zone
//! (heating, occupied, below comfort, on hold, health), and a group's energy is the sum of its zones'.

use std::sync::Arc;

use chrono::Duration;
use heating_core::clock::ManualClock;
use heating_server::jobs::{control_once, poll_once};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, monday_3am, start};

/// The compact flags of a zone of the full status, by the documented rules.
fn flags_of(z: &Value) -> i64 {
    let r = &z["reading"];
    let state = z["health"]["state"].as_str().unwrap();
    let target = z["active"]["target_temp"].as_f64().or(r["target_temp"].as_f64());
    let below = r["temperature"].as_f64().zip(target).is_some_and(|(t, target)| t < target - 0.5);
    i64::from(state == "offline")
        | i64::from(state == "degraded") << 1
        | i64::from(below) << 2
        | i64::from(r["heater_on"] == true) << 3
        | i64::from(r["occupancy"] == true) << 4
        | i64::from(z["hold"].is_object()) << 5
}

#[tokio::test]
async fn compact_status_and_summaries_agree_with_the_full_status() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let (s, floor) = env.post("/groups", &json!({"name": "Ground floor", "kind": "floor"})).await;
    assert_eq!(s, StatusCode::CREATED, "{floor}");
    let floor = floor["id"].as_i64().unwrap();
    for id in &env.zone_ids[..3] {
        let r =
            env.client.put(env.url(&format!("/zones/{id}"))).json(&json!({"group_id": floor})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let from = heating_server::time::rfc3339(monday_3am());
    // A few cycles, so that heaters run and energy counts; a hold on the first zone.
    for _ in 0..20 {
        clock.advance(Duration::seconds(60));
        let report = poll_once(&env.state).await;
        assert_eq!(report.ok, 5, "{report:?}");
        control_once(&env.state).await;
    }
    let (s, _) = env.post(&format!("/zones/{}/target", env.zone_ids[0]), &json!({"target_temp": 26.0})).await;
    assert_eq!(s, StatusCode::OK);
    clock.advance(Duration::seconds(60));
    poll_once(&env.state).await;
    control_once(&env.state).await;

    let (_, full) = env.get(&format!("/status?group={floor}")).await;
    let (_, compact) = env.get(&format!("/status?group={floor}&view=compact")).await;
    let zones = full["zones"].as_array().unwrap();
    let rows = compact["zone_rows"].as_array().unwrap();
    assert_eq!((zones.len(), rows.len()), (3, 3));
    for (z, row) in zones.iter().zip(rows) {
        let target = z["active"]["target_temp"].as_f64().or(z["reading"]["target_temp"].as_f64());
        let (_, open) = env.get(&format!("/alerts?zone_id={}", z["id"])).await;
        let open_alerts = open.as_array().expect("a list of alerts").len();
        let tenths = |v: Option<f64>| v.map(|v| (v * 10.0).round() / 10.0);
        let expected = json!([
            z["id"],
            z["name"],
            floor,
            z["health"]["state"],
            tenths(z["reading"]["temperature"].as_f64()),
            tenths(target),
            flags_of(z),
            open_alerts
        ]);
        assert_eq!(row, &expected, "compact row of {}", z["name"]);
    }
    assert!(rows[0][6].as_i64().unwrap() & 32 != 0, "the held zone is flagged: {}", rows[0]);
    let count = |bit: i64| rows.iter().filter(|r| r[6].as_i64().unwrap() & bit != 0).count();

    let (s, summary) = env.get(&format!("/groups/{floor}/summary?from={from}")).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["zones"], 3);
    assert_eq!(summary["online"], 3);
    assert_eq!(summary["offline"], 0);
    assert_eq!(summary["heating"], count(8));
    assert_eq!(summary["occupied"], count(16));
    assert_eq!(summary["below_comfort"], count(4));
    assert_eq!(summary["on_hold"], 1);
    for key in ["heating", "occupied", "below_comfort", "on_hold", "online"] {
        assert_eq!(compact["counts"][key], summary[key], "{key}");
    }
    // The group's energy: its zones' histories' sum.
    let mut sum = 0.0;
    for id in &env.zone_ids[..3] {
        let (_, h) = env.get(&format!("/zones/{id}/history?from={from}&points=1")).await;
        sum += h["energy_kwh"].as_f64().unwrap_or(0.0);
    }
    let energy = summary["energy_kwh"].as_f64().unwrap();
    assert!((energy - sum).abs() < 1e-9, "group {energy} kWh = zones {sum} kWh");
    assert!(energy > 0.0, "heaters ran: {summary}");
}
