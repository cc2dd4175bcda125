//! `heating-server probe`: a table of every point against a real simulator; exit status 1 when a required point has
//! no value; a startup error naming the file and field for an invalid `DEVICE_PROFILES_DIR`.

use crate::access_binary::{binary, output};
use crate::helpers::sqlite_url;

#[tokio::test]
async fn probe_prints_every_point_and_fails_when_a_required_one_does() {
    let sim = zone_simulator::Simulator::bind(&zone_simulator::SimulatorConfig {
        base_port: 0,
        ..zone_simulator::SimulatorConfig::default()
    })
    .await
    .unwrap()
    .spawn();
    let port = sim.addrs()[0].port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("heating.db");
    let url = sqlite_url(&db);

    let mut cmd = binary(dir.path(), &url);
    cmd.args(["probe", "--host", "127.0.0.1", "--port", &port, "--profile", "heating-sim"]);
    let (ok, stdout, stderr) = output(cmd).await;
    assert!(ok, "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("profile heating-sim at 127.0.0.1:"), "{stdout}");
    assert!(lines[1].starts_with("point") && lines[1].contains("location") && lines[1].contains("raw"), "{stdout}");
    let air = lines.iter().find(|l| l.starts_with("air_temperature")).unwrap();
    assert!(air.contains("holding 0 int16") && air.contains("holding 0 [0x"), "{air}");
    assert_eq!(lines.len(), 2 + 7 + 1, "{stdout}");
    assert_eq!(*lines.last().unwrap(), "every point fits");
    assert!(!db.exists(), "no database is opened");

    // The simulator's map read as relay-coil: no coils or discrete inputs (exceptions; its input registers mirror
    // the holding ones), and holding 0 (the air temperature in tenths) read as a target in half degrees is far
    // outside 5..=30 °C.
    let mut cmd = binary(dir.path(), &url);
    cmd.args(["probe", "--host", "127.0.0.1", "--port", &port, "--profile", "relay-coil"]);
    let (ok, stdout, stderr) = output(cmd).await;
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("error: ") && stdout.ends_with("some points do not fit\n"), "{stdout}");
    assert!(stderr.contains("required point(s) without a value: target\n"), "{stderr}");

    let mut cmd = binary(dir.path(), &url);
    cmd.args(["probe", "--host", "127.0.0.1", "--port", &port, "--profile", "nope"]);
    let (ok, _, stderr) = output(cmd).await;
    assert!(!ok && stderr.contains("--profile: unknown device profile \"nope\" (known: heating-sim,"), "{stderr}");

    // An invalid folder profile stops the server's start, naming the file and the field.
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(profiles.join("bad.toml"), "format = 1\nname = \"bad\"\nversion = 1\ndescription = \"\"\n").unwrap();
    let mut cmd = binary(dir.path(), &url);
    cmd.args(["--bind", "127.0.0.1:0"]).env("DEVICE_PROFILES_DIR", &profiles);
    let (ok, _, stderr) = output(cmd).await;
    assert!(!ok, "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("heating-server: error: DEVICE_PROFILES_DIR: ") && last.contains("bad.toml: "), "{last}");
}
