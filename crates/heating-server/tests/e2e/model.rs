//! `GET /zones/{id}/model` on readings the real poller logged from the simulator: the identified UA and C of the
//! Living Room match the simulator's true values; the fit is cached for an hour; errors are 404, 409 and 422.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use heating_core::clock::ManualClock;
use heating_core::zone::default_profiles;
use heating_server::jobs::{control_once, poll_once};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Options, monday_3am, start};

/// Zone index 0 is the Living Room.
const LIVING_ROOM: usize = 0;
/// Simulated days of polling.
const DAYS: i64 = 3;

#[tokio::test]
async fn the_living_room_model_is_identified_from_polled_readings() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let started = Instant::now();
    for minute in 1..=DAYS * 24 * 60 {
        clock.advance(Duration::seconds(60));
        let report = poll_once(&env.state).await;
        assert_eq!(report.ok, 5, "minute {minute}: {report:?}");
        // The control job writes each zone's occupied or unoccupied temperature, so the heaters cycle.
        if minute % 15 == 1 {
            control_once(&env.state).await;
        }
    }
    let polled = started.elapsed();

    let id = env.zone_ids[LIVING_ROOM];
    let fit_started = Instant::now();
    let (s, fit) = env.get(&format!("/zones/{id}/model")).await;
    let fit_took = fit_started.elapsed();
    assert_eq!(s, StatusCode::OK, "{fit}");
    eprintln!("polled {DAYS} simulated days in {polled:?}, fitted in {fit_took:?}: {fit}");
    assert_eq!(fit["good"], true, "{fit}");
    assert!(fit["problem"].is_null(), "{fit}");
    assert_eq!((fit["zone_id"].as_i64(), fit["days"].as_i64()), (Some(id), Some(3)), "default days");
    assert_eq!(fit["model"]["source"], "identified");
    let truth = default_profiles()[LIVING_ROOM].params();
    let ua = fit["model"]["ua_w_per_k"].as_f64().unwrap();
    let c = fit["model"]["capacitance_j_per_k"].as_f64().unwrap();
    assert!((ua / truth.ua_w_per_k - 1.0).abs() < 0.10, "UA {ua} vs {}", truth.ua_w_per_k);
    assert!((c / truth.capacitance_j_per_k - 1.0).abs() < 0.10, "C {c} vs {}", truth.capacitance_j_per_k);
    assert_eq!(fit["model"]["heater_power_w"].as_f64(), Some(truth.heater_power_w), "rated power from the device");
    let quality = &fit["quality"];
    assert!(quality["rmse_k"].as_f64().unwrap() < 0.2, "{quality}");
    assert!(quality["span_h"].as_f64().unwrap() > 70.0, "{quality}");
    assert!(quality["samples"].as_u64().unwrap() >= 4000, "{quality}");

    // Cached: the same fit within the hour, a new one after it.
    clock.advance(Duration::minutes(59));
    let (_, again) = env.get(&format!("/zones/{id}/model")).await;
    assert_eq!(again["fitted_at"], fit["fitted_at"], "reused within the hour");
    clock.advance(Duration::minutes(2));
    let (s, refit) = env.get(&format!("/zones/{id}/model")).await;
    assert_eq!(s, StatusCode::OK, "{refit}");
    assert_ne!(refit["fitted_at"], fit["fitted_at"], "refitted after an hour");
    assert_eq!(refit["good"], true, "{refit}");
    let (s, two) = env.get(&format!("/zones/{id}/model?days=2")).await;
    assert_eq!(s, StatusCode::OK, "{two}");
    assert_eq!(two["days"], 2);
    assert_eq!(two["good"], true, "two days are enough: {two}");
    env.shutdown().await;
}

#[tokio::test]
async fn model_requests_without_data_or_with_bad_parameters_are_refused() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let id = env.zone_ids[LIVING_ROOM];

    // Not polled yet: the heater's rated power is unknown.
    let (s, err) = env.get(&format!("/zones/{id}/model")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{err}");
    assert!(err["detail"].as_str().unwrap().contains("rated power"), "{err}");

    // A zone without a device never has it.
    let (s, hand) = env.post("/zones", &json!({"name": "Hand-posted"})).await;
    assert_eq!(s, StatusCode::CREATED, "{hand}");
    let (s, err) = env.get(&format!("/zones/{}/model", hand["id"])).await;
    assert_eq!(s, StatusCode::CONFLICT, "{err}");

    // Polled a few times: a fit, but not a good one, so the conservative fallback is in use.
    for _ in 0..20 {
        clock.advance(Duration::seconds(60));
        poll_once(&env.state).await;
    }
    let (s, fit) = env.get(&format!("/zones/{id}/model?days=1")).await;
    assert_eq!(s, StatusCode::OK, "{fit}");
    assert_eq!(fit["good"], false, "{fit}");
    assert!(fit["problem"].as_str().is_some_and(|p| !p.is_empty()), "{fit}");
    assert_eq!(fit["model"]["source"], "fallback");
    assert_eq!(fit["model"]["heater_power_w"], 2500.0);

    let (s, err) = env.get("/zones/999999/model").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{err}");
    for days in ["0", "15", "-1", "abc", "1.5"] {
        let (s, err) = env.get(&format!("/zones/{id}/model?days={days}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "days={days}: {err}");
        assert!(err["detail"].as_str().unwrap().contains("days"), "days={days}: {err}");
    }
    env.shutdown().await;
}
