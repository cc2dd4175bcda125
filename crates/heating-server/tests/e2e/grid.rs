//! Prices from a feed and the building demand cap, end to end with the real simulator on a manual clock.
//!
//! (a) A local fake price feed (port 0, counting its requests) is read at the first control run, not again within
//! `PRICE_REFRESH_MINUTES`, its prices are the plan's, and when it goes down the cached series stays in use (stale)
//! with the error on `/status`.
//! (b) A 3 kW cap (2.5 kW from 17:00 to 21:00) over a simulated day on five zones with 7.2 kW of heaters: every
//! aligned 15-minute mean computed from the stored readings' energy counters stays within the cap, plus the slack
//! of one poll interval at most (a heater's own thermostat may switch it on between two readings; the guard sees
//! it at the next one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use heating_core::clock::{Clock, ManualClock};
use heating_server::config::{DemandSettings, PriceSettings, PriceSource};
use heating_server::jobs::{control_once, poll_once};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Env, Options, monday_3am, start};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// The fake feed's price for the quarter hour starting at `t`: distinct from the time-of-use table's.
fn feed_price(t: DateTime<Utc>) -> f64 {
    let q = (t - at("2026-01-05T00:00:00Z")).num_minutes() / 15;
    0.05 + 0.001 * q as f64
}

/// Serves `/prices` (2026-01-05 00:00 to 2026-01-06 12:00 UTC in quarter hours) until dropped; counts requests
/// and answers 503 while `down` is set.
struct FakeFeed {
    url: String,
    requests: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    _task: tokio::task::JoinHandle<()>,
}

