//! Control through the real stack: decisions written to the simulator, confirmed, not repeated; manual holds.

use std::sync::Arc;

use chrono::Duration;
use heating_core::clock::ManualClock;
use heating_server::jobs::{control_once, poll_once};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, monday_3am, start};

/// Zone index 3 is the Office (vacant at night; its unoccupied_temp is 15 + 3 = 18 °C in these tests).
const OFFICE: usize = 3;

#[tokio::test]
async fn every_zone_is_read_each_cycle_and_stored() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    for cycle in 1..=3 {
        clock.advance(Duration::seconds(5));
        let report = poll_once(&env.state).await;
        assert_eq!((report.zones, report.ok, report.failed, report.stored), (5, 5, 0, 5), "{report:?}");
        for id in &env.zone_ids {
            let (s, readings) = env.get(&format!("/sensordata/zone/{id}")).await;
            assert_eq!(s, StatusCode::OK);
            let readings = readings.as_array().unwrap();
            assert_eq!(readings.len(), cycle);
            assert!(readings[0]["heater_on"].is_boolean() && readings[0]["energy_wh"].is_number());
            assert_eq!(readings[0]["timestamp"], json!(heating_server::time::rfc3339(clock_now(&clock))));
        }
    }
}

fn clock_now(clock: &ManualClock) -> chrono::DateTime<chrono::Utc> {
    heating_core::clock::Clock::now(clock)
}

#[tokio::test]
async fn a_vacant_zone_gets_its_unoccupied_temp_once_and_confirmed() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    assert_eq!(env.device_target(OFFICE), 20.0, "the simulator starts at 20 °C");

    let report = control_once(&env.state).await;
    assert_eq!(report.writes, 5, "every zone's target differs from the initial 20 °C: {report:?}");
    assert_eq!(report.failed, 0);
    assert_eq!(env.device_target(OFFICE), 18.0, "written and held by the simulator");
    let commands = env.commands(OFFICE).await;
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["status"], "confirmed");
    assert_eq!(commands[0]["source"], "control");
    assert_eq!(commands[0]["target_temp"], 18.0);
    assert!(commands[0]["reason"].as_str().unwrap().starts_with("vacant: unoccupied_temp 18.0"), "{}", commands[0]);

    // The device already has it: the next runs write nothing.
    for _ in 0..3 {
        clock.advance(Duration::seconds(5));
        poll_once(&env.state).await;
        let again = control_once(&env.state).await;
        assert_eq!(again.writes, 0, "{again:?}");
    }
    assert_eq!(env.commands(OFFICE).await.len(), 1);
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["active"]["rule"], "unoccupied");
    assert_eq!(status["active"]["target_temp"], 18.0);
    assert_eq!(status["health"]["state"], "online");
}

#[tokio::test]
async fn stale_readings_are_not_acted_on() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    clock.advance(Duration::seconds(16)); // three 5 s poll intervals and a bit
    let report = control_once(&env.state).await;
    assert_eq!((report.skipped, report.writes), (5, 0));
    assert_eq!(env.device_target(OFFICE), 20.0);
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["active"]["rule"], "skipped");
    assert!(status["active"]["reason"].as_str().unwrap().contains("16 s old"), "{status}");
}

#[tokio::test]
async fn a_manual_hold_is_honoured_until_it_expires() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    let id = env.zone_ids[OFFICE];
    let (s, body) = env.post(&format!("/zones/{id}/target"), &json!({"target_temp": 22.5, "hold_minutes": 30})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["command"]["status"], "confirmed");
    assert_eq!(body["command"]["source"], "manual");
    assert_eq!(env.device_target(OFFICE), 22.5, "written at once");

    for minutes in [1, 10, 29] {
        clock.set(monday_3am() + Duration::minutes(minutes));
        poll_once(&env.state).await;
        control_once(&env.state).await;
        assert_eq!(env.device_target(OFFICE), 22.5, "hold in force at +{minutes} min");
        assert_eq!(env.zone_status(OFFICE).await["active"]["rule"], "manual_hold");
    }
    clock.set(monday_3am() + Duration::minutes(31));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert_eq!(env.device_target(OFFICE), 18.0, "back to automatic after the hold");
    let status = env.zone_status(OFFICE).await;
    assert!(status["hold"].is_null());
    assert_eq!(env.commands(OFFICE).await[0]["source"], "control");
}

