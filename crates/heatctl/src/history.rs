//! `heatctl history ZONE [--since 24h] [--until ...] [--points N] [--csv]`: `GET /zones/{id}/history`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::Output;
use crate::cli::HistoryArgs;
use crate::client::Client;
use crate::error::{Failure, Result};
use crate::format::{Table, celsius, local_time, number, parse_duration, percent, text, timestamp};
use crate::zones::{id_of, resolve};

/// A `--since`/`--until` value: a time, or a duration before the server's now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum When {
    At(DateTime<Utc>),
    Ago(chrono::Duration),
}

fn parse_when(flag: &str, raw: &str) -> Result<When> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(When::At(t.to_utc()));
    }
    let d = parse_duration(raw).map_err(|_| {
        Failure::usage(format!("{flag} {raw:?}: expected a duration before now (30m, 24h, 7d) or an RFC 3339 time"))
    })?;
    let d = chrono::Duration::from_std(d).map_err(|_| Failure::usage(format!("{flag} {raw:?} is too long")))?;
    Ok(When::Ago(d))
}

/// The server's clock (simulated in the demo), which relative times count back from.
async fn server_now(client: &Client) -> Result<DateTime<Utc>> {
    let status = client.get("/status", &[]).await?;
    timestamp(&status["now"]).ok_or_else(|| Failure::other("GET /status did not say the server's time"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `heatctl history`.
pub async fn show(client: &Client, out: Output, args: &HistoryArgs) -> Result<()> {
    let since = args.since.as_deref().map(|s| parse_when("--since", s)).transpose()?;
    let until = args.until.as_deref().map(|s| parse_when("--until", s)).transpose()?;
    let zone = resolve(client, &args.zone).await?;
    let id = id_of(&zone)?;
    let relative = matches!(since, Some(When::Ago(_))) || matches!(until, Some(When::Ago(_)));
    let now = if relative { Some(server_now(client).await?) } else { None };
    let at = |w: When| match (w, now) {
        (When::At(t), _) => t,
        (When::Ago(d), Some(now)) => now - d,
        (When::Ago(d), None) => Utc::now() - d,
    };
    let mut query = Vec::new();
    if let Some(w) = since {
        query.push(("from", rfc3339(at(w))));
    }
    if let Some(w) = until {
        query.push(("to", rfc3339(at(w))));
    }
    if let Some(p) = args.points {
        query.push(("points", p.to_string()));
    }
    let history = client.get(&format!("/zones/{id}/history"), &query).await?;
    if out.json(&history) {
        return Ok(());
    }
    if args.csv {
        print!("{}", csv(&history));
        return Ok(());
    }
    print!("{}", table(&zone, &history, out.colour));
    Ok(())
}

/// The CSV columns, one line per bucket.
const CSV_HEADER: &str = "start,count,temperature_min,temperature_avg,temperature_max,target_temp_min,\
target_temp_avg,target_temp_max,outdoor_temp_min,outdoor_temp_avg,outdoor_temp_max,heater_on_fraction,\
occupied_fraction";

fn csv(history: &Value) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for b in history["buckets"].as_array().into_iter().flatten() {
        let stats = |key: &str| ["min", "avg", "max"].map(|s| number(&b[key][s])).join(",");
        let line = [
            b["start"].as_str().unwrap_or_default().to_string(),
            number(&b["count"]),
            stats("temperature"),
            stats("target_temp"),
            stats("outdoor_temp"),
            number(&b["heater_on_fraction"]),
            number(&b["occupied_fraction"]),
        ];
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn table(zone: &Value, history: &Value, colour: bool) -> String {
    let span = |k: &str| timestamp(&history[k]).map_or_else(|| text(&history[k]), local_time);
    let energy = history["energy_kwh"].as_f64().map_or_else(|| "–".into(), |e| format!("{e:.3} kWh"));
    let mut out = format!(
        "{}: {} to {}, {} readings, energy {energy}\n",
        text(&zone["name"]),
        span("from"),
        span("to"),
        text(&history["readings"])
    );
    let buckets = history["buckets"].as_array().cloned().unwrap_or_default();
    if buckets.is_empty() {
        out.push_str("no readings in this range\n");
        return out;
    }
    let mut t = Table::new(&["START", "N", "AIR MIN", "AIR AVG", "AIR MAX", "TARGET", "OUTDOOR", "HEATER", "OCCUPIED"])
        .right_aligned(&[1, 2, 3, 4, 5, 6, 7, 8]);
    for b in &buckets {
        t.row(vec![
            timestamp(&b["start"]).map_or_else(|| text(&b["start"]), local_time),
            text(&b["count"]),
            celsius(&b["temperature"]["min"]),
            celsius(&b["temperature"]["avg"]),
            celsius(&b["temperature"]["max"]),
            celsius(&b["target_temp"]["avg"]),
            celsius(&b["outdoor_temp"]["avg"]),
            percent(&b["heater_on_fraction"]),
            percent(&b["occupied_fraction"]),
        ]);
    }
    out.push_str(&t.render(colour));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn since_and_until() {
        assert_eq!(parse_when("--since", "24h").unwrap(), When::Ago(chrono::Duration::hours(24)));
        let t = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z").unwrap().to_utc();
        assert_eq!(parse_when("--until", "2026-11-27T11:00:00+01:00").unwrap(), When::At(t));
        assert_eq!(parse_when("--since", "yesterday").unwrap_err().kind, crate::error::Kind::Usage);
    }

    #[test]
    fn csv_has_a_header_and_empty_cells_for_nulls() {
        let h = json!({"buckets": [{"start": "2026-11-27T10:00:00.000Z", "count": 3,
            "temperature": {"min": 20.0, "avg": 20.5, "max": 21.0}, "target_temp": null,
            "outdoor_temp": {"min": 4.0, "avg": 4.5, "max": 5.0}, "heater_on_fraction": 0.5,
            "occupied_fraction": 1.0}]});
        let text = csv(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], "2026-11-27T10:00:00.000Z,3,20.0,20.5,21.0,,,,4.0,4.5,5.0,0.5,1.0");
        assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
    }
}
