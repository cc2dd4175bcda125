//! Alerts end to end, on the real simulator with a manual clock (server and simulator share it): a zone taken off
//! the network, a window held open in an occupied room (the simulator's UA raised at run time), a heater that runs
//! but heats nothing (the simulator's heater fault). Each alert appears within its rule's delay (one poll step),
//! a local webhook receiver gets each event exactly once (its first attempt answered 503, so a retry is needed),
//! acknowledging records the actor, and the alert clears once its condition has ended for the clear delay. Also
//! the sensor and write rules: a room leaving a narrow physical range (a site setting), a frozen air sensor and
//! refused target writes (the simulator's sensor and write faults).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use heating_core::clock::ManualClock;
use heating_core::units::Setpoint;
use heating_server::config::AlertSettings;
use heating_server::jobs::poll_once;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Env, LogCapture, Options, monday_3am, start};

/// What the receiver was sent and answered 2xx to: (`X-Alert-Event-Id`, body).
#[derive(Clone, Default)]
pub(crate) struct Received(Arc<Mutex<Vec<(String, Value)>>>);

impl Received {
    pub fn events(&self, alert_id: i64, event: &str) -> Vec<Value> {
        let all = self.0.lock().unwrap();
        all.iter()
            .filter(|(_, b)| b["alert"]["id"] == alert_id && b["event"] == event)
            .map(|(id, b)| {
                assert_eq!(id, &format!("{alert_id}-{event}"), "the event id header");
                b.clone()
            })
            .collect()
    }

