use super::*;

fn cli(args: &[&str]) -> Result<SimulatorConfig, String> {
    let cli = Cli::try_parse_from(std::iter::once("zone-simulator").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    SimulatorConfig::from_cli(&cli).map_err(|e| e.0)
}

#[test]
fn defaults_are_the_five_zones_on_5020() {
    let c = cli(&[]).unwrap();
    assert_eq!(c.zones.len(), 5);
    assert_eq!(c.port_of(0).unwrap(), 5020);
    assert_eq!(c.port_of(4).unwrap(), 5024);
    assert_eq!(c.weather.seed, DEFAULT_SEED);
}

#[test]
fn many_zones_get_distinct_names_and_ports() {
    let c = cli(&["--zones", "1000", "--base-port", "20000"]).unwrap();
    assert_eq!(c.zones.len(), 1000);
    assert_eq!(c.port_of(999).unwrap(), 20999);
    assert!(cli(&["--zones", "100", "--base-port", "65500"]).unwrap_err().contains("above 65535"));
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    assert!(cli(&["--time-scale", "0"]).unwrap_err().contains("time scale"));
    assert!(cli(&["--step=-1"]).unwrap_err().contains("step"));
    assert!(cli(&["--zones", "0"]).is_err());
    assert!(cli(&["--bind", "nowhere"]).is_err());
    assert!(cli(&["--config", "/does/not/exist.toml"]).unwrap_err().contains("cannot read config file"));
}

#[test]
fn connection_limits_from_flags_and_file() {
    let c = cli(&[]).unwrap();
    assert_eq!(c.connections, ConnectionLimits::default());
    assert_eq!(
        (c.connections.idle_timeout, c.connections.frame_timeout, c.connections.max_connections),
        (Duration::from_secs(60), Duration::from_secs(2), 16)
    );
    let c = cli(&["--idle-timeout-secs", "5", "--frame-timeout-ms", "250", "--max-connections-per-zone", "2"]).unwrap();
    assert_eq!(
        c.connections,
        ConnectionLimits {
            idle_timeout: Duration::from_secs(5),
            frame_timeout: Duration::from_millis(250),
            max_connections: 2
        }
    );
    for (flag, value) in [
        ("--idle-timeout-secs", "0"),
        ("--idle-timeout-secs", "86401"),
        ("--frame-timeout-ms", "9"),
        ("--max-connections-per-zone", "0"),
        ("--max-connections-per-zone", "many"),
    ] {
        let e = cli(&[flag, value]).unwrap_err();
        assert!(e.contains(flag), "{flag} {value}: {e}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limits.toml");
    std::fs::write(&path, "idle_timeout_secs = 30\nframe_timeout_ms = 500\nmax_connections_per_zone = 4\n").unwrap();
    let file = path.to_str().unwrap();
    let c = cli(&["--config", file]).unwrap().connections;
    assert_eq!(
        (c.idle_timeout, c.frame_timeout, c.max_connections),
        (Duration::from_secs(30), Duration::from_millis(500), 4)
    );
    assert_eq!(cli(&["--config", file, "--max-connections-per-zone", "8"]).unwrap().connections.max_connections, 8);
    for (text, key) in [
        ("idle_timeout_secs = 0\n", "idle_timeout_secs"),
        ("frame_timeout_ms = 60001\n", "frame_timeout_ms"),
        ("max_connections_per_zone = 0\n", "max_connections_per_zone"),
    ] {
        std::fs::write(&path, text).unwrap();
        let e = cli(&["--config", file]).unwrap_err();
        assert!(e.contains(key) && e.contains("must be from"), "{text:?}: {e}");
    }
    let zero = SimulatorConfig {
        connections: ConnectionLimits { max_connections: 0, ..ConnectionLimits::default() },
        ..SimulatorConfig::default()
    };
    assert!(zero.validate().unwrap_err().0.contains("above zero"));
}

#[test]
fn config_files_in_toml_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("zones.toml");
    std::fs::write(
        &toml_path,
        r#"
seed = 7
time_scale = 60.0
[weather]
utc_offset_minutes = 60
[[zones]]
name = "Lab"
port = 6000
unit_id = 3
capacitance_mj_per_k = 3.0
ua_w_per_k = 30.0
heater_power_w = 1500.0
schedule = ["mon-fri 08:00-18:00"]
"#,
    )
    .unwrap();
    let c = cli(&["--config", toml_path.to_str().unwrap(), "--seed", "9"]).unwrap();
    assert_eq!(c.zones.len(), 1);
    assert_eq!((c.zones[0].port, c.zones[0].unit_id), (Some(6000), 3));
    assert_eq!(c.weather.seed, 9, "the flag wins over the file");
    assert_eq!(c.time_scale, 60.0);
    assert_eq!(c.weather.utc_offset_minutes, 60);

    let json_path = dir.path().join("zones.json");
    std::fs::write(
        &json_path,
        r#"{"zones":[{"name":"A","capacitance_mj_per_k":1,"ua_w_per_k":10,"heater_power_w":500,"schedule":[]}]}"#,
    )
    .unwrap();
    assert_eq!(cli(&["--config", json_path.to_str().unwrap()]).unwrap().zones[0].profile.name, "A");
}

#[test]
fn config_mistakes_name_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let cases = [
        (
            "[[zones]]\nname = \"A\"\ncapacitance_mj_per_k = 1.0\nua_w_per_k = 10.0\nheater_power_w = 500.0\nschedule = [\"mon-fri 8-9\"]\n",
            "zones[0]",
        ),
        (
            "[[zones]]\nname = \"A\"\ncapacitance_mj_per_k = -1.0\nua_w_per_k = 10.0\nheater_power_w = 500.0\nschedule = []\n",
            "capacitance",
        ),
        ("[[zones]]\nname = \"A\"\ncapacity = 1.0\n", "unknown field"),
        ("seeds = 3\n", "unknown field"),
        ("time_scale = -2.0\n", "time_scale"),
        ("this is not toml", "bad.toml"),
    ];
    for (text, expected) in cases {
        std::fs::write(&path, text).unwrap();
        let e = cli(&["--config", path.to_str().unwrap()]).unwrap_err();
        assert!(e.contains(expected), "{text:?} gave {e:?}");
    }
}

