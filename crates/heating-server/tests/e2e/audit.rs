//! Who did it, through the real stack: holds set and cancelled are in the audit log, and every command names its
//! actor (`local` in local mode, `control` for the control job).

use std::sync::Arc;

use chrono::Duration;
use heating_core::clock::ManualClock;
use heating_server::jobs::{control_once, poll_once};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, monday_3am, start};

const OFFICE: usize = 3;

#[tokio::test]
async fn holds_and_commands_name_who_made_them() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    poll_once(&env.state).await;
    let id = env.zone_ids[OFFICE];
    let (s, set) = env.post(&format!("/zones/{id}/target"), &json!({"target_temp": 23.0, "hold_minutes": 30})).await;
    assert_eq!(s, StatusCode::OK, "{set}");
    assert_eq!(set["command"]["actor"], json!("local"));
    let (s, _) = env.delete(&format!("/zones/{id}/hold")).await;
    assert_eq!(s, StatusCode::OK);
    clock.advance(Duration::seconds(5));
    poll_once(&env.state).await;
    control_once(&env.state).await;

    let actors: Vec<(String, String)> = env
        .commands(OFFICE)
        .await
        .iter()
        .map(|c| (c["source"].as_str().unwrap().to_string(), c["actor"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(actors[0], ("control".to_string(), "control".to_string()), "{actors:?}");
    assert!(actors.contains(&("manual".to_string(), "local".to_string())), "{actors:?}");

    let (s, log) = env.get(&format!("/audit?zone_id={id}")).await;
    assert_eq!(s, StatusCode::OK);
    let entries: Vec<(&str, &str)> =
        log.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert_eq!(&entries[..2], [("hold.cancel", "local"), ("hold.set", "local")], "{log}");
    assert_eq!(log[1]["details"]["target_temp"], json!(23.0));
    assert!(log[1]["details"]["until"].is_string() && log[1]["details"]["command_id"].is_i64(), "{log}");
}