    /// Waits (real time) until the receiver holds `event` of the alert; returns its body.
    pub async fn wait(&self, alert_id: i64, event: &str) -> Value {
        let started = tokio::time::Instant::now();
        loop {
            if let Some(b) = self.events(alert_id, event).first() {
                return b.clone();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no {event} event for alert {alert_id}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A webhook receiver on port 0: the first request of each event id is answered 503, the next ones 200 and kept.
pub(crate) async fn receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
    let received = Received::default();
    let seen = Arc::new(Mutex::new(std::collections::HashSet::<String>::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hooks/secret-path",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
            let kept = kept.clone();
            let seen = seen.clone();
            async move {
                let id = headers.get("x-alert-event-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                if seen.lock().unwrap().insert(id.clone()) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                kept.0.lock().unwrap().push((id, body.0));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/secret-path?token=hush", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received, task)
}

/// Short delays: offline 3 min, cold 10 min, no rise 30 min, cleared after 2 min; a fast webhook retry.
fn settings(webhook: &str) -> AlertSettings {
    AlertSettings {
        alert_offline_minutes: 3.0,
        alert_cold_minutes: 10.0,
        alert_no_rise_minutes: 30.0,
        alert_clear_minutes: 2.0,
        alert_webhook_url: Some(webhook.to_string()),
        alert_webhook_backoff_ms: 20,
        ..AlertSettings::default()
    }
}

struct Setup {
    env: Env,
    clock: Arc<ManualClock>,
    received: Received,
    _receiver: tokio::task::JoinHandle<()>,
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// As [`setup`], with the alert settings changed by `change`.
async fn setup_with(change: impl FnOnce(&mut AlertSettings)) -> Setup {
    let (url, received, task) = receiver().await;
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let mut alerts = settings(&url);
    change(&mut alerts);
    let env = start(Options { alerts, ..Options::stepped(clock.clone()) }).await;
    let report = poll_once(&env.state).await;
    assert_eq!(report.ok, 5, "{report:?}");
    Setup { env, clock, received, _receiver: task }
}

impl Setup {
    /// One minute of server time, then a poll cycle (which runs the alert rules).
    async fn minute(&self) {
        self.clock.advance(chrono::Duration::minutes(1));
        poll_once(&self.env.state).await;
    }

    async fn alerts(&self, query: &str) -> Vec<Value> {
        let (s, v) = self.env.get(&format!("/alerts{query}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array().unwrap().clone()
    }

    /// The zone's alerts of `kind`, in any state.
    async fn of(&self, i: usize, kind: &str) -> Vec<Value> {
        let list = self.alerts(&format!("?state=all&zone_id={}", self.env.zone_ids[i])).await;
        list.into_iter().filter(|a| a["kind"] == kind).collect()
    }

    /// Steps minutes until zone `i` has a `kind` alert, at most `within` minutes; the alert and the minutes taken.
    async fn until_raised(&self, i: usize, kind: &str, within: i64) -> (Value, i64) {
        for m in 1..=within {
            self.minute().await;
            if let Some(a) = self.of(i, kind).await.first() {
                return (a.clone(), m);
            }
        }
        panic!("no {kind} alert for zone {i} within {within} min: {:?}", self.alerts("?state=all").await);
    }

    /// Steps minutes until the alert has cleared, at most `within`; the minutes taken.
    async fn until_cleared(&self, i: usize, kind: &str, within: i64) -> i64 {
        for m in 1..=within {
            self.minute().await;
            if self.of(i, kind).await.first().is_some_and(|a| a["state"] == "cleared") {
                return m;
            }
        }
        panic!("{kind} alert of zone {i} not cleared within {within} min: {:?}", self.of(i, kind).await);
    }

    /// Acknowledges through the API (local mode: the actor is `local`) and checks the record.
    async fn acknowledge(&self, alert: &Value) -> Value {
        let id = alert["id"].as_i64().unwrap();
        let (s, acked) = self.env.post(&format!("/alerts/{id}/acknowledge"), &json!({})).await;
        assert_eq!(s, StatusCode::OK, "{acked}");
        assert_eq!((acked["state"].as_str(), acked["acknowledged_by"].as_str()), (Some("acknowledged"), Some("local")));
        let now = self.clock.now_utc();
        assert_eq!(acked["acknowledged_at"].as_str().map(|t| t.parse::<chrono::DateTime<Utc>>().unwrap()), Some(now));
        let (s, audit) = self.env.get(&format!("/audit?zone_id={}", alert["zone_id"])).await;
        assert_eq!(s, StatusCode::OK);
        let entry = audit.as_array().unwrap().iter().find(|e| e["action"] == "alert.acknowledge").cloned();
        let entry = entry.expect("the acknowledgement is audited");
        assert_eq!((entry["actor"].as_str(), &entry["details"]["alert_id"]), (Some("local"), &json!(id)));
        acked
    }

    async fn summary(&self) -> Value {
        let (_, status) = self.env.get("/status").await;
        status["alerts"].clone()
    }

    /// Each event of the alert reached the receiver exactly once (after its first attempt's 503).
    async fn delivered_once(&self, alert_id: i64, events: &[&str]) {
        for e in events {
            self.received.wait(alert_id, e).await;
        }
        // Time for any duplicate to arrive.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for e in events {
            assert_eq!(self.received.events(alert_id, e).len(), 1, "{e} of alert {alert_id} delivered once");
        }
    }
}

trait NowUtc {
    fn now_utc(&self) -> chrono::DateTime<Utc>;
}

impl NowUtc for ManualClock {
    fn now_utc(&self) -> chrono::DateTime<Utc> {
        heating_core::clock::Clock::now(self)
    }
}

#[tokio::test]
async fn a_zone_off_the_network_raises_offline_once_and_clears_when_back() {
    let (logs, _guard) = LogCapture::start();
    let t = setup().await;
    t.env.sim.stop_zone(4);
    // The first failed poll is the first minute without a reading: raised when 3 min have passed since.
    let (alert, took) = t.until_raised(4, "offline", 6).await;
    assert_eq!(took, 4, "1 min to the first failed poll, then the 3-min delay");
    assert_eq!((alert["state"].as_str(), alert["zone_name"].as_str()), (Some("active"), Some("Guest Room")));
    let id = alert["id"].as_i64().unwrap();
    let raised = t.received.wait(id, "raised").await;
    assert_eq!(raised["alert"]["kind"], "offline");
    assert_eq!(raised["alert"]["zone_name"], "Guest Room");
    assert_eq!(raised["alert"]["state"], "active");
    assert!(raised["alert"]["message"].as_str().unwrap().contains("not answering"), "{raised}");
    let summary = t.summary().await;
    assert_eq!(summary["by_kind"]["offline"], json!(1), "{summary}");
    assert_eq!(summary["acknowledged"], json!(0), "{summary}");
    // More minutes offline: still one alert.
    for _ in 0..5 {
        t.minute().await;
    }
    assert_eq!(t.of(4, "offline").await.len(), 1);

    t.acknowledge(&alert).await;
    let summary = t.summary().await;
    assert_eq!(summary["acknowledged"], json!(1), "{summary}");

    t.env.sim.restart_zone(4).await.unwrap();
    // The link's reconnection backoff is real time (at most 1 s in these options).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let took = t.until_cleared(4, "offline", 6).await;
    assert_eq!(took, 3, "back at the first poll, then cleared after 2 min");
    let cleared = t.of(4, "offline").await.remove(0);
    assert_eq!(cleared["acknowledged_by"], "local", "the acknowledgement stays on record");
    t.delivered_once(id, &["raised", "acknowledged", "cleared"]).await;
    let body = t.received.events(id, "cleared").remove(0);
    assert_eq!(body["alert"]["state"], "cleared");
    assert_eq!(body["alert"]["acknowledged_by"], "local");
    // (The bedroom, occupied at 19.9 °C with a comfort bound of 20.5 °C and no control job running, has its own
    // below_comfort alert meanwhile: a true one.)
    let summary = t.summary().await;
    assert_eq!((summary["acknowledged"].as_u64(), summary["by_kind"].get("offline")), (Some(0), None), "{summary}");
    let offline: Vec<_> = t.alerts("?state=all").await.into_iter().filter(|a| a["kind"] == "offline").collect();
    assert_eq!(offline.len(), 1, "no other zone went offline: {offline:?}");
    t.env.shutdown().await;
    // Raised once at WARN, cleared once at INFO; the webhook's retries are logged without its path or query.
    let lines = logs.lines();
    let about = |needle: &str| lines.iter().filter(|l| l.contains(needle) && l.contains("kind=offline")).count();
    assert_eq!((about("alert raised"), about("alert cleared")), (1, 1), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("alert webhook failed, retrying")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("secret-path") || l.contains("hush")), "{lines:#?}");
}

#[tokio::test]
async fn a_window_held_open_in_an_occupied_room_raises_below_comfort_and_clears_when_warm_again() {
    let t = setup().await;
    // The bedroom (1) is occupied at 3 am. Its comfort bound: occupied_temp − 1 K; put it 0.5 K below the air now.
    let air = t.env.zone_status(1).await["reading"]["temperature"].as_f64().unwrap();
    let id = t.env.zone_ids[1];
    let r = t
        .env
        .client
        .put(t.env.url(&format!("/zones/{id}")))
        .json(&json!({"preferences": {"occupied_temp": air + 0.5}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..3 {
        t.minute().await;
    }
    assert!(t.of(1, "below_comfort").await.is_empty());

    // The window opens: ten times the heat loss.
    let ua = t.env.sim.zones()[1].ua();
    t.env.sim.set_ua(1, ua * 10.0).unwrap();
    let mut below_at = None;
    let mut raised = None;
    for m in 1..=40 {
        t.minute().await;
        let z = t.env.zone_status(1).await;
        let now_air = z["reading"]["temperature"].as_f64().unwrap();
        if below_at.is_none() && now_air < air - 0.5 {
            below_at = Some(m);
        }
        if let Some(a) = t.of(1, "below_comfort").await.first() {
            raised = Some((a.clone(), m));
            break;
        }
    }
    let (alert, m) = raised.expect("below_comfort raised");
    let below_at = below_at.expect("the room got cold");
    assert_eq!(m - below_at, 10, "raised 10 min after the first reading below the bound");
    assert!(alert["message"].as_str().unwrap().contains("below the comfort bound"), "{alert}");
    let alert_id = alert["id"].as_i64().unwrap();
    t.received.wait(alert_id, "raised").await;
    t.acknowledge(&alert).await;

    // Window closed and the heating turned up: warm again, cleared after the clear delay.
    t.env.sim.set_ua(1, ua).unwrap();
    t.env.sim.zones()[1].set_target(Setpoint::from_celsius(28.0).unwrap());
    let took = t.until_cleared(1, "below_comfort", 90).await;
    assert!(took > 2, "{took}");
    t.delivered_once(alert_id, &["raised", "acknowledged", "cleared"]).await;
    t.env.shutdown().await;
}

#[tokio::test]
async fn a_heater_that_heats_nothing_raises_no_heat_rise_and_clears_once_repaired() {
    let t = setup().await;
    // The office (3): heating hard to 28 °C, with the heater fault injected.
    t.env.sim.set_heater_fault(3, true);
    t.env.sim.zones()[3].set_target(Setpoint::from_celsius(28.0).unwrap());
    let (alert, took) = t.until_raised(3, "no_heat_rise", 40).await;
    // The heater is seen on at the first poll; the rule's delay is 30 min of it without a rise.
    assert_eq!(took, 31, "raised 30 min after the heater was first seen on");
    assert!(alert["message"].as_str().unwrap().contains("has not risen"), "{alert}");
    let status = t.env.zone_status(3).await;
    assert_eq!(status["reading"]["heater_on"], true, "the heater reports on: {status}");
    let alert_id = alert["id"].as_i64().unwrap();
    t.received.wait(alert_id, "raised").await;
    // Still faulty: no second alert.
    for _ in 0..10 {
        t.minute().await;
    }
    assert_eq!(t.of(3, "no_heat_rise").await.len(), 1);
    t.acknowledge(&alert).await;

    // Repaired: the air rises, the alert clears.
    t.env.sim.set_heater_fault(3, false);
    t.until_cleared(3, "no_heat_rise", 60).await;
    t.delivered_once(alert_id, &["raised", "acknowledged", "cleared"]).await;
    t.env.shutdown().await;
}

/// The office (3), vacant at 3 am: the room with no one to mind a test heating it hard.
const OFFICE: usize = 3;

fn air_of(status: &Value) -> f64 {
    status["reading"]["temperature"].as_f64().unwrap()
}

#[tokio::test]
async fn a_room_leaving_the_sites_sensor_range_raises_sensor_range_and_clears_when_back() {
    // The site's range: 0.5 K above the air now is out of range (as a sensor reading 60 °C would be elsewhere).
    let probe = setup().await;
    let air = air_of(&probe.env.zone_status(OFFICE).await);
    probe.env.shutdown().await;
    let (lo, hi) = (air - 5.0, air + 0.5);
    let t = setup_with(|a| {
        a.alert_sensor_min_c = lo;
        a.alert_sensor_max_c = hi;
    })
    .await;
    assert_eq!(air_of(&t.env.zone_status(OFFICE).await), air, "the same simulated start");
    t.env.sim.zones()[OFFICE].set_target(Setpoint::from_celsius(28.0).unwrap());
    let mut above_at = None;
    let mut raised = None;
    for m in 1..=60 {
        t.minute().await;
        let now_air = air_of(&t.env.zone_status(OFFICE).await);
        if above_at.is_none() && now_air > hi {
            above_at = Some(m);
        }
        if let Some(a) = t.of(OFFICE, "sensor_range").await.first() {
            raised = Some((a.clone(), m));
            break;
        }
        assert!(now_air <= hi, "above {hi} at minute {m} and not raised");
    }
    let (alert, m) = raised.expect("sensor_range raised");
    assert_eq!(Some(m), above_at, "raised at the first reading out of range (the rule has no delay)");
    assert!(alert["message"].as_str().unwrap().contains("outside the physical range"), "{alert}");
    let id = alert["id"].as_i64().unwrap();
    t.received.wait(id, "raised").await;
    for _ in 0..5 {
        t.minute().await;
    }
    assert_eq!(t.of(OFFICE, "sensor_range").await.len(), 1, "one alert while it stays out of range");
    t.acknowledge(&alert).await;

    // Heating off: the room cools back into the range (0.3 K inside its bound), then the clear delay.
    t.env.sim.zones()[OFFICE].set_target(Setpoint::from_celsius(5.0).unwrap());
    let took = t.until_cleared(OFFICE, "sensor_range", 240).await;
    assert!(air_of(&t.env.zone_status(OFFICE).await) <= hi - 0.3, "cleared inside the band");
    assert!(took > 2, "{took}");
    t.delivered_once(id, &["raised", "acknowledged", "cleared"]).await;
    t.env.shutdown().await;
}

#[tokio::test]
async fn a_frozen_air_sensor_raises_sensor_frozen_and_clears_when_it_reports_again() {
    let t = setup_with(|a| a.alert_frozen_minutes = 30.0).await;
    // The office heats hard, so its air changes every minute; then its sensor freezes.
    t.env.sim.zones()[OFFICE].set_target(Setpoint::from_celsius(28.0).unwrap());
    let mut airs = Vec::new();
    for _ in 0..5 {
        t.minute().await;
        airs.push(air_of(&t.env.zone_status(OFFICE).await));
    }
    t.env.sim.set_sensor_frozen(OFFICE, true);
    let frozen = t.env.sim.zones()[OFFICE].current().air_temperature;
    // The register's 0.1 K steps: the frozen value may have been read a minute or two before the freeze already.
    let last = airs[4];
    let seen_before = airs.iter().rev().take_while(|a| **a == last).count() as i64 - 1;
    assert!(seen_before < 4, "the room was warming: {airs:?}");
    let (alert, took) = t.until_raised(OFFICE, "sensor_frozen", 40).await;
    assert_eq!(took, 30 - seen_before, "30 min after the value was first read ({seen_before} min before the freeze)");
    let status = t.env.zone_status(OFFICE).await;
    let real = t.env.sim.zones()[OFFICE].current().air_temperature;
    assert!(real > frozen + 0.3, "the room kept warming: {frozen} → {real}");
    assert!((air_of(&status) - frozen).abs() < 0.1, "while the sensor reports {}: {status}", air_of(&status));
    assert!(alert["message"].as_str().unwrap().contains("unchanged"), "{alert}");
    let id = alert["id"].as_i64().unwrap();
    t.received.wait(id, "raised").await;
    for _ in 0..5 {
        t.minute().await;
    }
    assert_eq!(t.of(OFFICE, "sensor_frozen").await.len(), 1);
    t.acknowledge(&alert).await;

    t.env.sim.set_sensor_frozen(OFFICE, false);
    let took = t.until_cleared(OFFICE, "sensor_frozen", 10).await;
    assert_eq!(took, 3, "a changed value at the first poll, then the 2-min clear delay");
    t.delivered_once(id, &["raised", "acknowledged", "cleared"]).await;
    t.env.shutdown().await;
}

#[tokio::test]
async fn refused_control_writes_raise_write_failures_and_clear_once_a_write_succeeds() {
    let t = setup().await;
    // The office is vacant: the control job wants 18 °C where the device holds 20 °C, and the device refuses.
    t.env.sim.set_writes_refused(OFFICE, true);
    let mut raised = None;
    for m in 1..=6 {
        let report = heating_server::jobs::control_once(&t.env.state).await;
        assert!(report.failed >= 1, "{report:?}");
        t.minute().await;
        if let Some(a) = t.of(OFFICE, "write_failures").await.first() {
            raised = Some((a.clone(), m));
            break;
        }
    }
    let (alert, m) = raised.expect("write_failures raised");
    assert_eq!(m, 3, "raised at the poll after the third refused write (the setting's default 3)");
    assert!(alert["message"].as_str().unwrap().contains("3 control writes failed in a row"), "{alert}");
    let commands = t.env.commands(OFFICE).await;
    assert_eq!(commands.len(), 3, "{commands:?}");
    assert!(commands.iter().all(|c| c["status"] == "failed" && c["target_temp"] == 18.0), "{commands:?}");
    assert_eq!(t.env.device_target(OFFICE), 20.0, "the device kept its target");
    assert!(t.of(OFFICE, "offline").await.is_empty(), "the zone still answers reads: not offline");
    let id = alert["id"].as_i64().unwrap();
    t.received.wait(id, "raised").await;
    // Still refused: the same alert.
    for _ in 0..3 {
        heating_server::jobs::control_once(&t.env.state).await;
        t.minute().await;
    }
    assert_eq!(t.of(OFFICE, "write_failures").await.len(), 1);
    t.acknowledge(&alert).await;

    t.env.sim.set_writes_refused(OFFICE, false);
    let report = heating_server::jobs::control_once(&t.env.state).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(t.env.device_target(OFFICE), 18.0, "written at last");
    let took = t.until_cleared(OFFICE, "write_failures", 10).await;
    assert_eq!(took, 3, "good from the first poll, then the 2-min clear delay");
    t.delivered_once(id, &["raised", "acknowledged", "cleared"]).await;
    t.env.shutdown().await;
}
