//! The learning job on readings the real poller logged from the simulator, and the predictive controller using
//! what it learned: the Office runs `predictive` with no occupancy schedule configured, so it must learn its own
//! thermal model and when people come. After three simulated days it plans Thursday's warm-up with the identified
//! model and the learned occupancy, and people arrive to a warm room. After a server restart, model and occupancy
//! are back from the database at the first learning run.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use heating_core::clock::{Clock, ManualClock};
use heating_core::zone::default_profiles;
use heating_server::jobs::{control_once, learn_once, poll_once};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Env, Options, monday_3am, start};

/// Zone index 3 is the Office: `mon-fri 08:30-17:30`, ±20 min jitter.
const OFFICE: usize = 3;
/// The Office's preferences in this test: comfort bound 22.0 °C while occupied, 17.5 °C otherwise.
const OCCUPIED_C: f64 = 22.5;
const UNOCCUPIED_C: f64 = 18.0;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// What stepping the clock saw of the Office.
#[derive(Debug, Default)]
struct Seen {
    /// The first polled reading with people in, and the air temperature then.
    arrival: Option<(DateTime<Utc>, f64)>,
    /// Shortfall below the comfort bound while occupied, K·h (one-minute polls).
    discomfort_kh: f64,
    /// The Office's air temperature at each full hour.
    hourly: std::collections::BTreeMap<DateTime<Utc>, f64>,
    /// What the learning job's runs did, added up.
    fitted: usize,
    good: usize,
}

/// Steps the clock minute by minute until `until`: a poll every minute, control every 15 minutes, the learning job
/// every hour, as the server's loops would.
async fn run_until(env: &Env, clock: &ManualClock, until: DateTime<Utc>) -> Seen {
    let mut seen = Seen::default();
    while clock.now() < until {
        clock.advance(Duration::seconds(60));
        let now = clock.now();
        let report = poll_once(&env.state).await;
        assert_eq!(report.ok, 5, "{now}: {report:?}");
        let minute = (now - monday_3am()).num_minutes();
        if minute % 60 == 0 {
            let report = learn_once(&env.state).await;
            assert_eq!(report.failed, 0, "{report:?}");
            seen.fitted += report.fitted;
            seen.good += report.good;
        }
        if minute % 15 == 0 {
            control_once(&env.state).await;
        }
        let z = env.sim.zones()[OFFICE].current();
        if z.occupied {
            seen.arrival.get_or_insert((now, z.air_temperature));
            seen.discomfort_kh += (OCCUPIED_C - 0.5 - z.air_temperature).max(0.0) / 60.0;
        }
        if minute % 60 == 0 {
            seen.hourly.insert(now, z.air_temperature);
        }
    }
    seen
}

async fn plan(env: &Env) -> Value {
    let (s, plan) = env.get(&format!("/zones/{}/plan", env.zone_ids[OFFICE])).await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    plan
}

/// The plan's lower bound at `when` (the point at or just after it).
fn bound_at(plan: &Value, when: DateTime<Utc>) -> f64 {
    let points = plan["plan"]["points"].as_array().unwrap();
    let p = points.iter().find(|p| at(p["at"].as_str().unwrap()) >= when).unwrap_or_else(|| panic!("{when}: {plan}"));
    p["lower_c"].as_f64().unwrap()
}