async fn fake_feed() -> FakeFeed {
    let requests = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let (r, d) = (requests.clone(), down.clone());
    let app = axum::Router::new().route(
        "/prices",
        axum::routing::get(move || {
            let (r, d) = (r.clone(), d.clone());
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                if d.load(Ordering::SeqCst) {
                    return Err(axum::http::StatusCode::SERVICE_UNAVAILABLE);
                }
                let start = at("2026-01-05T00:00:00Z");
                let prices: Vec<Value> = (0..36 * 4)
                    .map(|q| {
                        let s = start + Duration::minutes(15 * q);
                        json!({"start": s.to_rfc3339(), "end": (s + Duration::minutes(15)).to_rfc3339(),
                               "price": feed_price(s)})
                    })
                    .collect();
                Ok(axum::Json(json!({"currency": "EUR", "unit": "kWh", "prices": prices})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/prices", listener.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FakeFeed { url, requests, down, _task: task }
}

async fn status(env: &Env) -> Value {
    let (s, body) = env.get("/status").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

async fn set_predictive(env: &Env, i: usize) {
    let id = env.zone_ids[i];
    let body = json!({"preferences": {"control_strategy": "predictive"}});
    let r = env.client.put(env.url(&format!("/zones/{id}"))).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_price_feed_is_cached_planned_with_and_kept_when_it_goes_down() {
    let feed = fake_feed().await;
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let prices = PriceSettings {
        price_source: PriceSource::Http(feed.url.parse().unwrap()),
        price_refresh_minutes: 60.0,
        price_timeout_ms: 2000,
    };
    let env = start(Options { prices, ..Options::stepped(clock.clone()) }).await;
    const OFFICE: usize = 3;
    set_predictive(&env, OFFICE).await;
    let before = status(&env).await;
    assert_eq!(before["prices"]["source"], format!("http:{}", feed.url), "{before}");
    assert_eq!(before["prices"]["current_from"], "tou", "nothing read yet: {before}");

    // The first control run reads the feed; the next one, within the refresh interval, does not.
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert_eq!(feed.requests.load(Ordering::SeqCst), 1);
    clock.advance(Duration::minutes(15));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    assert_eq!(feed.requests.load(Ordering::SeqCst), 1, "cached within PRICE_REFRESH_MINUTES");

    // The plan is priced with the feed's prices up to its end, the time-of-use table after.
    let check_plan = |plan: &Value| {
        let points = plan["plan"]["points"].as_array().unwrap_or_else(|| panic!("{plan}"));
        let mut from_feed = 0;
        for p in points {
            let (Some(price), t) = (p["price_eur_kwh"].as_f64(), at(p["at"].as_str().unwrap())) else { continue };
            assert!(p["upper_c"].is_number() || p["lower_c"].is_null(), "{p}");
            if t < at("2026-01-06T12:00:00Z") {
                assert!((price - feed_price(t)).abs() < 1e-9, "{t}: {price} vs the feed's {}", feed_price(t));
                from_feed += 1;
            }
        }
        assert_eq!(from_feed, 96, "the whole 24-hour horizon lies within the feed");
    };
    let (s, plan) = env.get(&format!("/zones/{}/plan", env.zone_ids[OFFICE])).await;
    assert_eq!(s, StatusCode::OK, "{plan}");
    check_plan(&plan);
    assert!(
        plan["plan"]["points"][1]["upper_c"].as_f64().unwrap()
            >= plan["plan"]["points"][1]["lower_c"].as_f64().unwrap()
    );
    let now = status(&env).await;
    let p = &now["prices"];
    assert_eq!(p["current_from"], "series", "{p}");
    assert!((p["eur_kwh"].as_f64().unwrap() - feed_price(at("2026-01-05T03:15:00Z"))).abs() < 1e-9, "{p}");
    assert_eq!(p["series_end"], "2026-01-06T12:00:00.000Z", "{p}");
    assert_eq!((p["stale"].as_bool(), p["last_error"].is_null()), (Some(false), true), "{p}");

    // The feed goes down: past the refresh interval a control run starts a refresh in the background and plans
    // with the cached series; the failure shows on /status, the series stays in use, marked stale.
    feed.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::minutes(61));
    poll_once(&env.state).await;
    control_once(&env.state).await;
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    let failed = loop {
        let s = status(&env).await;
        if !s["prices"]["last_error"].is_null() {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "no error shown: {s}");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    };
    let p = &failed["prices"];
    assert_eq!(p["last_error"], "feed answered HTTP 503", "{p}");
    assert_eq!((p["stale"].as_bool(), p["current_from"].as_str()), (Some(true), Some("series")), "{p}");
    assert_eq!(feed.requests.load(Ordering::SeqCst), 2);
    control_once(&env.state).await;
    assert_eq!(feed.requests.load(Ordering::SeqCst), 2, "a failure is retried after the refresh interval too");
    let (_, plan) = env.get(&format!("/zones/{}/plan", env.zone_ids[OFFICE])).await;
    assert_eq!(plan["plan"]["made_at"], "2026-01-05T04:16:00.000Z", "{plan}");
    let points = plan["plan"]["points"].as_array().unwrap();
    // Off the quarter-hour grid now: the step's price is the mean over the two quarter hours it spans.
    let expected = (feed_price(at("2026-01-05T04:15:00Z")) * 14.0 + feed_price(at("2026-01-05T04:30:00Z"))) / 15.0;
    assert!((points[0]["price_eur_kwh"].as_f64().unwrap() - expected).abs() < 1e-9, "{plan}");
    env.shutdown().await;
}

/// Mean building power over each aligned 15-minute window in `[from, to)`, kW, from the stored readings' energy
/// counters (the readings at the windows' bounds).
async fn window_means(env: &Env, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, f64)> {
    let mut per_zone = Vec::new();
    for &id in &env.zone_ids {
        let rows = env.state.storage.readings_between(id, from, to + Duration::seconds(1), 100_000).await.unwrap();
        let by_ts: std::collections::HashMap<_, _> = rows.iter().map(|r| (r.ts, r.energy_wh.unwrap())).collect();
        per_zone.push(by_ts);
    }
    let mut out = Vec::new();
    let mut w = from;
    while w < to {
        let end = w + Duration::minutes(15);
        let wh: u32 = per_zone.iter().map(|z| z[&end] - z[&w]).sum();
        out.push((w, f64::from(wh) / 0.25 / 1000.0));
        w = end;
    }
    out
}

#[tokio::test]
async fn a_demand_cap_holds_over_a_simulated_day() {
    const POLL_S: i64 = 30;
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let demand = DemandSettings { demand_cap_kw: Some(3.0), demand_cap_windows: Some("17:00-21:00=2.5".into()) };
    let opts = Options { demand, poll_interval_secs: POLL_S as f64, ..Options::stepped(clock.clone()) };
    let env = start(opts).await;
    // Two planners (they plan jointly within the cap), three reactive zones (only the guard holds them).
    set_predictive(&env, 0).await;
    set_predictive(&env, 3).await;
    let from = monday_3am();
    let until = from + Duration::hours(24);
    poll_once(&env.state).await;
    control_once(&env.state).await;
    let mut limited = None;
    let mut most_shed = 0;
    while clock.now() < until {
        clock.advance(Duration::seconds(POLL_S));
        let report = poll_once(&env.state).await;
        assert_eq!(report.ok, 5, "{report:?}");
        if (clock.now() - from).num_minutes() % 15 == 0 && (clock.now() - from).num_seconds() % 60 == 0 {
            control_once(&env.state).await;
            let s = status(&env).await;
            let d = &s["demand"];
            assert!(d["cap_kw"].is_number() && d["window_mean_kw"].is_number(), "{d}");
            most_shed = most_shed.max(d["shed_zones"].as_array().unwrap().len());
            if let Some(m) = d["joint"]["comfort_limited"].as_str() {
                limited.get_or_insert(m.to_string());
            }
        }
    }
    let means = window_means(&env, from, until).await;
    assert_eq!(means.len(), 96);
    // One poll interval of the largest heater (2.5 kW), spread over the window, and the counters' 1 Wh steps.
    let slack_kw = 2.5 * POLL_S as f64 / 900.0 + 5.0 * 0.001 / 0.25;
    let mut worst = (from, f64::MIN);
    for &(w, kw) in &means {
        let hour = w.format("%H").to_string().parse::<u32>().unwrap();
        let cap = if (17..21).contains(&hour) { 2.5 } else { 3.0 };
        assert!(kw <= cap + slack_kw, "{w}: {kw:.3} kW over the {cap} kW cap (+{slack_kw:.3}): {means:?}");
        if kw - cap > worst.1 {
            worst = (w, kw - cap);
        }
    }
    let peak = means.iter().map(|m| m.1).fold(0.0, f64::max);
    eprintln!(
        "demand cap day: highest 15-min mean {peak:.3} kW; closest to the cap {:+.3} kW at {}; at most {most_shed} \
         zones held off at once; comfort_limited: {limited:?}",
        worst.1, worst.0
    );
    assert!(peak > 2.0, "the heaters did use the cap: {means:?}");
    // Every shed and release went through dispatch: a command row with the reason.
    let mut shed_writes = 0;
    for i in 0..5 {
        for c in env.commands(i).await {
            let reason = c["reason"].as_str().unwrap_or_default();
            if reason.starts_with("demand cap") {
                assert_eq!(c["source"], "control", "{c}");
                shed_writes += 1;
            }
        }
    }
    assert!(shed_writes > 0, "the guard wrote through dispatch");
    env.shutdown().await;
}
