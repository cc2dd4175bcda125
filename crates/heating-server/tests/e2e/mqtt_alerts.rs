//! Alerts over MQTT against real Mosquitto brokers, on the real simulator with a manual clock: a zone taken off the
//! network raises `offline`; its retained topic `P/alerts/{zone}/offline` carries the webhook body of each state
//! (raised, acknowledged), a subscriber joining later gets it, and it is emptied (gone) when the alert clears; the
//! events topic gets raised, acknowledged and cleared exactly once each. A server restart empties a stale retained
//! alert topic; a broker restart without its retained messages gets the open alerts back.

use std::sync::Arc;
use std::time::Duration;

use heating_core::clock::ManualClock;
use heating_server::config::AlertSettings;
use heating_server::jobs::poll_once;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Env, Options, monday_3am, start};
use crate::mqtt::{PrivateBroker, Watcher, json as parse, settings, shared_broker, unique_prefix};

/// The Guest Room: the zone taken off the network.
const GUEST: usize = 4;
const WAIT: Duration = Duration::from_secs(5);
/// The fields of an alert as `GET /alerts` shows it, all in the MQTT body's `alert`.
const FIELDS: [&str; 10] = [
    "id",
    "zone_id",
    "zone_name",
    "kind",
    "state",
    "message",
    "raised_at",
    "acknowledged_at",
    "acknowledged_by",
    "cleared_at",
];

/// Offline after 3 min, cleared 2 min after the condition ends; the other rules at their (longer) defaults.
fn alert_settings() -> AlertSettings {
    AlertSettings { alert_offline_minutes: 3.0, alert_clear_minutes: 2.0, ..AlertSettings::default() }
}

async fn minute(env: &Env, clock: &ManualClock) {
    clock.advance(chrono::Duration::minutes(1));
    poll_once(&env.state).await;
}

/// The zone's `offline` alert, in any state.
async fn offline_alert(env: &Env) -> Option<Value> {
    let (s, v) = env.get(&format!("/alerts?state=all&zone_id={}", env.zone_ids[GUEST])).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().unwrap().iter().find(|a| a["kind"] == "offline").cloned()
}

/// Stops the Guest Room's device and steps minutes until its `offline` alert is raised.
async fn raise_offline(env: &Env, clock: &ManualClock) -> Value {
    assert_eq!(poll_once(&env.state).await.ok, 5);
    env.sim.stop_zone(GUEST);
    for _ in 0..6 {
        minute(env, clock).await;
        if let Some(a) = offline_alert(env).await {
            return a;
        }
    }
    panic!("no offline alert within 6 min");
}

async fn acknowledge(env: &Env, id: i64) -> Value {
    let (s, acked) = env.post(&format!("/alerts/{id}/acknowledge"), &json!({})).await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    acked
}

/// The MQTT body is the webhook's: the event, when, and the alert as the API shows it after the event.
fn assert_body(body: &Value, event: &str, at: &Value, alert: &Value) {
    assert_eq!((body["event"].as_str(), &body["at"]), (Some(event), at), "{body}");
    for f in FIELDS {
        assert_eq!(body["alert"][f], alert[f], "{f}: {body} against {alert}");
    }
}

