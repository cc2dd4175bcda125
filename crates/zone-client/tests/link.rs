//! `ZoneLink` against the real simulator over loopback TCP.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use heating_core::clock::ManualClock;
use heating_core::units::Setpoint;
use zone_client::{Endpoint, HealthState, LinkConfig, ZoneError, ZoneLink};
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z").unwrap().to_utc()
}

async fn simulator() -> SimulatorHandle {
    let config = SimulatorConfig { base_port: 0, ..SimulatorConfig::default() };
    Simulator::bind_with_clock(&config, Arc::new(ManualClock::new(t0()))).await.unwrap().spawn()
}

fn fast() -> LinkConfig {
    LinkConfig {
        request_timeout: Duration::from_millis(300),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
    }
}

fn link(sim: &SimulatorHandle, zone: usize, unit_id: u8) -> ZoneLink {
    let addr = sim.addrs()[zone];
    ZoneLink::new(Endpoint { host: addr.ip().to_string(), port: addr.port(), unit_id }, fast())
}

#[tokio::test]
async fn reads_the_whole_map_over_one_connection() {
    let sim = simulator().await;
    let mut link = link(&sim, 0, 1);
    assert_eq!(link.health().state, HealthState::Unknown);
    let snap = link.read(t0()).await.unwrap();
    assert_eq!(snap.target.celsius(), 20.0);
    assert_eq!(snap.heater_power_w, 2500);
    assert!(link.is_connected());
    for _ in 0..20 {
        link.read(t0()).await.unwrap();
        assert!(link.is_connected(), "the connection is kept between requests");
    }
    let h = link.health();
    assert_eq!((h.state, h.last_seen, h.consecutive_failures), (HealthState::Online, Some(t0()), 0));
}

#[tokio::test]
async fn a_connection_the_device_closed_when_idle_is_replaced_without_a_failure() {
    let mut config = SimulatorConfig { base_port: 0, ..SimulatorConfig::default() };
    config.connections.idle_timeout = Duration::from_millis(200);
    let sim = Simulator::bind_with_clock(&config, Arc::new(ManualClock::new(t0()))).await.unwrap().spawn();
    let mut link = link(&sim, 0, 1);
    link.read(t0()).await.unwrap();
    // Past the device's idle timeout: it has closed our connection.
    tokio::time::sleep(Duration::from_millis(600)).await;
    link.read(t0()).await.expect("read again on a fresh connection");
    let target = Setpoint::from_celsius(21.5).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(link.write_target(target, t0()).await.unwrap().target, target, "a write too");
    let h = link.health();
    assert_eq!((h.state, h.consecutive_failures, h.last_error), (HealthState::Online, 0, None));
}

#[tokio::test]
async fn writes_are_confirmed_by_reading_back() {
    let sim = simulator().await;
    let mut link = link(&sim, 2, 1);
    let target = Setpoint::from_celsius(22.5).unwrap();
    let snap = link.write_target(target, t0()).await.unwrap();
    assert_eq!(snap.target, target);
    assert_eq!(sim.zones()[2].current().target, target, "the simulator holds it");
}

#[tokio::test]
async fn an_exception_is_not_unreachability() {
    let sim = simulator().await;
    let mut wrong_unit = link(&sim, 1, 9);
    let err = wrong_unit.read(t0()).await.unwrap_err();
    assert!(matches!(err, ZoneError::Exception { code: 0x0B, .. }), "{err:?}");
    assert!(err.device_answered());
    let h = wrong_unit.health();
    assert_eq!(h.state, HealthState::Degraded, "answered, so not offline");
    assert_eq!(h.last_seen, Some(t0()));
    assert!(wrong_unit.is_connected(), "an exception does not cost the connection");
}

#[tokio::test]
async fn a_vanished_zone_goes_offline_and_comes_back() {
    let sim = simulator().await;
    let mut link = link(&sim, 4, 1);
    link.read(t0()).await.unwrap();
    sim.stop_zone(4);
    let e1 = link.read(t0()).await.unwrap_err();
    assert!(!e1.device_answered(), "{e1:?}");
    assert_eq!(link.health().state, HealthState::Degraded);
    // Within the backoff, no request is sent and the caller is not stalled.
    let started = tokio::time::Instant::now();
    assert!(matches!(link.read(t0()).await, Err(ZoneError::BackingOff(..))));
    assert!(started.elapsed() < Duration::from_millis(20));
    tokio::time::sleep(fast().backoff_initial).await;
    link.read(t0()).await.unwrap_err();
    assert_eq!(link.health().state, HealthState::Offline);
    assert!(link.health().last_error.is_some());

    sim.restart_zone(4).await.unwrap();
    let deadline = tokio::time::Instant::now() + fast().backoff_max * 2;
    loop {
        match link.read(t0()).await {
            Ok(_) => break,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "not back within the backoff cap: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(link.health().state, HealthState::Online);
}

#[tokio::test]
async fn a_silent_device_costs_one_timeout_not_more() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut link = ZoneLink::new(Endpoint { host: "127.0.0.1".into(), port, unit_id: 1 }, fast());
    let started = tokio::time::Instant::now();
    let err = link.read(t0()).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, ZoneError::Timeout(fast().request_timeout));
    assert!(took >= fast().request_timeout && took < fast().request_timeout * 2, "{took:?}");
    assert!(!link.is_connected(), "a timed-out connection is dropped");
    holder.abort();
}

#[tokio::test]
async fn nobody_listening_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut link = ZoneLink::new(Endpoint { host: "localhost".into(), port, unit_id: 1 }, fast());
    assert!(matches!(link.read(t0()).await, Err(ZoneError::Unreachable(_))));
}
