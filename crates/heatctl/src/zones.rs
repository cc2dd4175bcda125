//! `heatctl zones`, `heatctl zone add|rm`, and finding a zone by name or id.

use serde_json::{Map, Value, json};

use crate::Output;
use crate::cli::ZoneAddArgs;
use crate::client::Client;
use crate::error::{Failure, Kind, Result};
use crate::format::{Table, celsius, text};

/// The API's page size limit.
const PAGE: usize = 1000;

/// Every zone, in the server's order (all pages).
pub async fn all(client: &Client) -> Result<Vec<Value>> {
    let mut zones = Vec::new();
    loop {
        let query = [("skip", zones.len().to_string()), ("limit", PAGE.to_string())];
        let page = client.get("/zones", &query).await?;
        let Value::Array(page) = page else {
            return Err(Failure::other("GET /zones did not answer with a list"));
        };
        let n = page.len();
        zones.extend(page);
        if n < PAGE {
            return Ok(zones);
        }
    }
}

/// A zone named by `arg`: its exact name, else its id, else its name ignoring case. Unknown: [`Kind::NotFound`]
/// listing the zones there are.
pub async fn resolve(client: &Client, arg: &str) -> Result<Value> {
    let zones = all(client).await?;
    find(zones, arg)
}

fn find(zones: Vec<Value>, arg: &str) -> Result<Value> {
    let name = |z: &Value| z["name"].as_str().unwrap_or_default().to_string();
    let wanted = arg.trim();
    if let Some(z) = zones.iter().find(|z| name(z) == wanted) {
        return Ok(z.clone());
    }
    if let Ok(id) = wanted.parse::<i64>()
        && let Some(z) = zones.iter().find(|z| z["id"].as_i64() == Some(id))
    {
        return Ok(z.clone());
    }
    let folded: Vec<&Value> = zones.iter().filter(|z| name(z).to_lowercase() == wanted.to_lowercase()).collect();
    match folded.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            let names: Vec<String> = many.iter().map(|z| format!("{:?}", name(z))).collect();
            return Err(Failure::not_found(format!(
                "zone name {arg:?} is ambiguous ignoring case: {}; give the exact name or the id",
                names.join(", ")
            )));
        }
    }
    let mut names: Vec<String> = zones.iter().take(30).map(name).collect();
    if zones.len() > names.len() {
        names.push(format!("and {} more", zones.len() - names.len()));
    }
    let known =
        if names.is_empty() { "there are no zones yet".to_string() } else { format!("zones: {}", names.join(", ")) };
    Err(Failure::not_found(format!("no zone named {arg:?} ({known})")))
}

/// The zone's id.
pub fn id_of(zone: &Value) -> Result<i64> {
    zone["id"].as_i64().ok_or_else(|| Failure::other("a zone without an id in the server's answer"))
}

/// `host:port unit N`, or `–` without a device.
fn device(z: &Value) -> String {
    match z["modbus_port"].as_u64() {
        Some(port) => {
            let unit = z["modbus_unit_id"].as_u64().unwrap_or(1);
            format!("{}:{port} unit {unit}", z["modbus_host"].as_str().unwrap_or("localhost"))
        }
        None => "–".into(),
    }
}

/// `heatctl zones`.
pub async fn list(client: &Client, out: Output) -> Result<()> {
    let zones = all(client).await?;
    if out.json(&Value::Array(zones.clone())) {
        return Ok(());
    }
    if zones.is_empty() {
        println!("no zones yet (add one with `heatctl zone add NAME --host HOST --port PORT`)");
        return Ok(());
    }
    let mut table = Table::new(&["ID", "NAME", "DEVICE", "STRATEGY", "COMFORT", "SETBACK"]).right_aligned(&[0, 4, 5]);
    for z in &zones {
        let p = &z["preferences"];
        let strategy = p["control_strategy"].as_str().map_or_else(|| "server default".into(), str::to_string);
        table.row(vec![
            text(&z["id"]),
            text(&z["name"]),
            device(z),
            strategy,
            celsius(&p["occupied_temp"]),
            celsius(&p["unoccupied_temp"]),
        ]);
    }
    print!("{}", table.render(out.colour));
    Ok(())
}

/// `heatctl zone add`.
pub async fn add(client: &Client, out: Output, args: ZoneAddArgs) -> Result<()> {
    let mut body = Map::new();
    body.insert("name".into(), json!(args.name));
    if let Some(host) = args.host {
        body.insert("modbus_host".into(), json!(host));
    }
    if let Some(port) = args.port {
        body.insert("modbus_port".into(), json!(port));
    }
    if let Some(unit) = args.unit {
        body.insert("modbus_unit_id".into(), json!(unit));
    }
    if !args.prefs.is_empty() {
        let prefs: Map<String, Value> = args.prefs.into_iter().collect();
        body.insert("preferences".into(), Value::Object(prefs));
    }
    let zone = client.post("/zones", &Value::Object(body)).await?;
    if out.json(&zone) {
        return Ok(());
    }
    println!("created zone {} {:?} ({})", text(&zone["id"]), text(&zone["name"]), device(&zone));
    Ok(())
}

/// `heatctl zone rm`.
pub async fn remove(client: &Client, out: Output, arg: &str, cascade: bool) -> Result<()> {
    let zone = resolve(client, arg).await?;
    let id = id_of(&zone)?;
    let query = if cascade { vec![("cascade", "true".to_string())] } else { Vec::new() };
    let deleted = client.delete(&format!("/zones/{id}"), &query).await.map_err(|e| {
        if e.kind == Kind::Refused && !cascade {
            Failure::new(e.kind, format!("{}\n(--cascade also deletes its readings and commands)", e.message))
        } else {
            e
        }
    })?;
    if out.json(&deleted) {
        return Ok(());
    }
    println!("deleted zone {id} {:?}", text(&deleted["name"]));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones() -> Vec<Value> {
        vec![json!({"id": 1, "name": "Living Room"}), json!({"id": 2, "name": "Office"}), json!({"id": 3, "name": "7"})]
    }

    #[test]
    fn finds_by_name_then_id_then_ignoring_case() {
        assert_eq!(find(zones(), "Office").unwrap()["id"], 2);
        assert_eq!(find(zones(), "1").unwrap()["id"], 1);
        assert_eq!(find(zones(), "7").unwrap()["id"], 3, "a name that looks like an id wins");
        assert_eq!(find(zones(), "living room").unwrap()["id"], 1);
        let e = find(zones(), "Attic").unwrap_err();
        assert_eq!(e.kind, Kind::NotFound);
        assert_eq!(e.message, "no zone named \"Attic\" (zones: Living Room, Office, 7)");
        assert!(find(Vec::new(), "x").unwrap_err().message.contains("no zones yet"));
        let two = vec![json!({"id": 1, "name": "Hall"}), json!({"id": 2, "name": "HALL"})];
        assert!(find(two, "hall").unwrap_err().message.contains("ambiguous"));
    }
}
