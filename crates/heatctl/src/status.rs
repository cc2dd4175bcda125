//! `heatctl status`: the dashboard's overview as a table, plus the outdoor conditions and the jobs.

use serde_json::Value;

use crate::Output;
use crate::client::Client;
use crate::error::Result;
use crate::format::{Style, Table, ago, celsius, local_time, text, timestamp};

/// The dashboard's names of the control rules (`describe.js`).
fn rule_name(rule: &str) -> &str {
    match rule {
        "manual_hold" => "manual hold",
        "schedule" => "timer program",
        "occupied" => "occupied comfort",
        "unoccupied" => "unoccupied setback",
        "skipped" => "control paused",
        "constant" => "constant setpoint",
        "scheduled" => "occupancy schedule",
        "predictive" => "predictive plan",
        other => other,
    }
}

/// The target in force and why, as the dashboard's `activeTarget`.
fn target_and_why(z: &Value, now: Option<chrono::DateTime<chrono::Utc>>) -> (String, String) {
    let hold = &z["hold"];
    if hold.is_object() {
        let until = match (timestamp(&hold["until"]), now) {
            (Some(t), Some(now)) => format!("until {} ({})", local_time(t), ago(t, now)),
            (Some(t), None) => format!("until {}", local_time(t)),
            (None, _) => "until occupancy changes".into(),
        };
        return (celsius(&hold["target_temp"]), format!("manual hold {until}"));
    }
    let a = &z["active"];
    let reading = &z["reading"];
    if a.is_object() && a["target_temp"].is_number() {
        let mut why = rule_name(a["rule"].as_str().unwrap_or_default()).to_string();
        if let Some(k) = a["weather_adjustment_k"].as_f64().filter(|k| *k != 0.0) {
            why.push_str(&format!(", weather {k:+.1} K"));
        }
        return (celsius(&a["target_temp"]), why);
    }
    if a.is_object() {
        return (celsius(&reading["target_temp"]), "control paused".into());
    }
    if reading.is_object() {
        return (celsius(&reading["target_temp"]), "device setpoint (control has not run yet)".into());
    }
    ("–".into(), "no reading yet".into())
}

fn health(state: &str) -> (String, Style) {
    match state {
        "online" => ("online".into(), Style::Good),
        "degraded" => ("degraded".into(), Style::Warn),
        "offline" => ("offline".into(), Style::Bad),
        "unknown" => ("waiting".into(), Style::Dim),
        "no_device" => ("no device".into(), Style::Dim),
        other => (other.to_string(), Style::Plain),
    }
}

/// The table, without printing (for tests).
fn render(s: &Value, colour: bool) -> String {
    let now = timestamp(&s["now"]);
    let mut out = String::new();
    let w = &s["weather"];
    let mut outdoor = format!("Outdoor {}", celsius(&w["outdoor_c"]));
    if w["next_24h_min_c"].is_number() {
        outdoor.push_str(&format!(
            ", next 24 h {} to {}",
            celsius(&w["next_24h_min_c"]),
            celsius(&w["next_24h_max_c"])
        ));
    }
    let source = match w["location"].as_str() {
        Some(loc) => format!("{} · {loc}", text(&w["provider"])),
        None => text(&w["provider"]),
    };
    outdoor.push_str(&format!(" ({source}{})", if w["stale"].as_bool() == Some(true) { ", stale" } else { "" }));
    if let Some(e) = w["error"].as_str() {
        outdoor.push_str(&format!("; no forecast: {e}"));
    }
    out.push_str(&outdoor);
    out.push('\n');
    if let Some(now) = now {
        out.push_str(&format!("Server time {}", local_time(now)));
        if s["clock_scale"].as_f64().is_some_and(|x| x != 1.0) {
            out.push_str(&format!(" (simulated, ×{})", text(&s["clock_scale"])));
        }
        out.push('\n');
    }
    out.push('\n');
    let zones = s["zones"].as_array().cloned().unwrap_or_default();
    if zones.is_empty() {
        out.push_str("no zones yet\n");
        return out;
    }
    let mut table = Table::new(&["ZONE", "AIR", "TARGET", "WHY", "OCCUPANCY", "HEATER", "HEALTH", "LAST SEEN"])
        .right_aligned(&[1, 2]);
    for z in &zones {
        let r = &z["reading"];
        let (target, why) = target_and_why(z, now);
        let (occupancy, heater) = if r.is_object() {
            let occ = if r["occupancy"].as_bool() == Some(true) { "occupied" } else { "vacant" };
            let heat = if r["heater_on"].as_bool() == Some(true) { "on" } else { "off" };
            (occ.to_string(), heat.to_string())
        } else {
            ("–".into(), "–".into())
        };
        let (health, style) = health(z["health"]["state"].as_str().unwrap_or("unknown"));
        let last_seen = match (timestamp(&z["health"]["last_seen"]), now) {
            (Some(t), Some(now)) => ago(t, now),
            (Some(t), None) => local_time(t),
            (None, _) => "never".into(),
        };
        table.styled_row(vec![
            (text(&z["name"]), Style::Plain),
            (celsius(&r["temperature"]), Style::Plain),
            (target, Style::Plain),
            (why, Style::Plain),
            (occupancy, Style::Plain),
            (heater.clone(), if heater == "on" { Style::Warn } else { Style::Plain }),
            (health, style),
            (last_seen, Style::Plain),
        ]);
    }
    out.push_str(&table.render(colour));
    out
}

/// `heatctl status`.
pub async fn show(client: &Client, out: Output) -> Result<()> {
    let s = client.get("/status", &[]).await?;
    if out.json(&s) {
        return Ok(());
    }
    print!("{}", render(&s, out.colour));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_the_overview() {
        let s = json!({
            "now": "2026-11-27T10:00:30Z", "clock_scale": 1.0,
            "weather": {"provider": "simulated", "location": null, "outdoor_c": 4.25, "next_24h_min_c": 1.0,
                        "next_24h_max_c": 6.0, "stale": false, "error": null},
            "zones": [
                {"name": "Living Room", "health": {"state": "online", "last_seen": "2026-11-27T10:00:25Z"},
                 "reading": {"temperature": 20.04, "target_temp": 21.0, "occupancy": true, "heater_on": true},
                 "active": {"target_temp": 21.0, "rule": "occupied", "weather_adjustment_k": -1.0}, "hold": null},
                {"name": "Office", "health": {"state": "no_device", "last_seen": null}, "reading": null,
                 "active": null, "hold": {"target_temp": 19.5, "until": null}},
            ]
        });
        let text = render(&s, false);
        assert!(text.starts_with("Outdoor 4.2 °C, next 24 h 1.0 °C to 6.0 °C (simulated)\n"), "{text}");
        assert!(text.contains("ZONE             AIR   TARGET  WHY"), "{text}");
        let cells = |name: &str| -> Vec<String> {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            line.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect()
        };
        let living = ["Living Room", "20.0 °C", "21.0 °C", "occupied comfort, weather -1.0 K", "occupied", "on"];
        assert_eq!(cells("Living Room")[..6], living, "{text}");
        assert_eq!(cells("Office")[2..4], ["19.5 °C", "manual hold until occupancy changes"], "{text}");
        assert!(text.contains("5s ago"), "{text}");
        assert!(text.contains("19.5 °C  manual hold until occupancy changes"), "{text}");
        assert!(text.contains("no device  never"), "{text}");
    }
}
