//! The `model_fit` alert end to end, on the real simulator with a manual clock and the real learning job: the
//! Living Room (the only zone, the others deleted to keep the fits cheap) is polled every two simulated minutes,
//! controlled every quarter hour and learned every hour, as the server's loops would. Once its model fits well,
//! a window is held open for a few hours (the simulator's UA raised at run time): the next refit, over data from
//! two different rooms, is bad, and `model_fit` is raised at the next poll, reaches the webhook once and is
//! acknowledged. When the window's hours have left the fit's span, a refit is good again and the alert clears.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use heating_core::clock::ManualClock;
use heating_server::config::AlertSettings;
use heating_server::jobs::{control_once, learn_once, poll_once};
use heating_server::state::LearnReport;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::alerts::{Received, receiver};
use crate::helpers::{Env, Options, monday_3am, start};

/// Zone index 0: the Living Room.
const ROOM: usize = 0;
/// Simulated minutes between two polls.
const STEP: i64 = 2;

struct Run {
    env: Env,
    clock: Arc<ManualClock>,
    received: Received,
    /// Simulated minutes since the start.
    minute: i64,
    _receiver: tokio::task::JoinHandle<()>,
}

impl Run {
    async fn start() -> Self {
        let (url, received, task) = receiver().await;
        let clock = Arc::new(ManualClock::new(monday_3am()));
        let alerts = AlertSettings {
            alert_clear_minutes: 2.0,
            alert_webhook_url: Some(url),
            alert_webhook_backoff_ms: 20,
            ..AlertSettings::default()
        };
        let env = start(Options { alerts, ..Options::stepped(clock.clone()) }).await;
        for &id in &env.zone_ids[1..] {
            let (s, body) = env.delete(&format!("/zones/{id}?cascade=true")).await;
            assert!(s.is_success(), "{s}: {body}");
        }
        Self { env, clock, received, minute: 0, _receiver: task }
    }

    /// One poll step (the alert rules run after it); control every quarter hour and the learning job every hour,
    /// after the poll. The learning job's report, when it ran.
    async fn step(&mut self) -> Option<LearnReport> {
        self.clock.advance(Duration::minutes(STEP));
        self.minute += STEP;
        let report = poll_once(&self.env.state).await;
        assert_eq!((report.ok, report.failed), (1, 0), "minute {}: {report:?}", self.minute);
        if self.minute % 30 == 0 || self.minute % 30 == 16 {
            control_once(&self.env.state).await;
        }
        if self.minute % 60 == 0 {
            let report = learn_once(&self.env.state).await;
            assert_eq!(report.failed, 0, "{report:?}");
            return Some(report);
        }
        None
    }

    /// Steps until a learning run that fitted gives a fit that is (`good`) or is not good, within `hours`; the
    /// minute it ran.
    async fn until_fit(&mut self, good: bool, hours: i64) -> i64 {
        let until = self.minute + hours * 60;
        while self.minute < until {
            if let Some(r) = self.step().await
                && r.fitted == 1
                && (r.good == 1) == good
            {
                return self.minute;
            }
        }
        panic!("no {} fit within {hours} h (at minute {})", if good { "good" } else { "bad" }, self.minute);
    }

    async fn model_fit_alerts(&self) -> Vec<Value> {
        let (s, v) = self.env.get(&format!("/alerts?state=all&zone_id={}", self.env.zone_ids[ROOM])).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array().unwrap().iter().filter(|a| a["kind"] == "model_fit").cloned().collect()
    }
}

#[tokio::test]
async fn a_model_fit_turning_bad_after_the_room_changed_raises_model_fit_and_clears_when_good_again() {
    let started = Instant::now();
    let mut run = Run::start().await;
    let id = run.env.zone_ids[ROOM];

    // The first good fit: a day of data at least. The poor fits before it raise nothing (no good fit to lose).
    let first_good = run.until_fit(true, 36).await;
    assert!(first_good >= 24 * 60, "{first_good}");
    run.step().await;
    assert!(run.model_fit_alerts().await.is_empty());
    let (s, model) = run.env.get(&format!("/zones/{id}/model")).await;
    assert_eq!((s, model["good"].as_bool()), (StatusCode::OK, Some(true)), "{model}");

    // A window held open for three hours: three times the heat loss. No refit within 6 h of a good one.
    let ua = run.env.sim.zones()[ROOM].ua();
    run.env.sim.set_ua(ROOM, ua * 3.0).unwrap();
    let window_closes = run.minute + 3 * 60;
    while run.minute < window_closes {
        assert!(run.step().await.is_none_or(|r| r.fitted == 0), "refitted within 6 h of a good fit");
    }
    run.env.sim.set_ua(ROOM, ua).unwrap();

    // The next refit spans both rooms: bad. The alert is raised at the next poll (the rule has no delay).
    let bad_at = run.until_fit(false, 12).await;
    assert_eq!(bad_at, first_good + 6 * 60, "the refit 6 h after the good one");
    assert!(run.model_fit_alerts().await.is_empty(), "not before the alert job has seen the fit");
    run.step().await;
    let alerts = run.model_fit_alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!((alert["state"].as_str(), alert["zone_name"].as_str()), (Some("active"), Some("Living Room")));
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("turned bad") && message.contains("RMSE"), "{message}");
    let alert_id = alert["id"].as_i64().unwrap();
    let raised = run.received.wait(alert_id, "raised").await;
    assert_eq!(
        (raised["alert"]["kind"].as_str(), raised["alert"]["message"].as_str()),
        (Some("model_fit"), Some(message))
    );
    let (s, acked) = run.env.post(&format!("/alerts/{alert_id}/acknowledge"), &json!({"note": "window"})).await;
    assert_eq!(s, StatusCode::OK, "{acked}");
    assert_eq!((acked["state"].as_str(), acked["acknowledged_by"].as_str()), (Some("acknowledged"), Some("local")));
    // The model in use stays the good one meanwhile (a poor fit never replaces it).
    let status = run.env.zone_status(ROOM).await;
    assert_eq!(status["model_fitted_at"], model["fitted_at"], "{status}");

    // Refits stay bad while the window's hours are within the fit's three days: still the one alert. Once they
    // have left it, a refit is good and the alert clears after the clear delay (2 min: the next poll but one).
    let good_at = run.until_fit(true, 4 * 24).await;
    assert!(good_at >= window_closes + 3 * 24 * 60, "good again only without the window's hours: {good_at}");
    assert_eq!(run.model_fit_alerts().await[0]["state"], "acknowledged", "one alert through every bad refit");
    run.step().await;
    run.step().await;
    let alerts = run.model_fit_alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!((alerts[0]["state"].as_str(), alerts[0]["acknowledged_by"].as_str()), (Some("cleared"), Some("local")));
    let cleared_at: chrono::DateTime<chrono::Utc> = alerts[0]["cleared_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(cleared_at, monday_3am() + Duration::minutes(good_at + 2 * STEP), "{alerts:?}");
    for event in ["raised", "acknowledged", "cleared"] {
        run.received.wait(alert_id, event).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for event in ["raised", "acknowledged", "cleared"] {
        assert_eq!(run.received.events(alert_id, event).len(), 1, "{event} delivered once");
    }
    eprintln!(
        "model_fit: good fit at {} h, bad at {} h, good again at {} h (simulated); {:?} of wall time",
        first_good / 60,
        bad_at / 60,
        good_at / 60,
        started.elapsed()
    );
    run.env.shutdown().await;
}
