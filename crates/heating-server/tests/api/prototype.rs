//! The Python prototype's clients keep working: the calls they made and the fields they read.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{json_of, spawn_app, utc};

#[tokio::test]
async fn replay_of_the_prototype_usage() {
    let app = spawn_app().await;
    let body = json!({"name": "Living Room", "preferences": {"occupied_temp": 22.0, "unoccupied_temp": 17.0},
                      "modbus_port": 5020, "modbus_host": "localhost"});
    let (status, created) = json_of(app.post("/zones/", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id is an integer");
    assert_eq!(created["name"], "Living Room");
    assert_eq!(created["preferences"]["occupied_temp"], 22.0);
    assert_eq!(created["preferences"]["unoccupied_temp"], 17.0);
    assert_eq!(created["modbus_port"], 5020);
    assert_eq!(created["modbus_host"], "localhost");
    assert_eq!(created["modbus_unit_id"], 1);

    let (status, zones) = json_of(app.get("/zones/").await).await;
    assert_eq!(status, StatusCode::OK);
    let listed = zones.as_array().unwrap().iter().find(|z| z["id"] == id).expect("zone listed");
    assert_eq!(listed["name"], "Living Room");
    assert_eq!(listed["preferences"]["occupied_temp"], 22.0);

    // History the dashboard reads.
    for (temperature, occupancy) in [(20.5, true), (20.9, false)] {
        let (s, _) = json_of(
            app.post("/sensordata/", &json!({"zone_id": id, "temperature": temperature, "occupancy": occupancy})).await,
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // The prototype's POST /commands/ stored a row and sent nothing; here it reaches the device. Point the zone at
    // a simulated zone on an ephemeral port (5020 may be anything on a developer's machine).
    let sim = zone_simulator::Simulator::bind(&zone_simulator::SimulatorConfig {
        base_port: 0,
        ..zone_simulator::SimulatorConfig::default()
    })
    .await
    .unwrap()
    .spawn();
    let port = sim.addrs()[0].port();
    let (s, _) =
        json_of(app.put(&format!("/zones/{id}"), &json!({"modbus_port": port, "modbus_host": "127.0.0.1"})).await)
            .await;
    assert_eq!(s, StatusCode::OK);
    let (s, command) = json_of(app.post("/commands/", &json!({"zone_id": id, "target_temp": 21.5})).await).await;
    assert_eq!(s, StatusCode::CREATED, "{command}");
    assert_eq!(command["status"], "confirmed");
    assert_eq!(sim.zones()[0].current().target.celsius(), 21.5, "the device has it");

    let (status, details) = json_of(app.get(&format!("/zones/{id}/details")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(details["id"], id);
    assert_eq!(details["name"], "Living Room");
    assert_eq!(details["preferences"]["occupied_temp"], 22.0);
    let data = details["sensor_data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(
        (data[0]["temperature"].as_f64(), data[0]["occupancy"].as_bool()),
        (Some(20.9), Some(false)),
        "newest first"
    );
    assert_eq!((data[1]["temperature"].as_f64(), data[1]["occupancy"].as_bool()), (Some(20.5), Some(true)));
    assert!(utc(&data[0]["timestamp"]) > utc(&data[1]["timestamp"]));
    let commands = details["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0]["target_temp"], 21.5);
    utc(&commands[0]["timestamp"]);
}
