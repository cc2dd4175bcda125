//! `heatctl` against a real server and a real simulator: every command, as a table and as `--json`, and the exit
//! codes scripts rely on (3 refused token, 4 unknown zone, 5 refused input, 6 server unavailable, 2 usage).

mod support;

use serde_json::Value;
use support::{Env, ZONES, heatctl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_a_real_server() {
    let mut env = Env::start().await;
    let (admin, operator, viewer) = (env.admin.clone(), env.operator.clone(), env.viewer.clone());

    // whoami
    let me = env.heatctl(Some(&admin), &["whoami"]).await.ok();
    assert!(me.stdout.starts_with("heatctl-admin (admin) at http://127.0.0.1:"), "{me:#?}");
    let me = env.heatctl(Some(&viewer), &["whoami", "--json"]).await.ok().json();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str(), me["auth"].as_bool()),
        (Some("heatctl-viewer"), Some("viewer"), Some(true))
    );

    // zone add, zones
    let empty = env.heatctl(Some(&viewer), &["zones"]).await.ok();
    assert!(empty.stdout.contains("no zones yet"), "{empty:#?}");
    env.add_zones().await;
    let attic = env
        .heatctl(Some(&admin), &["zone", "add", "Attic", "--pref", "control_strategy=constant", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(attic["preferences"]["control_strategy"], "constant");
    assert!(attic["modbus_port"].is_null());
    let table = env.heatctl(Some(&viewer), &["zones"]).await.ok().stdout;
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("ID") && header.contains("NAME") && header.contains("DEVICE"), "{table}");
    let living = table.lines().find(|l| l.contains("Living Room")).unwrap();
    assert!(living.contains(&format!("127.0.0.1:{} unit 1", env.port(0))) && living.contains("22.0 °C"), "{table}");
    assert!(table.lines().any(|l| l.contains("Attic") && l.contains("constant")), "{table}");
    let zones = env.heatctl(Some(&viewer), &["zones", "--json"]).await.ok().json();
    let names: Vec<&str> = zones.as_array().unwrap().iter().map(|z| z["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Living Room", "Office", "Attic"]);

    // zone rm: a zone without history goes; one with history needs --cascade.
    let rm = env.heatctl(Some(&admin), &["zone", "rm", "attic"]).await.ok();
    assert_eq!(rm.stdout.trim(), format!("deleted zone {} \"Attic\"", attic["id"]));

    // status, once the poller has read every zone
    env.wait_for_readings().await;
    let status = env.heatctl(Some(&viewer), &["status"]).await.ok().stdout;
    assert!(status.starts_with("Outdoor "), "{status}");
    for col in ["ZONE", "AIR", "TARGET", "WHY", "OCCUPANCY", "HEATER", "HEALTH", "LAST SEEN"] {
        assert!(status.contains(col), "{col} in {status}");
    }
    for name in ZONES {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {status}"));
        assert!(line.contains("online") && line.contains(" °C") && line.contains(" ago"), "{status}");
    }
    assert!(!status.contains('\x1b'), "no colour when not a terminal: {status}");

    // set, with a hold of 2 hours and without one; confirmed by the device
    let set = env.heatctl(Some(&operator), &["set", "Living Room", "21.5", "--hold", "2h"]).await.ok();
    assert!(set.stdout.starts_with("Living Room: target 21.5 °C confirmed, held for 2h (until "), "{set:#?}");
    assert!((env.sim.zones()[0].current().target.celsius() - 21.5).abs() < 1e-9);
    let office_id = zones[1]["id"].as_i64().unwrap().to_string();
    let set = env.heatctl(Some(&operator), &["set", &office_id, "19", "--json"]).await.ok().json();
    assert_eq!(set["command"]["status"], "confirmed");
    assert_eq!(set["command"]["actor"], "heatctl-operator");
    assert!(set["hold"]["until"].is_null(), "no --hold: until occupancy changes: {set}");
    assert!((env.sim.zones()[1].current().target.celsius() - 19.0).abs() < 1e-9);
    let set = env.heatctl(Some(&operator), &["set", "office", "19.5"]).await.ok();
    assert_eq!(set.stdout.trim(), "Office: target 19.5 °C confirmed, held until the zone's occupancy changes");
    // A timed hold, so that a change of occupancy during the test cannot end it before `release` below.
    env.heatctl(Some(&operator), &["set", "Office", "19.5", "--hold", "1h"]).await.ok();
    let status = env.heatctl(Some(&viewer), &["status"]).await.ok().stdout;
    let living = status.lines().find(|l| l.starts_with("Living Room")).unwrap();
    assert!(living.contains("21.5 °C") && living.contains("manual hold until "), "{status}");
    let status = env.heatctl(Some(&viewer), &["status", "--json"]).await.ok().json();
    assert_eq!(status["zones"][0]["hold"]["target_temp"], 21.5);

    // commands
    let commands = env.heatctl(Some(&viewer), &["commands", "Living Room"]).await.ok().stdout;
    let row = commands.lines().find(|l| l.contains("21.5 °C")).unwrap_or_else(|| panic!("{commands}"));
    assert!(row.contains("manual") && row.contains("confirmed") && row.contains("heatctl-operator"), "{commands}");
    let list = env.heatctl(Some(&viewer), &["commands", "Office", "-n", "1", "--json"]).await.ok().json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["target_temp"], 19.5);

    // release, and again: nothing to release
    let release = env.heatctl(Some(&operator), &["release", "Living Room"]).await.ok();
    assert!(release.stdout.starts_with("Living Room: released the hold at 21.5 °C"), "{release:#?}");
    let release = env.heatctl(Some(&operator), &["release", "Office", "--json"]).await.ok().json();
    assert_eq!(release["target_temp"], 19.5);
    env.heatctl(Some(&operator), &["release", "Office"]).await.fails(4, "hold");

    // history: CSV with a header, a table, JSON
    let csv = env.heatctl(Some(&viewer), &["history", "Office", "--since", "24h", "--csv"]).await.ok().stdout;
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("start,count,temperature_min,temperature_avg,temperature_max,"), "{csv}");
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty(), "{csv}");
    for row in &rows {
        assert_eq!(row.split(',').count(), header.split(',').count(), "{csv}");
    }
    let table = env.heatctl(Some(&viewer), &["history", "Office", "--since", "1h", "--points", "10"]).await.ok().stdout;
    assert!(
        table.starts_with("Office: ") && table.contains("readings, energy") && table.contains("AIR AVG"),
        "{table}"
    );
    let history = env
        .heatctl(Some(&viewer), &["history", "Living Room", "--since", "2h", "--until", "1h", "--json"])
        .await
        .ok()
        .json();
    let span = chrono_span(&history);
    assert_eq!(span, 3600, "{history}");
    let history = env.heatctl(Some(&viewer), &["history", "Living Room", "--points", "5", "--json"]).await.ok().json();
    assert_eq!(history["points"], 5);
    assert!(history["readings"].as_i64().unwrap() > 0, "{history}");
    let from = "2020-01-01T00:00:00Z";
    let old =
        env.heatctl(Some(&viewer), &["history", "Office", "--since", from, "--until", "2020-01-02T00:00:00Z"]).await;
    assert!(old.ok().stdout.contains("no readings in this range"));

    // zone rm with history: refused (5) unless --cascade
    env.heatctl(Some(&admin), &["zone", "rm", "Office"]).await.fails(5, "--cascade");
    env.heatctl(Some(&admin), &["zone", "rm", "Office", "--cascade", "--json"]).await.ok().json();
    let zones = env.heatctl(Some(&viewer), &["zones", "--json"]).await.ok().json();
    assert_eq!(zones.as_array().unwrap().len(), 1);

    // completions
    for shell in ["bash", "zsh", "fish"] {
        let script = env.heatctl_with(None, None, &["completions", shell]).await.ok().stdout;
        assert!(script.contains("heatctl") && script.contains("history"), "{shell}: {script}");
    }

    // the server stops: 6, naming the URL
    env.stop_server().await;
    let url = env.url();
    env.heatctl(Some(&viewer), &["zones"]).await.fails(6, &format!("cannot reach the server at {url}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_scripts_rely_on() {
    let env = Env::start().await;
    env.add_zones().await;
    let (admin, operator, viewer) = (env.admin.as_str(), env.operator.as_str(), env.viewer.as_str());

    // 3: a wrong token, no token, a role too low
    let wrong = "hst_not-a-real-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let run = env.heatctl(Some(wrong), &["zones"]).await.fails(3, "heatctl: error: the server refused the token: ");
    assert!(!run.stderr.contains(wrong), "{run:#?}");
    assert!(run.stdout.is_empty());
    env.heatctl(None, &["status"]).await.fails(3, "needs a token (--token, HEATCTL_TOKEN, or `token` in ");
    env.heatctl(Some(viewer), &["set", "Living Room", "20"]).await.fails(3, "the server refused the token: ");
    env.heatctl(Some(operator), &["zone", "add", "Hall"]).await.fails(3, "admin");

    // 4: an unknown zone, listing the zones
    let run = env.heatctl(Some(viewer), &["history", "Nowhere"]).await;
    run.fails(4, "no zone named \"Nowhere\" (zones: Living Room, Office)");
    env.heatctl(Some(operator), &["set", "99", "20"]).await.fails(4, "no zone named \"99\"");

    // 5: the server refused the input, its detail as is
    env.heatctl(Some(operator), &["set", "Living Room", "40"])
        .await
        .fails(5, "heatctl: error: target_temp: target temperature 40 °C is outside");
    env.heatctl(Some(operator), &["set", "Living Room", "20", "--hold", "8d"]).await.fails(5, "hold_minutes: 11520");
    env.heatctl(Some(admin), &["zone", "add", "Office"]).await.fails(5, "Office");
    env.heatctl(Some(admin), &["zone", "add", "Bad", "--pref", "control_strategy=predictiv"])
        .await
        .fails(5, "predictiv");

    // 2: usage
    env.heatctl(Some(operator), &["set", "Living Room"]).await.fails(2, "TARGET");
    env.heatctl(Some(operator), &["set", "Living Room", "20", "--hold", "2x"]).await.fails(2, "not a duration");
    env.heatctl(Some(operator), &["set", "Living Room", "20", "--hold", "90s"]).await.fails(2, "whole minutes");
    env.heatctl_with(Some(viewer), Some("localhost:8000"), &["zones"]).await.fails(2, "not an http:// or https:// URL");
    env.heatctl(Some(viewer), &["history", "Office", "--csv", "--json"]).await.fails(2, "cannot be used with");

    // 6: nobody listens there
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let run = env.heatctl_with(Some(viewer), Some(&url), &["--timeout", "5s", "zones"]).await;
    run.fails(6, &format!("cannot reach the server at {url}: connection refused"));

    // --help documents the exit codes
    let help = env.heatctl_with(None, None, &["--help"]).await.ok().stdout;
    for line in ["3  authentication", "4  not found", "5  the server refused", "6  the server or the zone's device"] {
        assert!(help.contains(line), "{line} in {help}");
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_server_from_the_config_file() {
    let env = Env::start().await;
    let path = env.config_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("server = \"{}\"\ntoken = \"{}\"\n", env.url(), env.operator)).unwrap();
    set_mode(&path, 0o600);
    let me = env.heatctl_with(None, None, &["whoami", "--json"]).await.ok().json();
    assert_eq!(me["name"], "heatctl-operator");

    // The environment wins over the file.
    let me = env.heatctl_with(Some(&env.viewer), None, &["whoami", "--json"]).await.ok().json();
    assert_eq!(me["name"], "heatctl-viewer");

    // A token file readable by everyone is refused, without showing the token.
    set_mode(&path, 0o644);
    let run = env.heatctl_with(None, None, &["whoami"]).await.fails(1, "readable by everyone");
    assert!(run.stderr.contains("chmod 600"), "{run:#?}");
    // ... readable by the group: a warning, and it works.
    set_mode(&path, 0o640);
    let run = env.heatctl_with(None, None, &["whoami"]).await.ok();
    assert!(run.stderr.contains("warning") && run.stdout.starts_with("heatctl-operator (operator)"), "{run:#?}");

    // A revoked token in the file: 3, saying which file it came from.
    set_mode(&path, 0o600);
    std::fs::write(&path, format!("server = \"{}\"\ntoken = \"hst_revokedrevokedrevoked\"\n", env.url())).unwrap();
    env.heatctl_with(None, None, &["zones"]).await.fails(3, &format!("the token from {}", path.display()));

    // No config file at all, no flags: the default server (nobody there in the test: 6, naming it).
    let home = tempfile::tempdir().unwrap();
    let run = heatctl(home.path(), None, None, &["--timeout", "3s", "zones"]).await;
    if run.code == 6 {
        assert!(run.stderr.contains("http://127.0.0.1:8000"), "{run:#?}");
    }
}

/// Seconds from `from` to `to` of a history answer.
fn chrono_span(history: &Value) -> i64 {
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(history[k].as_str().unwrap()).unwrap();
    (t("to") - t("from")).num_seconds()
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