#[tokio::test]
async fn holds_outlive_a_server_restart_until_they_expire_or_are_cancelled() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    let (office, kitchen) = (env.zone_ids[OFFICE], env.zone_ids[2]);
    let (s, body) =
        env.post(&format!("/zones/{office}/target"), &json!({"target_temp": 22.5, "hold_minutes": 60})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = env.post(&format!("/zones/{kitchen}/target"), &json!({"target_temp": 23.5})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let held = env.zone_status(OFFICE).await["hold"].clone();

    let env = env.restart().await;
    clock.advance(Duration::minutes(10));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert_eq!(env.zone_status(OFFICE).await["hold"], held, "the same hold, back from the database");
    assert_eq!(env.zone_status(OFFICE).await["active"]["rule"], "manual_hold");
    assert_eq!(env.device_target(OFFICE), 22.5, "not overridden after the restart");
    assert_eq!(env.device_target(2), 23.5);
    let (s, _) = env.delete(&format!("/zones/{kitchen}/hold")).await;
    assert_eq!(s, StatusCode::OK);

    // The Office's hold expires (and is removed); the cancelled Kitchen hold does not come back.
    clock.advance(Duration::minutes(51));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert!(env.zone_status(OFFICE).await["hold"].is_null());
    let env = env.restart().await;
    clock.advance(Duration::minutes(1));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    for i in [OFFICE, 2] {
        let status = env.zone_status(i).await;
        assert!(status["hold"].is_null(), "{status}");
        assert_ne!(status["active"]["rule"], "manual_hold", "{status}");
    }
    assert_eq!(env.device_target(OFFICE), 18.0);
    env.shutdown().await;
}

#[tokio::test]
async fn a_hold_can_be_cancelled() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    let id = env.zone_ids[OFFICE];
    let (s, _) = env.post(&format!("/zones/{id}/target"), &json!({"target_temp": 23.0})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(env.zone_status(OFFICE).await["hold"]["until"].is_null(), "open hold: until the occupancy changes");
    let (s, cancelled) = env.delete(&format!("/zones/{id}/hold")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cancelled["target_temp"], 23.0);
    let (s, _) = env.delete(&format!("/zones/{id}/hold")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    clock.advance(Duration::seconds(5));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert_eq!(env.device_target(OFFICE), 18.0);
}

#[tokio::test]
async fn manual_targets_are_validated_before_the_device_is_touched() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let id = env.zone_ids[OFFICE];
    for (body, needle) in [
        (json!({"target_temp": 40.0}), "5.0..=35.0"),
        (json!({"target_temp": 29.0}), "min_temp..max_temp"),
        (json!({"target_temp": 21.0, "hold_minutes": 0}), "hold_minutes"),
        (json!({"target_temp": "warm"}), "target_temp"),
    ] {
        let (s, err) = env.post(&format!("/zones/{id}/target"), &body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {err}");
        assert!(err["detail"].as_str().unwrap().contains(needle), "{body}: {err}");
    }
    let (s, _) = env.post("/zones/999/target", &json!({"target_temp": 21.0})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(env.device_target(OFFICE), 20.0, "nothing reached the device");
    assert!(env.commands(OFFICE).await.is_empty(), "and nothing was logged");
}

#[tokio::test]
async fn post_commands_changes_the_device_target() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    let (s, cmd) = env.post("/commands/", &json!({"zone_id": env.zone_ids[1], "target_temp": 19.5})).await;
    assert_eq!(s, StatusCode::CREATED, "{cmd}");
    assert_eq!((cmd["status"].as_str(), cmd["source"].as_str()), (Some("confirmed"), Some("api")));
    assert_eq!(env.device_target(1), 19.5);
    // Held against the control job, which would otherwise restore the bedroom's own preference at once.
    clock.advance(Duration::seconds(5));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert_eq!(env.device_target(1), 19.5);
}

#[tokio::test]
async fn an_unreachable_device_gets_503_and_a_failed_command() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    env.sim.stop_zone(OFFICE);
    let id = env.zone_ids[OFFICE];
    let (s, err) = env.post(&format!("/zones/{id}/target"), &json!({"target_temp": 21.0})).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{err}");
    assert!(err["detail"].as_str().unwrap().contains("did not take the target"), "{err}");
    let commands = env.commands(OFFICE).await;
    assert_eq!(commands[0]["status"], "failed");
    assert!(commands[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn a_predictive_zone_plans_its_preheat_and_writes_ahead_of_arrival() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let id = env.zone_ids[OFFICE];
    let prefs =
        json!({"preferences": {"control_strategy": "predictive", "occupancy_schedule": ["mon-fri 08:30-17:30"]}});
    let r = env.client.put(env.url(&format!("/zones/{id}"))).json(&prefs).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    poll_once(&env.state).await;
    control_once(&env.state).await;

    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["strategy"], "predictive", "{status}");
    assert_eq!(status["model"]["source"], "fallback", "{status}");
    assert!(status["model"]["ua_w_per_k"].as_f64().unwrap() > 0.0, "{status}");
    assert_eq!(env.zone_status(0).await["strategy"], "reactive", "the other zones keep the server's default");
    assert!(env.zone_status(0).await["planned_preheat_start"].is_null());
    let arrival = chrono::DateTime::parse_from_rfc3339("2026-01-05T08:30:00Z").unwrap().to_utc();
    let preheat = status["planned_preheat_start"].as_str().unwrap_or_else(|| panic!("no preheat planned: {status}"));
    let preheat = chrono::DateTime::parse_from_rfc3339(preheat).unwrap().to_utc();
    // With cheap night power (time-of-use prices) the plan may start heating right away; never after arrival.
    assert!(preheat >= clock_now(&clock) && preheat < arrival, "preheat {preheat} not between now and arrival");

    // Step the morning in 10-minute control intervals: a target above the night setback is written before 08:30.
    let mut raised_at = (env.device_target(OFFICE) > 18.0 + 0.05).then(|| clock_now(&clock));
    while clock_now(&clock) < arrival && raised_at.is_none() {
        clock.advance(Duration::minutes(10));
        poll_once(&env.state).await;
        control_once(&env.state).await;
        if env.device_target(OFFICE) > 18.0 + 0.05 {
            raised_at = Some(clock_now(&clock));
        }
    }
    let raised_at = raised_at.expect("a preheat target is written before arrival");
    assert!(raised_at < arrival, "{raised_at}");
    let commands = env.commands(OFFICE).await;
    let last = commands.iter().find(|c| c["target_temp"].as_f64().unwrap() > 18.05).unwrap();
    assert_eq!(last["source"], "control");
    assert_eq!(last["status"], "confirmed");
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["active"]["rule"], "predictive", "{status}");
    env.shutdown().await;
}