#[tokio::test]
async fn an_open_alert_is_retained_per_zone_and_kind_and_its_events_are_published_once() {
    let url = shared_broker();
    let prefix = unique_prefix("alerts");
    let watcher = Watcher::start(&url, &prefix).await;
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let opts =
        Options { mqtt: settings(url.clone(), &prefix), alerts: alert_settings(), ..Options::stepped(clock.clone()) };
    let env = start(opts).await;
    watcher.wait(0, &format!("{prefix}/status"), WAIT * 2, |p| p == "online").await;
    let zone = env.zone_ids[GUEST];
    let topic = format!("{prefix}/alerts/{zone}/offline");
    let events_topic = format!("{prefix}/alerts/events");

    // Raised: the retained topic appears with the webhook's body.
    let alert = raise_offline(&env, &clock).await;
    let id = alert["id"].as_i64().unwrap();
    let raised = parse(&watcher.wait(0, &topic, WAIT, |p| !p.is_empty()).await);
    assert_body(&raised, "raised", &alert["raised_at"], &alert);
    assert_eq!(
        (raised["alert"]["zone_name"].as_str(), raised["alert"]["state"].as_str()),
        (Some("Guest Room"), Some("active"))
    );
    // A subscriber joining now gets it, retained.
    let late = Watcher::start_as(&url, &prefix, "late1").await;
    let kept = late.wait(0, &topic, WAIT, |p| !p.is_empty()).await;
    assert!(kept.retained, "{kept:?}");
    assert_eq!(parse(&kept), raised);
    late.stop();
    // More minutes offline: nothing new on the alert's topics.
    let from = watcher.count();
    for _ in 0..3 {
        minute(&env, &clock).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        watcher.since(from).iter().all(|r| r.topic != topic && r.topic != events_topic),
        "{:?}",
        watcher.since(from)
    );

    // Acknowledged through the API: republished with who and when.
    let acked = acknowledge(&env, id).await;
    let body = parse(&watcher.wait(0, &topic, WAIT, |p| p.contains("\"acknowledged\"")).await);
    assert_body(&body, "acknowledged", &acked["acknowledged_at"], &acked);
    assert_eq!(body["alert"]["acknowledged_by"], "local");

    // A server restart: the open alert stays (same payload); a stale retained alert topic (an alert that is not
    // open, left by an earlier run) is emptied.
    let stale = format!("{prefix}/alerts/{}/sensor_frozen", env.zone_ids[0]);
    watcher.publish_retained(&stale, r#"{"event":"raised"}"#).await;
    watcher.wait(0, &stale, WAIT, |p| !p.is_empty()).await;
    let from = watcher.count();
    let env = env.restart().await;
    watcher.wait(from, &stale, WAIT * 2, str::is_empty).await;
    let late = Watcher::start_as(&url, &prefix, "late2").await;
    assert_eq!(parse(&late.wait(0, &topic, WAIT, |p| !p.is_empty()).await), body, "still the acknowledged alert");
    late.stop();

    // The device is back: the alert clears and its topic is emptied.
    env.sim.restart_zone(GUEST).await.unwrap();
    // The link's reconnection backoff is real time (at most 1 s in these options).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut cleared = None;
    for _ in 0..8 {
        minute(&env, &clock).await;
        if let Some(a) = offline_alert(&env).await.filter(|a| a["state"] == "cleared") {
            cleared = Some(a);
            break;
        }
    }
    let cleared = cleared.expect("the offline alert cleared");
    watcher.wait(0, &topic, WAIT, str::is_empty).await;
    // A subscriber joining now: the bridge's status is there, the alert's topic is not.
    let late = Watcher::start_as(&url, &prefix, "late3").await;
    late.wait(0, &format!("{prefix}/status"), WAIT, |p| p == "online").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(late.since(0).iter().all(|r| r.topic != topic && r.topic != stale), "{:?}", late.since(0));
    late.stop();

    // The events topic: raised, acknowledged, cleared, once each, never retained.
    watcher.wait(0, &events_topic, WAIT, |p| p.contains("\"cleared\"")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let on_events: Vec<_> = watcher.since(0).into_iter().filter(|r| r.topic == events_topic).collect();
    assert!(on_events.iter().all(|r| !r.retained), "{on_events:?}");
    let events: Vec<Value> = on_events.iter().map(parse).filter(|v| v["alert"]["id"] == id).collect();
    let names: Vec<&str> = events.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["raised", "acknowledged", "cleared"], "{events:#?}");
    assert_eq!((&events[0], &events[1]), (&raised, &body));
    assert_body(&events[2], "cleared", &cleared["cleared_at"], &cleared);
    env.shutdown().await;
    watcher.clean_up().await;
}

#[tokio::test]
async fn open_alerts_are_published_again_after_a_broker_restart_that_lost_them() {
    let mut broker = PrivateBroker::start().await;
    let prefix = unique_prefix("alerts-restart");
    let watcher = Watcher::start(&broker.url(), &prefix).await;
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let opts =
        Options { mqtt: settings(broker.url(), &prefix), alerts: alert_settings(), ..Options::stepped(clock.clone()) };
    let env = start(opts).await;
    watcher.wait(0, &format!("{prefix}/status"), WAIT * 2, |p| p == "online").await;
    let topic = format!("{prefix}/alerts/{}/offline", env.zone_ids[GUEST]);
    let alert = raise_offline(&env, &clock).await;
    watcher.wait(0, &topic, WAIT, |p| !p.is_empty()).await;

    // The broker restarts without its retained messages; meanwhile the alert is acknowledged.
    broker.kill();
    let acked = acknowledge(&env, alert["id"].as_i64().unwrap()).await;
    broker.run().await;
    let late = Watcher::start_as(&broker.url(), &prefix, "late4").await;
    let kept = late.wait(0, &topic, WAIT * 3, |p| p.contains("\"acknowledged\"")).await;
    assert_body(&parse(&kept), "acknowledged", &acked["acknowledged_at"], &acked);
    // Retained at the broker: a subscriber joining after the bridge republished gets it.
    let later = Watcher::start_as(&broker.url(), &prefix, "later").await;
    let kept = later.wait(0, &topic, WAIT, |p| !p.is_empty()).await;
    assert!(kept.retained, "{kept:?}");
    assert_body(&parse(&kept), "acknowledged", &acked["acknowledged_at"], &acked);
    late.stop();
    later.stop();
    watcher.stop();
    env.shutdown().await;
}
