//! `heatctl set`, `heatctl release`, `heatctl commands`.

use serde_json::json;

use crate::Output;
use crate::cli::SetArgs;
use crate::client::Client;
use crate::error::{Failure, Result};
use crate::format::{Table, celsius, human_duration, local_time, text, timestamp};
use crate::zones::{id_of, resolve};

/// `heatctl set ZONE TARGET [--hold 2h]`: `POST /zones/{id}/target`.
pub async fn set(client: &Client, out: Output, args: &SetArgs) -> Result<()> {
    if !args.target.is_finite() {
        return Err(Failure::usage(format!("{} is not a temperature", args.target)));
    }
    let hold_minutes = match args.hold {
        None => None,
        Some(d) if d.as_secs() % 60 != 0 => {
            return Err(Failure::usage(format!("--hold {}: holds are whole minutes", human_duration(d))));
        }
        Some(d) => Some(d.as_secs() / 60),
    };
    let zone = resolve(client, &args.zone).await?;
    let id = id_of(&zone)?;
    let mut body = json!({"target_temp": args.target});
    if let Some(m) = hold_minutes {
        body["hold_minutes"] = json!(m);
    }
    let answer = client.post(&format!("/zones/{id}/target"), &body).await?;
    if out.json(&answer) {
        return Ok(());
    }
    let command = &answer["command"];
    let hold = &answer["hold"];
    let held = match (timestamp(&hold["until"]), args.hold) {
        (Some(until), Some(d)) => format!("held for {} (until {})", human_duration(d), local_time(until)),
        (Some(until), None) => format!("held until {}", local_time(until)),
        (None, _) => "held until the zone's occupancy changes".into(),
    };
    println!(
        "{}: target {} {}, {held}",
        text(&zone["name"]),
        celsius(&command["target_temp"]),
        text(&command["status"])
    );
    Ok(())
}

/// `heatctl release ZONE`: `DELETE /zones/{id}/hold`.
pub async fn release(client: &Client, out: Output, arg: &str) -> Result<()> {
    let zone = resolve(client, arg).await?;
    let id = id_of(&zone)?;
    let hold = client.delete(&format!("/zones/{id}/hold"), &[]).await?;
    if out.json(&hold) {
        return Ok(());
    }
    println!(
        "{}: released the hold at {}; automatic control takes over at its next run",
        text(&zone["name"]),
        celsius(&hold["target_temp"])
    );
    Ok(())
}

/// `heatctl commands ZONE`: `GET /commands/zone/{id}`.
pub async fn commands(client: &Client, out: Output, arg: &str, limit: u16) -> Result<()> {
    let zone = resolve(client, arg).await?;
    let id = id_of(&zone)?;
    let list = client.get(&format!("/commands/zone/{id}"), &[("limit", limit.to_string())]).await?;
    if out.json(&list) {
        return Ok(());
    }
    let rows = list.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("{}: no commands yet", text(&zone["name"]));
        return Ok(());
    }
    println!("{}", text(&zone["name"]));
    let mut table = Table::new(&["TIME", "TARGET", "SOURCE", "STATUS", "ACTOR", "REASON"]).right_aligned(&[1]);
    for c in &rows {
        let time = timestamp(&c["timestamp"]).map_or_else(|| text(&c["timestamp"]), local_time);
        let reason = match (c["error"].as_str(), c["reason"].as_str()) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(r)) => r.to_string(),
            (None, None) => String::new(),
        };
        table.row(vec![
            time,
            celsius(&c["target_temp"]),
            text(&c["source"]),
            text(&c["status"]),
            text(&c["actor"]),
            reason,
        ]);
    }
    print!("{}", table.render(out.colour));
    Ok(())
}
