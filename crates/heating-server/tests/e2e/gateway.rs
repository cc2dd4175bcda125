//! Zones behind a Modbus TCP gateway: the real simulator with four units behind each of two ports. The server
//! holds one connection per port, reads every zone each cycle with its unit id, writes reach the right unit, and
//! a unit nobody serves there (exception 0x0B) fails that zone only.

use std::sync::Arc;
use std::time::Duration;

use heating_core::clock::ManualClock;
use heating_server::jobs::poll_once;
use reqwest::StatusCode;
use serde_json::json;
use zone_simulator::SimulatorConfig;

use crate::helpers::{Options, monday_3am, start_with};

fn two_gateways() -> SimulatorConfig {
    let mut config = SimulatorConfig { base_port: 0, units_per_port: 4, ..SimulatorConfig::default() };
    let base = config.zones.clone();
    config.zones = (0..8)
        .map(|i| {
            let mut z = base[i % base.len()].clone();
            z.profile.name = format!("zone {i}");
            z.profile.initial_target_c = 17.0 + i as f64 * 0.5;
            z.unit_id = u8::try_from(1 + i % 4).unwrap();
            z
        })
        .collect();
    config
}

#[tokio::test]
async fn zones_behind_a_gateway_share_its_connection_and_keep_their_own_unit() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let env = start_with(Options::stepped(clock.clone()), two_gateways()).await;
    assert_eq!(env.sim.listener_addrs().len(), 2);
    // A zone registered at a unit id the gateway does not serve.
    let port = env.sim.addrs()[0].port();
    let (status, stray) = env
        .post("/zones", &json!({"name": "stray", "modbus_host": "127.0.0.1", "modbus_port": port, "modbus_unit_id": 9}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stray}");
    let stray_id = stray["id"].as_i64().unwrap();

    for cycle in 0..3 {
        let report = poll_once(&env.state).await;
        assert_eq!((report.zones, report.ok, report.failed, report.stored), (9, 8, 1, 8), "cycle {cycle}: {report:?}");
        clock.advance(chrono::Duration::seconds(5));
    }
    assert_eq!(env.state.fleet.connection_count(), 2, "one connection per gateway port");
    for i in 0..8 {
        let z = env.zone_status(i).await;
        assert_eq!(z["health"]["state"], "online", "{z}");
        let own = 17.0 + i as f64 * 0.5;
        assert_eq!(z["reading"]["target_temp"].as_f64(), Some(own), "zone {i} read at its own unit: {z}");
    }
    let (_, status) = env.get("/status").await;
    let stray = status["zones"].as_array().unwrap().iter().find(|z| z["id"] == stray_id).unwrap().clone();
    assert_eq!(stray["health"]["state"], "degraded", "{stray}");
    assert!(stray["health"]["last_error"].as_str().unwrap().contains("0x0b"), "{stray}");

    // A manual target for zone 5 (unit 2 behind the second port) reaches that unit only.
    let before: Vec<f64> = (0..8).map(|i| env.device_target(i)).collect();
    let (status, body) = env
        .post(&format!("/zones/{}/target", env.zone_ids[5]), &json!({"target_temp": 23.5, "hold_minutes": 60}))
        .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body["command"]["status"], "confirmed", "{body}");
    for (i, was) in before.iter().enumerate() {
        let expected = if i == 5 { 23.5 } else { *was };
        assert_eq!(env.device_target(i), expected, "zone {i}");
    }
    let report = poll_once(&env.state).await;
    assert_eq!((report.ok, report.failed), (8, 1), "{report:?}");
    assert!(report.duration_ms < Duration::from_millis(300).as_secs_f64() * 1000.0, "{report:?}");
    env.shutdown().await;
}

/// A gateway answering FC03 (the default map's eight registers) for units 1 and 3 and never for unit 2; it logs
/// the unit id of every request it receives, in order.
async fn half_silent_gateway() -> (u16, Arc<std::sync::Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut header = [0u8; 7];
                while stream.read_exact(&mut header).await.is_ok() {
                    let len = usize::from(u16::from_be_bytes([header[4], header[5]])).saturating_sub(1);
                    let mut pdu = vec![0u8; len];
                    if stream.read_exact(&mut pdu).await.is_err() {
                        return;
                    }
                    seen.lock().unwrap().push(header[6]);
                    if header[6] == 2 {
                        continue; // silent
                    }
                    let regs: [u16; 8] = [205, 200, 1, 0, 0, 0, 50, 1000];
                    let mut out = header[..4].to_vec();
                    out.extend_from_slice(&19u16.to_be_bytes());
                    out.extend_from_slice(&[header[6], 3, 16]);
                    for r in regs {
                        out.extend_from_slice(&r.to_be_bytes());
                    }
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, log, task)
}

/// What a silent unit costs the zones behind the same gateway: one request deadline on their connection in a
/// cycle where it is tried, none while it backs off, and their readings are never skipped: the unit that failed is
/// read after them.
#[tokio::test]
async fn a_silent_unit_behind_a_gateway_costs_its_neighbours_one_deadline_and_is_read_last() {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let opts = Options::stepped(clock.clone());
    let timeout = Duration::from_millis(opts.timeout_ms);
    let env = start_with(opts, SimulatorConfig { base_port: 0, ..SimulatorConfig::default() }).await;
    let (port, log, task) = half_silent_gateway().await;
    for unit in 1..=3 {
        let body = json!({"name": format!("behind gateway {unit}"), "modbus_host": "127.0.0.1", "modbus_port": port,
                          "modbus_unit_id": unit});
        let (status, created) = env.post("/zones", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    // Unit 2 is tried between 1 and 3 (zone order): the cycle takes one deadline, 1 and 3 are read.
    let started = std::time::Instant::now();
    let report = poll_once(&env.state).await;
    let took = started.elapsed();
    assert_eq!((report.zones, report.ok, report.failed), (8, 7, 1), "{report:?}");
    assert!(took >= timeout && took < timeout * 2, "one deadline: {took:?}");
    assert_eq!(*log.lock().unwrap(), [1, 2, 3]);
    // Backing off: not tried, no deadline.
    let started = std::time::Instant::now();
    let report = poll_once(&env.state).await;
    assert_eq!((report.ok, report.failed, report.skipped), (7, 0, 1), "{report:?}");
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    // Backoff over (250 ms, then 500): tried again, after its neighbours.
    tokio::time::sleep(Duration::from_millis(300)).await;
    log.lock().unwrap().clear();
    let report = poll_once(&env.state).await;
    assert_eq!((report.ok, report.failed), (7, 1), "{report:?}");
    assert_eq!(*log.lock().unwrap(), [1, 3, 2], "the unit that failed is read last");
    task.abort();
    env.shutdown().await;
}
