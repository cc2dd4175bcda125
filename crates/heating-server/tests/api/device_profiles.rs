//! `/device-profiles`: the built-ins listed with their capabilities, one shown as JSON and TOML, posting with the
//! validator's precise refusals, conflicts, versions, zones naming profiles, and the probe.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{json_of, spawn_app, spawn_app_with};

fn own(name: &str, version: u32, step: &str) -> String {
    format!(
        "format = 1\nname = \"{name}\"\nversion = {version}\ndescription = \"A room controller\"\n\
         [points.air_temperature]\ntable = \"input\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\n\
         [points.target]\ntable = \"holding\"\naddress = 0\ntype = \"int16\"\nscale = 0.1\nwrite = \"fc06\"\n\
         min = 5.0\nmax = 30.0\nstep = {step}\n"
    )
}

#[tokio::test]
async fn built_ins_are_listed_with_their_capabilities_and_shown_with_their_toml() {
    let app = spawn_app().await;
    let (status, list) = json_of(app.get("/device-profiles").await).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = list.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["heating-sim", "prototype-v1", "relay-coil", "thermo-f32"]);
    let relay = &list[2];
    assert_eq!((relay["source"].clone(), relay["requests_per_poll"].clone()), (json!("builtin"), json!(4)));
    assert_eq!(relay["capabilities"]["energy"], false);
    assert_eq!(relay["capabilities"]["rated_power"], true);
    assert_eq!(list[0]["requests_per_poll"], 1, "heating-sim: one FC03 per poll");

    let (status, sim) = json_of(app.get("/device-profiles/heating-sim").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim["profile"]["points"]["target"]["write"], "fc06");
    assert!(sim["toml"].as_str().unwrap().contains("name = \"heating-sim\""));
    let (status, body) = json_of(app.get("/device-profiles/nope").await).await;
    assert_eq!(
        (status, body["detail"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "Device profile \"nope\" not found")
    );
    let (status, body) = json_of(app.get("/device-profiles/Bad%20Name").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["detail"].as_str().unwrap().starts_with("name: "));
}

#[tokio::test]
async fn posted_profiles_are_validated_versioned_and_usable_by_zones() {
    let app = spawn_app().await;
    let post = |toml: String| {
        let body = json!({"toml": toml});
        let app = &app;
        async move { app.post("/device-profiles", &body).await }
    };
    let refused = [
        (own("mine", 1, "0.0"), "toml: points.target.step: "),
        ("format = 1\nname = \"x\"".to_string(), "toml: "),
        (own("mine", 1, "0.5").replace("format = 1", "format = 2"), "toml: format: unsupported format version 2"),
    ];
    for (toml, detail) in refused {
        let (status, body) = json_of(post(toml).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["detail"].as_str().unwrap().starts_with(detail), "{body} should start with {detail}");
    }
    let (status, body) = json_of(post(own("relay-coil", 9, "0.5")).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["detail"], "name: \"relay-coil\" is a built-in profile; choose another name");

    let (status, created) = json_of(post(own("mine", 1, "0.5")).await).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["source"].clone(), created["posted_by"].clone()), (json!("api"), json!("local")));
    let (status, body) = json_of(post(own("mine", 1, "0.5")).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["detail"], "device profile \"mine\" version 1 already exists");
    let (status, _) = json_of(post(own("mine", 2, "1.0")).await).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, shown) = json_of(app.get("/device-profiles/mine").await).await;
    assert_eq!(
        (shown["version"].clone(), shown["profile"]["points"]["target"]["step"].clone()),
        (json!(2), json!(1.0))
    );

    // Zones name profiles: unknown ones are refused listing the known ones; the default is heating-sim.
    let (status, body) = json_of(app.post("/zones", &json!({"name": "A", "device_profile": "thermo-f33"})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["detail"],
        "device_profile: unknown device profile \"thermo-f33\" (known: heating-sim, mine, prototype-v1, relay-coil, \
         thermo-f32)"
    );
    let (status, zone) = json_of(app.post("/zones", &json!({"name": "A"})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((zone["device_profile"].clone(), zone["rated_power_w"].clone()), (json!("heating-sim"), Value::Null));
    let id = zone["id"].as_i64().unwrap();
    let (status, zone) =
        json_of(app.put(&format!("/zones/{id}"), &json!({"device_profile": "mine", "rated_power_w": 1500})).await)
            .await;
    assert_eq!(status, StatusCode::OK, "{zone}");
    assert_eq!((zone["device_profile"].clone(), zone["rated_power_w"].clone()), (json!("mine"), json!(1500.0)));
    let (status, body) = json_of(app.put(&format!("/zones/{id}"), &json!({"rated_power_w": -5})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().starts_with("rated_power_w: "), "{body}");
    let (_, zone) = json_of(app.put(&format!("/zones/{id}"), &json!({"rated_power_w": null})).await).await;
    assert_eq!(zone["rated_power_w"], Value::Null);
    let (_, audit) = json_of(app.get("/audit").await).await;
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "device_profile.create"), "{audit}");
}

#[tokio::test]
async fn probe_reads_every_point_raw_and_decoded() {
    let sim = zone_simulator::Simulator::bind(&zone_simulator::SimulatorConfig {
        base_port: 0,
        ..zone_simulator::SimulatorConfig::default()
    })
    .await
    .unwrap()
    .spawn();
    let port = sim.addrs()[0].port();
    let app = spawn_app_with(|c| c.auth.device_networks = "127.0.0.1/32".parse().unwrap()).await;
    let body = json!({"host": "127.0.0.1", "port": port, "profile": "heating-sim"});
    let (status, report) = json_of(app.post("/device-profiles/probe", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["fits"], true);
    let points = report["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    let air = points.iter().find(|p| p["point"] == "air_temperature").unwrap();
    assert_eq!(air["location"], "holding 0 int16");
    assert!(air["raw"].as_str().unwrap().starts_with("holding 0 [0x"));
    let t = sim.zones()[0].current().air_temperature;
    assert!((air["value"].as_f64().unwrap() - t).abs() <= 0.05 + 1e-9, "{air} vs {t}");

    // The simulator's map read as relay-coil: the coils and discrete inputs it lacks are the device's exception.
    let body = json!({"host": "127.0.0.1", "port": port, "profile": "relay-coil"});
    let (status, report) = json_of(app.post("/device-profiles/probe", &body).await).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["fits"], false);
    let heater = report["points"].as_array().unwrap().iter().find(|p| p["point"] == "heater").unwrap().clone();
    assert!(heater["error"].as_str().unwrap().contains("exception"), "{heater}");
    assert_eq!((heater["location"].clone(), heater["raw"].clone()), (json!("coil 0 bool"), Value::Null));

    let refusals = [
        (json!({"host": "10.0.0.1", "port": port, "profile": "heating-sim"}), "host"),
        (json!({"host": "127.0.0.1", "port": port, "profile": "nope"}), "profile: unknown device profile \"nope\""),
        (json!({"host": "127.0.0.1", "port": 0, "profile": "heating-sim"}), "port"),
    ];
    for (body, detail) in refusals {
        let (status, answer) = json_of(app.post("/device-profiles/probe", &body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(answer["detail"].as_str().unwrap().contains(detail), "{answer} should name {detail}");
    }
}