#[test]
fn device_profiles_from_the_flag_the_file_or_a_file_of_ones_own() {
    let c = cli(&[]).unwrap();
    assert!(c.zones.iter().all(|z| z.device_profile.name == "heating-sim"), "the default");
    let c = cli(&["--profile", "thermo-f32", "--zones", "7"]).unwrap();
    assert!(c.zones.iter().all(|z| z.device_profile.name == "thermo-f32"));
    let e = cli(&["--profile", "acme"]).unwrap_err();
    assert_eq!(
        e,
        "--profile: unknown device profile \"acme\"; known: heating-sim, prototype-v1, thermo-f32, relay-coil"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zones.toml");
    let zone = "capacitance_mj_per_k = 1.0\nua_w_per_k = 10.0\nheater_power_w = 500.0\nschedule = []\n";
    std::fs::write(
        &path,
        format!("[[zones]]\nname = \"A\"\nprofile = \"relay-coil\"\n{zone}[[zones]]\nname = \"B\"\n{zone}"),
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let c = cli(&["--config", file, "--profile", "prototype-v1"]).unwrap();
    let names: Vec<_> = c.zones.iter().map(|z| z.device_profile.name.as_str()).collect();
    assert_eq!(names, ["relay-coil", "prototype-v1"], "a zone's own profile wins over the flag");

    std::fs::write(&path, format!("[[zones]]\nname = \"A\"\nprofile = \"nope\"\n{zone}")).unwrap();
    let e = cli(&["--config", file]).unwrap_err();
    assert!(e.starts_with("zones[0]: profile: unknown device profile \"nope\"; known: heating-sim"), "{e}");
    std::fs::write(&path, format!("[[zones]]\nname = \"A\"\nprofile = 3\n{zone}")).unwrap();
    assert!(cli(&["--config", file]).unwrap_err().contains("zones[0]: profile: expected a profile name"));

    let own = dir.path().join("own.toml");
    let text = device_profile::builtin_source("relay-coil").unwrap().replace("name = \"relay-coil\"", "name = \"own\"");
    std::fs::write(&own, text).unwrap();
    std::fs::write(&path, format!("[[zones]]\nname = \"A\"\nprofile = \"own\"\n{zone}[[zones]]\nname = \"B\"\n{zone}"))
        .unwrap();
    let c = cli(&["--config", file, "--profile-file", own.to_str().unwrap()]).unwrap();
    assert!(c.zones.iter().all(|z| z.device_profile.name == "own"), "named, and the default");
    assert!(cli(&["--profile-file", own.to_str().unwrap(), "--profile", "relay-coil"]).is_err(), "one or the other");
    std::fs::write(&own, "format = 1\nname = \"own\"\n").unwrap();
    let e = cli(&["--profile-file", own.to_str().unwrap()]).unwrap_err();
    assert!(e.starts_with("--profile-file ") && e.contains("missing field"), "{e}");
    let e = cli(&["--profile-file", "/does/not/exist.toml"]).unwrap_err();
    assert!(e.starts_with("--profile-file: cannot read /does/not/exist.toml"), "{e}");
}

#[test]
fn units_per_port_lays_zones_out_behind_gateways() {
    let c = cli(&["--zones", "250", "--base-port", "20000", "--units-per-port", "100"]).unwrap();
    assert_eq!(c.units_per_port, 100);
    let layout = |i: usize| (c.port_of(i).unwrap(), c.zones[i].unit_id);
    assert_eq!(layout(0), (20000, 1));
    assert_eq!(layout(99), (20000, 100));
    assert_eq!(layout(100), (20001, 1));
    assert_eq!(layout(249), (20002, 50));
    assert_eq!(c.listener_of(0).unwrap(), c.listener_of(99).unwrap());
    assert_ne!(c.listener_of(99).unwrap(), c.listener_of(100).unwrap());
    // Ephemeral ports: one per group of units.
    let c = cli(&["--zones", "10", "--base-port", "0", "--units-per-port", "4"]).unwrap();
    assert_eq!(c.listener_of(3).unwrap(), Listener::Group(0));
    assert_eq!(c.listener_of(4).unwrap(), Listener::Group(1));
    // The default is one zone per port, unit id 1, as before.
    let c = cli(&["--zones", "3"]).unwrap();
    assert_eq!((c.port_of(2).unwrap(), c.zones[2].unit_id), (5022, 1));
    assert!(cli(&["--units-per-port", "0"]).is_err());
    assert!(cli(&["--units-per-port", "248"]).is_err());
    // 60,000 zones fit below port 65535 behind gateways.
    let c = cli(&["--zones", "60000", "--base-port", "20000", "--units-per-port", "247"]).unwrap();
    assert_eq!(c.port_of(59_999).unwrap(), 20000 + 59_999 / 247);
}

#[test]
fn zones_of_a_file_sharing_a_port_need_distinct_unit_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    let zone = |name: &str, unit: u8| {
        format!(
            "[[zones]]\nname = \"{name}\"\nport = 6100\nunit_id = {unit}\ncapacitance_mj_per_k = 3.0\nua_w_per_k = 30.0\n\
             heater_power_w = 1500.0\nschedule = []\n"
        )
    };
    std::fs::write(&path, format!("{}{}", zone("A", 1), zone("B", 2))).unwrap();
    let c = cli(&["--config", path.to_str().unwrap()]).unwrap();
    assert_eq!(c.listener_of(0).unwrap(), c.listener_of(1).unwrap(), "one listener for both");
    std::fs::write(&path, format!("{}{}", zone("A", 1), zone("B", 1))).unwrap();
    let err = cli(&["--config", path.to_str().unwrap()]).unwrap_err();
    assert!(err.contains("\"A\" and \"B\" both listen on port 6100 with unit id 1"), "{err}");
    std::fs::write(&path, format!("units_per_port = 0\n{}", zone("A", 1))).unwrap();
    let err = cli(&["--config", path.to_str().unwrap()]).unwrap_err();
    assert!(err.contains("units_per_port must be from 1 to 247"), "{err}");
}
