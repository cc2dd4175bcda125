//! `GET /metrics` after real poll cycles: parsed with a Prometheus text-format parser, the zones' values match
//! `/status`, the names follow Prometheus' conventions, the counters and histograms count what happened, and a
//! deleted zone's series are gone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value as Prom};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Env, Options, start};

async fn scrape_text(env: &Env) -> String {
    let r = env.client.get(env.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    r.text().await.unwrap()
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

/// The value of the sample named `metric` whose labels include `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.samples.iter().find(|s| s.metric == metric && has(s, labels)).map(|s| match &s.value {
        Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v) => *v,
        other => panic!("{metric} is not a plain value: {other:?}"),
    })
}

fn has(sample: &Sample, labels: &[(&str, &str)]) -> bool {
    labels.iter().all(|(k, v)| sample.labels.get(k) == Some(*v))
}

/// The `_count` of a histogram's series.
fn count(text: &str, metric: &str, labels: &str) -> f64 {
    let prefix = format!("{metric}_count{{{labels}}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0.0, |v| v.parse().unwrap())
}

/// Every family's TYPE, from the `# TYPE` lines, checked against the naming conventions on the way.
fn check_conventions(text: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut wrong = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.trim().is_empty(), "{name} has an empty HELP");
            helped.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        }
    }
    for (name, kind) in &types {
        if !name.starts_with("heating_") || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            wrong.push(format!("{name}: not heating_ and snake case"));
        }
        if !helped.contains(name) {
            wrong.push(format!("{name}: no HELP"));
        }
        match kind.as_str() {
            "counter" if !name.ends_with("_total") => wrong.push(format!("{name}: a counter without _total")),
            "gauge" | "histogram" if name.ends_with("_total") => wrong.push(format!("{name}: _total on a {kind}")),
            "counter" | "gauge" | "histogram" => {}
            other => wrong.push(format!("{name}: type {other}")),
        }
        let base = name.trim_end_matches("_total");
        // The unit a quantity of this kind is measured in, in Prometheus' base units, as the name's suffix.
        for (word, unit) in [
            ("temperature", "_celsius"),
            ("duration", "_seconds"),
            ("timestamp", "_seconds"),
            ("energy", "_joules"),
            ("power", "_watts"),
            ("size", "_bytes"),
        ] {
            if base.contains(word) && !base.ends_with(unit) {
                wrong.push(format!("{name}: a {word} not in {unit}"));
            }
        }
        for not_base in ["_milliseconds", "_ms", "_watt_hours", "_wh", "_kilo", "_fahrenheit", "_percent"] {
            if base.contains(not_base) {
                wrong.push(format!("{name}: not in a base unit ({not_base})"));
            }
        }
    }
    // Every sample belongs to a typed family (a histogram's _bucket/_sum/_count to its family).
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name: String = line.chars().take_while(|c| *c != '{' && *c != ' ').collect();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.get(*f).is_some_and(|t| t == "histogram")))
            .unwrap_or(&name);
        if !types.contains_key(family) {
            wrong.push(format!("{name}: a sample without a TYPE"));
        }
    }
    assert!(wrong.is_empty(), "naming conventions:\n{}", wrong.join("\n"));
    types
}

fn flag(v: &Value) -> f64 {
    if v.as_bool().unwrap() { 1.0 } else { 0.0 }
}

