//! The `zone-simulator` binary: start-up on ephemeral ports, readiness lines, clean stop, and clear refusals.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use tokio_modbus::client::{Reader, tcp};
use tokio_modbus::prelude::Slave;

fn simulator(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zone-simulator"));
    cmd.args(args).env("RUST_LOG", "info").env_remove("SIM_BASE_PORT").env_remove("SIM_ZONES");
    cmd
}

/// Kills the child if a test fails half-way.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and waits for one "zone ready" line per zone, returning the announced addresses.
fn start(args: &[&str], zones: usize) -> (Running, Vec<SocketAddr>) {
    let mut child = Running(simulator(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut addrs = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if line.contains("zone ready") {
            let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap();
            addrs.push(addr.parse().unwrap());
            if addrs.len() == zones {
                break;
            }
        }
    }
    assert_eq!(addrs.len(), zones, "the simulator announced every zone");
    (child, addrs)
}

#[tokio::test]
async fn starts_answers_and_stops_on_sigterm() {
    let (mut child, addrs) = start(&["--base-port", "0", "--zones", "7", "--seed", "3", "--time-scale", "60"], 7);
    for addr in &addrs {
        let mut ctx = tcp::connect_slave(*addr, Slave(1)).await.unwrap();
        let regs = ctx.read_holding_registers(0, 8).await.unwrap().unwrap();
        assert_eq!(regs[1], 200);
    }
    let status = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
}

#[test]
fn bad_flags_and_config_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("zones.toml");
    std::fs::write(&bad, "[[zones]]\nname = \"A\"\nheater = 3\n").unwrap();
    let cases: [(Vec<&str>, &str); 7] = [
        (vec!["--time-scale", "fast"], "time-scale"),
        (vec!["--max-connections-per-zone", "0"], "max-connections-per-zone"),
        (vec!["--frame-timeout-ms", "1"], "frame-timeout-ms"),
        (vec!["--zones", "0"], "zones"),
        (vec!["--no-such-flag"], "no-such-flag"),
        (vec!["--config", bad.to_str().unwrap()], "zones[0]"),
        (vec!["--config", "/nonexistent/zones.toml"], "cannot read config file"),
    ];
    for (args, expected) in cases {
        let out = simulator(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(stderr.contains(expected), "{args:?}: stderr {stderr:?} should mention {expected:?}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
}

#[test]
fn a_taken_port_is_reported_by_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = simulator(&["--base-port", &port, "--zones", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("Living Room"), "{stderr}");
}
