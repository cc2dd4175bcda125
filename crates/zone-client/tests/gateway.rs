//! Links sharing one connection to a Modbus TCP gateway: the real simulator with several units behind one port,
//! and a fake gateway whose one unit never answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use heating_core::clock::ManualClock;
use heating_core::units::Setpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zone_client::{Connection, Endpoint, HealthState, LinkConfig, ZoneError, ZoneLink, default_profile};
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z").unwrap().to_utc()
}

fn fast() -> LinkConfig {
    LinkConfig {
        request_timeout: Duration::from_millis(300),
        backoff_initial: Duration::from_millis(400),
        backoff_max: Duration::from_millis(1600),
    }
}

/// Eight zones, four behind each of two ports.
async fn gateways() -> SimulatorHandle {
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
    Simulator::bind_with_clock(&config, Arc::new(ManualClock::new(t0()))).await.unwrap().spawn()
}

fn on(connection: &Connection, port: u16, unit_id: u8) -> ZoneLink {
    let endpoint = Endpoint { host: "127.0.0.1".into(), port, unit_id };
    ZoneLink::on_connection(endpoint, fast(), default_profile(), connection.clone())
}

#[tokio::test]
async fn zones_behind_one_port_share_a_connection_each_with_its_unit_id() {
    let sim = gateways().await;
    assert_eq!(sim.listener_addrs().len(), 2, "two ports for eight zones");
    assert_eq!(sim.addrs()[0], sim.addrs()[3]);
    assert_ne!(sim.addrs()[3], sim.addrs()[4]);
    let port = sim.addrs()[0].port();
    let shared = Connection::new();
    let mut links: Vec<ZoneLink> = (1..=4).map(|unit| on(&shared, port, unit)).collect();
    assert_eq!(shared.holders(), 5);
    for (i, link) in links.iter_mut().enumerate() {
        let snap = link.read(t0()).await.unwrap();
        assert_eq!(snap.target.celsius(), 17.0 + i as f64 * 0.5, "unit {} reads zone {i}", i + 1);
        assert_eq!(link.health().state, HealthState::Online);
    }
    // A write reaches its own unit only.
    let before: Vec<f64> = sim.zones().iter().map(|z| z.current().target.celsius()).collect();
    links[2].write_target(Setpoint::from_celsius(23.5).unwrap(), t0()).await.unwrap();
    for (i, zone) in sim.zones().iter().enumerate() {
        let expected = if i == 2 { 23.5 } else { before[i] };
        assert_eq!(zone.current().target.celsius(), expected, "zone {i}");
    }
    // A unit nobody serves on that port: exception 0x0B, for that zone only; the connection stays.
    let mut stray = on(&shared, port, 9);
    let err = stray.read(t0()).await.unwrap_err();
    assert!(matches!(err, ZoneError::Exception { code: 0x0B, .. }), "{err:?}");
    assert_eq!(stray.health().state, HealthState::Degraded);
    assert!(shared.is_connected(), "an exception does not drop the shared connection");
    links[0].read(t0()).await.unwrap();
    assert_eq!(links[0].health().state, HealthState::Online);
    assert_eq!(links[0].health().consecutive_failures, 0);
    // Closed (an instance gave these zones up): the next request connects afresh.
    shared.close().await;
    assert!(!shared.is_connected());
    links[1].read(t0()).await.unwrap();
    assert!(shared.is_connected());
}

/// A gateway answering FC03 for unit 1 (eight registers of the default map) and never for unit 2. Counts the
/// connections it accepted.
async fn half_silent_gateway() -> (u16, Arc<std::sync::atomic::AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut header = [0u8; 7];
                loop {
                    if stream.read_exact(&mut header).await.is_err() {
                        return;
                    }
                    let len = usize::from(u16::from_be_bytes([header[4], header[5]])) - 1;
                    let mut pdu = vec![0u8; len];
                    if stream.read_exact(&mut pdu).await.is_err() {
                        return;
                    }
                    if header[6] != 1 {
                        continue; // silent
                    }
                    // 20.5 °C air, 20.0 target, occupied, heater off, energy 0, 5.0 °C outdoor, 1000 W.
                    let regs: [u16; 8] = [205, 200, 1, 0, 0, 0, 50, 1000];
                    let mut out = Vec::new();
                    out.extend_from_slice(&header[..4]);
                    out.extend_from_slice(&u16::to_be_bytes(3 + 16));
                    out.extend_from_slice(&[1, 3, 16]);
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
    (port, accepted, task)
}

#[tokio::test]
async fn a_silent_unit_costs_its_neighbours_one_deadline_and_no_backoff() {
    let (port, accepted, task) = half_silent_gateway().await;
    let shared = Connection::new();
    let mut good = on(&shared, port, 1);
    let mut silent = on(&shared, port, 2);
    good.read(t0()).await.unwrap();
    let started = Instant::now();
    let err = silent.read(t0()).await.unwrap_err();
    assert!(matches!(err, ZoneError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(600), "one deadline: {:?}", started.elapsed());
    assert!(!shared.is_connected(), "a timeout drops the shared connection (a late answer would mismatch)");
    // The neighbour reads at once on a fresh connection: no backoff of the connection for a unit's silence.
    let started = Instant::now();
    good.read(t0()).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(good.health().state, HealthState::Online);
    // The silent zone itself backs off: it is not tried again before its backoff ends, so it costs its gateway a
    // deadline only once per backoff period.
    let err = silent.read(t0()).await.unwrap_err();
    assert!(matches!(err, ZoneError::BackingOff(..)), "{err:?}");
    assert_eq!(silent.health().consecutive_failures, 1);
    task.abort();
}

#[tokio::test]
async fn a_gateway_that_is_down_fails_its_zones_without_a_connect_each() {
    // A port nobody listens on: the first zone's connect fails, the others fail at once during the backoff.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let shared = Connection::new();
    let mut links: Vec<ZoneLink> = (1..=3).map(|unit| on(&shared, port, unit)).collect();
    for link in &mut links {
        let err = link.read(t0()).await.unwrap_err();
        assert!(matches!(err, ZoneError::Unreachable(_)), "{err:?}");
        assert_eq!(link.health().consecutive_failures, 1);
    }
    let err = links[1].read(t0()).await.unwrap_err();
    assert!(matches!(err, ZoneError::BackingOff(..)), "each zone backs off too: {err:?}");
    let last = links[2].health().last_error.unwrap();
    assert!(last.contains("retried in"), "{last}");
}
