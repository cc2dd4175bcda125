//! Zones speaking other device profiles, on the wire: the bit functions' frames and checks, and the binary's
//! `--profile` flag.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use heating_core::clock::ManualClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

const PROMPT: Duration = Duration::from_millis(500);

async fn start(profile: &str) -> SimulatorHandle {
    let mut config = SimulatorConfig { base_port: 0, ..SimulatorConfig::default() };
    let device = Arc::new(device_profile::builtin(profile).unwrap());
    for zone in &mut config.zones {
        zone.device_profile = device.clone();
    }
    let clock = Arc::new(ManualClock::new(DateTime::<Utc>::from_timestamp(1_767_600_000, 0).unwrap()));
    Simulator::bind_with_clock(&config, clock).await.unwrap().spawn()
}

/// Sends one request PDU to unit 1 and returns the answer's PDU.
async fn ask(stream: &mut TcpStream, pdu: &[u8]) -> Vec<u8> {
    let mut adu = vec![0x12, 0x34, 0, 0];
    adu.extend_from_slice(&u16::try_from(pdu.len() + 1).unwrap().to_be_bytes());
    adu.push(1);
    adu.extend_from_slice(pdu);
    stream.write_all(&adu).await.unwrap();
    let mut header = [0u8; 7];
    tokio::time::timeout(PROMPT, stream.read_exact(&mut header)).await.expect("an answer in time").unwrap();
    assert_eq!(&header[..2], &[0x12, 0x34], "the transaction id comes back");
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes([header[4], header[5]])) - 1];
    tokio::time::timeout(PROMPT, stream.read_exact(&mut answer)).await.expect("a whole answer").unwrap();
    answer
}

#[tokio::test]
async fn bit_functions_follow_the_specifications_checks() {
    let sim = start("relay-coil").await;
    let mut s = TcpStream::connect(sim.addrs()[0]).await.unwrap();
    let zone = sim.zones()[0].current();
    // FC01 coil 0 (the heater), FC02 discrete inputs 0-1 (occupancy, window closed), packed lowest bit first.
    assert_eq!(ask(&mut s, &[0x01, 0, 0, 0, 1]).await, [0x01, 1, u8::from(zone.heater_on)]);
    assert_eq!(ask(&mut s, &[0x02, 0, 0, 0, 2]).await, [0x02, 1, u8::from(zone.occupied)]);
    // Length (03), quantity (03), address (02), in that order; the connection keeps serving.
    assert_eq!(ask(&mut s, &[0x01, 0, 0, 0]).await, [0x81, 0x03], "three data bytes");
    assert_eq!(ask(&mut s, &[0x02, 0, 0, 0, 0]).await, [0x82, 0x03], "quantity 0");
    assert_eq!(ask(&mut s, &[0x02, 0, 0, 0x07, 0xD1]).await, [0x82, 0x03], "2001 bits");
    assert_eq!(ask(&mut s, &[0x02, 0, 1, 0, 2]).await, [0x82, 0x02], "past the last input");
    // The relay is read-only: no FC05 on this profile; FC15 on none.
    assert_eq!(ask(&mut s, &[0x05, 0, 0, 0xFF, 0]).await, [0x85, 0x01]);
    assert_eq!(ask(&mut s, &[0x0F, 0, 0, 0, 1, 1, 1]).await, [0x8F, 0x01]);
    // FC06 on the target (uint16 × 0.5) echoes; FC04 reads input registers, not the holding ones.
    assert_eq!(ask(&mut s, &[0x06, 0, 0, 0, 44]).await, [0x06, 0, 0, 0, 44]);
    assert_eq!(sim.zones()[0].current().target.celsius(), 22.0);
    assert_eq!(ask(&mut s, &[0x04, 0, 2, 0, 1]).await, [0x84, 0x02], "input registers 0-1 only");
}

#[tokio::test]
async fn the_prototype_serves_four_registers_with_a_truncated_temperature() {
    let sim = start("prototype-v1").await;
    let mut s = TcpStream::connect(sim.addrs()[0]).await.unwrap();
    let zone = sim.zones()[0].current();
    let answer = ask(&mut s, &[0x03, 0, 0, 0, 4]).await;
    assert_eq!(answer[..2], [0x03, 8]);
    let air = i16::from_be_bytes([answer[2], answer[3]]);
    assert_eq!(f64::from(air), (zone.air_temperature * 10.0 + 1e-9).trunc(), "int(t * 10)");
    assert_eq!(ask(&mut s, &[0x03, 0, 0, 0, 5]).await, [0x83, 0x02], "four registers");
    assert_eq!(ask(&mut s, &[0x06, 0, 1, 0, 215]).await, [0x06, 0, 1, 0, 215]);
    assert_eq!(ask(&mut s, &[0x06, 0, 1, 0x01, 0x5F]).await, [0x86, 0x03], "35.1 °C");
}

#[test]
fn the_binary_serves_the_profile_it_is_given_and_refuses_unknown_ones() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zone-simulator"))
        .args(["--base-port", "0", "--zones", "2", "--profile", "thermo-f32"])
        .env("RUST_LOG", "info")
        .env_remove("SIM_BASE_PORT")
        .env_remove("SIM_ZONES")
        .env_remove("SIM_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let ready: Vec<String> = stdout.lines().map(Result::unwrap).filter(|l| l.contains("zone ready")).take(2).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(ready.len(), 2);
    assert!(ready.iter().all(|l| l.contains("profile=thermo-f32")), "{ready:?}");

    let out = Command::new(env!("CARGO_BIN_EXE_zone-simulator"))
        .args(["--profile", "acme-3000"])
        .env_remove("SIM_PROFILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.trim(),
        "zone-simulator: --profile: unknown device profile \"acme-3000\"; known: heating-sim, prototype-v1, \
         thermo-f32, relay-coil"
    );
}