/// `/status`, `/metrics`, `/status` until no poll came in between: the scrape and the status are of one moment.
async fn consistent(env: &Env) -> (Value, String) {
    for _ in 0..50 {
        let (_, before) = env.get("/status").await;
        let text = scrape_text(env).await;
        let (_, after) = env.get("/status").await;
        let moment = |s: &Value| -> Vec<(Value, Value)> {
            s["zones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|z| (z["reading"].clone(), z["health"]["state"].clone()))
                .collect()
        };
        if moment(&before) == moment(&after) {
            return (before, text);
        }
    }
    panic!("no scrape between two polls in 50 attempts");
}

#[tokio::test]
async fn metrics_after_real_polls_match_the_status_and_follow_the_conventions() {
    let env = start(Options::live()).await;
    // One zone down (the others online) so that health states and outcomes differ.
    env.sim.stop_zone(4);
    env.wait_for(4, Duration::from_secs(10), |z| z["health"]["state"] == "offline").await;
    for i in 0..4 {
        env.wait_for(i, Duration::from_secs(10), |z| z["health"]["state"] == "online" && !z["reading"].is_null()).await;
    }
    let (s, body) = env.post(&format!("/zones/{}/target", env.zone_ids[0]), &json!({"target_temp": 22.5})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // A few poll cycles recorded.
    let started = tokio::time::Instant::now();
    while count(&scrape_text(&env).await, "heating_job_duration_seconds", r#"job="poll""#) < 3.0 {
        assert!(started.elapsed() < Duration::from_secs(10), "fewer than 3 poll cycles recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (status, text) = consistent(&env).await;
    let types = check_conventions(&text);
    let scrape = parse(&text);
    let zones = status["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 5);
    assert_eq!(value(&scrape, "heating_zones", &[]), Some(5.0));
    for z in zones {
        let id = z["id"].to_string();
        let name = z["name"].as_str().unwrap();
        let labels = [("zone_id", id.as_str()), ("zone_name", name)];
        let state = z["health"]["state"].as_str().unwrap();
        for s in ["unknown", "online", "degraded", "offline"] {
            let mut with_state = labels.to_vec();
            with_state.push(("state", s));
            let expected = if s == state { 1.0 } else { 0.0 };
            assert_eq!(value(&scrape, "heating_zone_health_state", &with_state), Some(expected), "{name} {s}");
        }
        let r = &z["reading"];
        if r.is_null() {
            assert_eq!(value(&scrape, "heating_zone_air_temperature_celsius", &labels), None, "{name}");
            continue;
        }
        let metric = |m: &str| value(&scrape, m, &labels).unwrap_or_else(|| panic!("{m} missing for {name}"));
        assert_eq!(metric("heating_zone_air_temperature_celsius"), r["temperature"].as_f64().unwrap(), "{name}");
        assert_eq!(metric("heating_zone_target_temperature_celsius"), r["target_temp"].as_f64().unwrap(), "{name}");
        assert_eq!(metric("heating_zone_outdoor_temperature_celsius"), r["outdoor_temp"].as_f64().unwrap());
        assert_eq!(metric("heating_zone_heater_on"), flag(&r["heater_on"]), "{name}");
        assert_eq!(metric("heating_zone_occupied"), flag(&r["occupancy"]), "{name}");
        assert_eq!(metric("heating_zone_heater_power_watts"), r["heater_power_w"].as_f64().unwrap());
        assert_eq!(metric("heating_zone_energy_joules_total"), r["energy_wh"].as_f64().unwrap() * 3600.0);
        let at = chrono::DateTime::parse_from_rfc3339(r["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(metric("heating_zone_reading_timestamp_seconds"), at.timestamp_millis() as f64 / 1000.0);
    }
    assert_eq!(zones[4]["health"]["state"], "offline");
    assert_eq!(types["heating_zone_energy_joules_total"], "counter");
    assert_eq!(types["heating_modbus_request_duration_seconds"], "histogram");

    // The counters and histograms count what happened.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(value(&scrape, "heating_build_info", &[("version", version)]), Some(1.0));
    let requests = |op: &str, outcome: &str| {
        value(&scrape, "heating_modbus_requests_total", &[("operation", op), ("outcome", outcome)]).unwrap_or(0.0)
    };
    assert!(requests("read", "ok") >= 4.0, "{text}");
    assert!(requests("read", "unreachable") + requests("read", "backing_off") >= 1.0, "{text}");
    assert_eq!(requests("write", "ok"), 1.0, "the manual target");
    assert_eq!(
        value(&scrape, "heating_control_writes_total", &[("source", "manual"), ("status", "confirmed")]),
        Some(1.0)
    );
    assert!(count(&text, "heating_modbus_request_duration_seconds", r#"operation="read""#) >= requests("read", "ok"));
    assert_eq!(count(&text, "heating_modbus_request_duration_seconds", r#"operation="write""#), 1.0);
    assert!(
        count(
            &text,
            "heating_http_request_duration_seconds",
            r#"method="POST",route="/zones/{id}/target",status="200""#
        ) == 1.0,
        "{text}"
    );
    assert!(
        count(&text, "heating_http_request_duration_seconds", r#"method="GET",route="/status",status="200""#) >= 1.0
    );
    let raw_paths: Vec<_> =
        text.lines().filter(|l| l.contains("route=\"/zones/") && !l.contains("route=\"/zones/{id}")).collect();
    assert!(raw_paths.is_empty(), "routes are templates, never raw paths: {raw_paths:?}");
    assert_eq!(value(&scrape, "heating_database_rows", &[("table", "zones")]), Some(5.0));
    assert!(value(&scrape, "heating_database_rows", &[("table", "sensor_readings")]).unwrap() >= 4.0);
    assert!(value(&scrape, "heating_database_size_bytes", &[]).unwrap() > 0.0);

    // A deleted zone's series are gone at the next scrape after the fleet reloads.
    let gone = env.zone_ids[3].to_string();
    let (s, body) = env.delete(&format!("/zones/{gone}?cascade=true")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let started = tokio::time::Instant::now();
    loop {
        let text = scrape_text(&env).await;
        if !text.contains(&format!("zone_id=\"{gone}\"")) {
            assert!(text.contains("heating_zones 4"), "{text}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the deleted zone's series stay:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.shutdown().await;
}