#[tokio::test]
async fn predictive_control_learns_the_office_and_warms_it_before_people_arrive() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start(Options::stepped(clock.clone())).await;
    let id = env.zone_ids[OFFICE];
    let prefs = json!({"preferences": {"occupied_temp": OCCUPIED_C, "unoccupied_temp": UNOCCUPIED_C,
                                       "control_strategy": "predictive"}});
    let r = env.client.put(env.url(&format!("/zones/{id}"))).json(&prefs).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // Nothing learned yet: the fallback model, a plan that knows of no occupancy, the others not planning.
    poll_once(&env.state).await;
    learn_once(&env.state).await;
    control_once(&env.state).await;
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["model"]["source"], "fallback", "{status}");
    assert!(status["model_fitted_at"].is_null(), "{status}");
    let first = plan(&env).await;
    assert_eq!(first["strategy"], "predictive", "{first}");
    assert_eq!(first["plan"]["model_source"], "fallback", "{first}");
    assert_eq!(first["plan"]["points"].as_array().unwrap().len(), 97, "24 h in 15-min steps: {first}");
    assert!(first["plan"]["preheat_start"].is_null(), "no occupancy known, no warm-up: {first}");
    assert_eq!(bound_at(&first, at("2026-01-05T09:00:00Z")), UNOCCUPIED_C - 0.5, "{first}");
    let (s, other) = env.get(&format!("/zones/{}/plan", env.zone_ids[0])).await;
    assert_eq!(s, StatusCode::OK);
    assert!(other["plan"].is_null() && other["reason"].as_str().unwrap().contains("reactive"), "{other}");
    let (s, err) = env.get("/zones/999999/plan").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{err}");

    // Three days: the heaters cycle (the Office reacts to the people it sees), the job refits hourly.
    let seen = run_until(&env, &clock, at("2026-01-08T03:00:00Z")).await;
    // Set back once people have left on Wednesday evening (17:30 ± 20 min), not kept warm for nobody.
    let evening = seen.hourly[&at("2026-01-07T23:00:00Z")];
    assert!(evening < OCCUPIED_C - 2.5, "{evening} °C at 23:00");
    // Hourly until a zone's fit is good (it needs 24 h of data), then every 6 h: about 24 + 8 fits per zone.
    assert!((5 * 26..=5 * 36).contains(&seen.fitted), "{} fits", seen.fitted);
    assert!(seen.good >= 5 * 8, "{} good fits of {}", seen.good, seen.fitted);
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["model"]["source"], "identified", "{status}");
    assert!(status["model_fitted_at"].is_string(), "{status}");
    let truth = default_profiles()[OFFICE].params();
    let ua = status["model"]["ua_w_per_k"].as_f64().unwrap();
    let c = status["model"]["capacitance_j_per_k"].as_f64().unwrap();
    assert!((ua / truth.ua_w_per_k - 1.0).abs() < 0.10, "UA {ua} vs {}", truth.ua_w_per_k);
    assert!((c / truth.capacitance_j_per_k - 1.0).abs() < 0.10, "C {c} vs {}", truth.capacitance_j_per_k);
    // The hourly fit is the one `GET /zones/{id}/model` answers with.
    let (s, fit) = env.get(&format!("/zones/{id}/model")).await;
    assert_eq!(s, StatusCode::OK, "{fit}");
    assert_eq!(fit["fitted_at"], status["model_fitted_at"], "{fit}");

    // Thursday 03:00: the plan expects people from about 08:30 (learned) and warms up ahead of them.
    let thursday = plan(&env).await;
    assert_eq!(thursday["plan"]["model_source"], "identified", "{thursday}");
    assert_eq!(bound_at(&thursday, at("2026-01-08T04:00:00Z")), UNOCCUPIED_C - 0.5, "{thursday}");
    assert_eq!(bound_at(&thursday, at("2026-01-08T09:00:00Z")), OCCUPIED_C - 0.5, "{thursday}");
    assert_eq!(bound_at(&thursday, at("2026-01-08T20:00:00Z")), UNOCCUPIED_C - 0.5, "{thursday}");
    let preheat = at(thursday["plan"]["preheat_start"].as_str().unwrap_or_else(|| panic!("no warm-up: {thursday}")));
    assert!(preheat >= clock.now() && preheat < at("2026-01-08T08:10:00Z"), "warm-up from {preheat}");
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["planned_preheat_start"], thursday["plan"]["preheat_start"], "{status}");

    let seen = run_until(&env, &clock, at("2026-01-08T12:00:00Z")).await;
    let (arrived, t) = seen.arrival.expect("people came on Thursday morning");
    eprintln!(
        "Thursday: warm-up planned from {preheat}; hourly {:?}; people came at {arrived} to {t:.2} °C; \
         {:.3} K·h below the bound",
        seen.hourly.values().map(|t| format!("{t:.1}")).collect::<Vec<_>>(),
        seen.discomfort_kh
    );
    assert!(t >= OCCUPIED_C - 0.5 - 0.15, "people came at {arrived} to {t} °C");
    assert!(seen.discomfort_kh < 0.1, "{} K·h below the comfort bound", seen.discomfort_kh);

    // A restart forgets nothing that matters: the first learning run brings the model and occupancy back.
    let env = env.restart().await;
    poll_once(&env.state).await;
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["model"]["source"], "fallback", "nothing in memory yet: {status}");
    let report = learn_once(&env.state).await;
    assert_eq!((report.occupancy_rebuilt, report.failed), (5, 0), "{report:?}");
    assert!(report.good >= 1, "{report:?}");
    control_once(&env.state).await;
    let status = env.zone_status(OFFICE).await;
    assert_eq!(status["model"]["source"], "identified", "{status}");
    let friday = plan(&env).await;
    assert_eq!(bound_at(&friday, at("2026-01-09T09:00:00Z")), OCCUPIED_C - 0.5, "Friday expected: {friday}");
    assert_eq!(bound_at(&friday, at("2026-01-09T03:00:00Z")), UNOCCUPIED_C - 0.5, "{friday}");
    env.shutdown().await;
}
