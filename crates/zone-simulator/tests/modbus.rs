//! The register map and its error rules, checked over real Modbus TCP on loopback against the simulator library.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use heating_core::clock::{Clock, ManualClock};
use heating_core::registers::ZoneRegisters;
use heating_core::units::encode_deci_celsius;
use tokio_modbus::client::{Context, Reader, Writer, tcp};
use tokio_modbus::prelude::{ExceptionCode, Slave, SlaveContext};
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

fn monday() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().to_utc()
}

/// The five default zones on ephemeral ports, on a clock the test moves by hand.
async fn start() -> (SimulatorHandle, Arc<ManualClock>) {
    let config = SimulatorConfig { base_port: 0, ..SimulatorConfig::default() };
    let clock = Arc::new(ManualClock::new(monday()));
    let sim = Simulator::bind_with_clock(&config, clock.clone()).await.unwrap();
    (sim.spawn(), clock)
}

async fn connect(addr: SocketAddr) -> Context {
    tcp::connect_slave(addr, Slave(1)).await.unwrap()
}

async fn read(ctx: &mut Context) -> Vec<u16> {
    ctx.read_holding_registers(0, 8).await.unwrap().unwrap()
}

#[tokio::test]
async fn every_register_matches_the_zone_and_fc03_equals_fc04() {
    let (sim, clock) = start().await;
    // Six simulated days: the living room's heater has used more than 65,535 Wh, so the high word is in use.
    clock.advance(Duration::days(6) + Duration::minutes(17));
    for (i, addr) in sim.addrs().iter().enumerate() {
        let mut ctx = connect(*addr).await;
        let holding = read(&mut ctx).await;
        let input = ctx.read_input_registers(0, 8).await.unwrap().unwrap();
        assert_eq!(holding, input, "FC03 and FC04 give the same values");
        let zone = sim.zones()[i].current();
        assert_eq!(holding[0], encode_deci_celsius(zone.air_temperature) as u16, "addr 0 air temperature");
        assert_eq!(holding[1], 200, "addr 1 initial target 20.0 °C");
        assert_eq!(holding[2], u16::from(zone.occupied), "addr 2 occupancy");
        assert_eq!(holding[3], u16::from(zone.heater_on), "addr 3 heater");
        assert_eq!((u32::from(holding[4]) << 16) | u32::from(holding[5]), zone.energy_wh, "addr 4-5 energy");
        assert_eq!(holding[6], encode_deci_celsius(zone.outdoor_temperature) as u16, "addr 6 outdoor");
        assert_eq!(holding[7], [2500, 1200, 1500, 1000, 1000][i], "addr 7 heater power");
        // Single-register reads agree with the block.
        for a in 0..8u16 {
            assert_eq!(ctx.read_holding_registers(a, 1).await.unwrap().unwrap(), vec![holding[usize::from(a)]]);
        }
        let decoded = ZoneRegisters::decode(&holding).unwrap();
        assert!((-10.0..40.0).contains(&decoded.air_temperature));
    }
    let mut living = connect(sim.addrs()[0]).await;
    let regs = read(&mut living).await;
    assert!(regs[4] >= 1, "energy counter past 65,535 Wh uses the high word: {regs:?}");
}

#[tokio::test]
async fn air_temperature_is_rounded_not_truncated() {
    let (sim, clock) = start().await;
    let mut ctx = connect(sim.addrs()[1]).await;
    let mut seen_round_up = false;
    for _ in 0..200 {
        clock.advance(Duration::minutes(7));
        let t = sim.zones()[1].current().air_temperature;
        let reg = read(&mut ctx).await[0] as i16;
        assert_eq!(reg, (t * 10.0).round() as i16);
        seen_round_up |= (t * 10.0).round() > (t * 10.0).trunc() && t > 0.0;
    }
    assert!(seen_round_up, "the trace includes values that truncation would get wrong");
}

#[tokio::test]
async fn a_written_target_stays_in_force() {
    let (sim, clock) = start().await;
    let mut ctx = connect(sim.addrs()[3]).await;
    ctx.write_single_register(1, 235).await.unwrap().unwrap();
    assert_eq!(read(&mut ctx).await[1], 235);
    for _ in 0..50 {
        // Each advance runs hundreds of 10 s physics steps.
        clock.advance(Duration::hours(2));
        assert_eq!(read(&mut ctx).await[1], 235, "the lost-write bug of the prototype");
    }
    let t = sim.zones()[3].current().air_temperature;
    assert!((t - 23.5).abs() < 0.4, "the thermostat follows the written target: {t}");
    // FC16 writes the same register.
    ctx.write_multiple_registers(1, &[190]).await.unwrap().unwrap();
    clock.advance(Duration::hours(1));
    assert_eq!(read(&mut ctx).await[1], 190);
}

async fn expect_exception<T: std::fmt::Debug>(result: tokio_modbus::Result<T>, code: ExceptionCode, what: &str) {
    match result {
        Ok(Err(e)) => assert_eq!(e, code, "{what}"),
        other => panic!("{what}: expected exception {code:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_are_exceptions_and_change_nothing() {
    let (sim, _clock) = start().await;
    let mut ctx = connect(sim.addrs()[0]).await;
    let before = read(&mut ctx).await;

    expect_exception(ctx.read_holding_registers(8, 1).await, ExceptionCode::IllegalDataAddress, "read addr 8").await;
    expect_exception(ctx.read_holding_registers(6, 3).await, ExceptionCode::IllegalDataAddress, "read 6..9").await;
    expect_exception(ctx.read_input_registers(0, 9).await, ExceptionCode::IllegalDataAddress, "FC04 0..9").await;
    expect_exception(ctx.read_holding_registers(u16::MAX, 2).await, ExceptionCode::IllegalDataAddress, "wrap").await;

    expect_exception(ctx.write_single_register(0, 250).await, ExceptionCode::IllegalDataAddress, "FC06 addr 0").await;
    expect_exception(ctx.write_single_register(2, 1).await, ExceptionCode::IllegalDataAddress, "FC06 addr 2").await;
    expect_exception(ctx.write_single_register(8, 1).await, ExceptionCode::IllegalDataAddress, "FC06 addr 8").await;
    expect_exception(
        ctx.write_multiple_registers(0, &[250, 215]).await,
        ExceptionCode::IllegalDataAddress,
        "FC16 spanning 0-1",
    )
    .await;
    expect_exception(
        ctx.write_multiple_registers(1, &[215, 1]).await,
        ExceptionCode::IllegalDataAddress,
        "FC16 spanning 1-2",
    )
    .await;
    expect_exception(ctx.write_multiple_registers(7, &[1, 1]).await, ExceptionCode::IllegalDataAddress, "7-8").await;

    expect_exception(ctx.write_single_register(1, 351).await, ExceptionCode::IllegalDataValue, "351").await;
    expect_exception(ctx.write_single_register(1, 49).await, ExceptionCode::IllegalDataValue, "49").await;
    expect_exception(ctx.write_single_register(1, 0xFFFF).await, ExceptionCode::IllegalDataValue, "-0.1 °C").await;
    expect_exception(ctx.write_multiple_registers(1, &[400]).await, ExceptionCode::IllegalDataValue, "FC16 400").await;

    expect_exception(ctx.read_coils(0, 1).await, ExceptionCode::IllegalFunction, "FC01").await;
    expect_exception(ctx.read_discrete_inputs(0, 1).await, ExceptionCode::IllegalFunction, "FC02").await;
    expect_exception(ctx.write_single_coil(0, true).await, ExceptionCode::IllegalFunction, "FC05").await;
    expect_exception(ctx.read_write_multiple_registers(0, 1, 1, &[215]).await, ExceptionCode::IllegalFunction, "FC23")
        .await;

    ctx.set_slave(Slave(2));
    expect_exception(ctx.read_holding_registers(0, 8).await, ExceptionCode::GatewayTargetDevice, "unit 2").await;
    expect_exception(ctx.write_single_register(1, 215).await, ExceptionCode::GatewayTargetDevice, "unit 2 w").await;
    ctx.set_slave(Slave(1));

    // Nothing changed, and the same connection still works after all those refusals.
    let after = read(&mut ctx).await;
    assert_eq!(after[1], before[1], "no refused write changed the target");
    assert_eq!(after[1], 200);
}

#[tokio::test]
async fn several_masters_share_a_zone() {
    let (sim, _clock) = start().await;
    let mut a = connect(sim.addrs()[2]).await;
    let mut b = connect(sim.addrs()[2]).await;
    a.write_single_register(1, 180).await.unwrap().unwrap();
    assert_eq!(read(&mut b).await[1], 180);
}

#[tokio::test]
async fn a_stopped_zone_refuses_connections_and_comes_back() {
    let (sim, _clock) = start().await;
    let addr = sim.addrs()[4];
    let mut ctx = connect(addr).await;
    ctx.write_single_register(1, 210).await.unwrap().unwrap();
    sim.stop_zone(4);
    assert!(tcp::connect_slave(addr, Slave(1)).await.is_err(), "listener closed");
    assert!(ctx.read_holding_registers(0, 8).await.is_err(), "open connection dropped");
    sim.restart_zone(4).await.unwrap();
    let mut again = connect(addr).await;
    assert_eq!(read(&mut again).await[1], 210, "the zone kept its state while off the network");
    // The other zones never noticed.
    let mut other = connect(sim.addrs()[0]).await;
    assert_eq!(read(&mut other).await.len(), 8);
}

#[tokio::test]
async fn a_thousand_zones_each_answer() {
    let config = SimulatorConfig {
        base_port: 0,
        zones: {
            let cli = <zone_simulator::config::Cli as clap::Parser>::parse_from(["zone-simulator", "--zones", "1000"]);
            SimulatorConfig::from_cli(&cli).unwrap().zones
        },
        ..SimulatorConfig::default()
    };
    let clock = Arc::new(ManualClock::new(monday()));
    let sim = Simulator::bind_with_clock(&config, clock.clone()).await.unwrap().spawn();
    assert_eq!(sim.addrs().len(), 1000);
    let addrs: Vec<SocketAddr> = sim.addrs().to_vec();
    let mut answered = 0;
    for chunk in addrs.chunks(100) {
        let reads = chunk.iter().map(|addr| async move {
            let mut ctx = tcp::connect_slave(*addr, Slave(1)).await.unwrap();
            ctx.read_holding_registers(0, 8).await.unwrap().unwrap()
        });
        for regs in futures::future::join_all(reads).await {
            assert_eq!(regs[1], 200);
            answered += 1;
        }
    }
    assert_eq!(answered, 1000);
    assert_eq!(sim.zones()[999].name, "Guest Room 200");
    let _ = clock.now();
    sim.shutdown().await;
}

/// Fault injection at run time: a heater that reports on but heats nothing, and a window held open (a larger UA),
/// as a master reads them over Modbus; both undone again.
#[tokio::test]
async fn a_heater_fault_and_an_open_window_show_in_the_registers() {
    let (sim, clock) = start().await;
    let target = heating_core::units::Setpoint::from_celsius(30.0).unwrap();
    // The office (3) heating hard with its heater broken; the bedroom (1) with its window open.
    sim.zones()[3].set_target(target);
    sim.set_heater_fault(3, true);
    let air = |regs: &[u16]| f64::from(regs[0] as i16) / 10.0;
    let mut office = connect(sim.addrs()[3]).await;
    let mut bedroom = connect(sim.addrs()[1]).await;
    let (office_before, bedroom_before) = (air(&read(&mut office).await), air(&read(&mut bedroom).await));
    let ua = sim.zones()[1].ua();
    sim.set_ua(1, ua * 20.0).unwrap();
    assert!(sim.set_ua(1, 0.0).is_err(), "a UA of 0 is refused");
    assert_eq!(sim.zones()[1].ua(), ua * 20.0, "and changes nothing");
    clock.advance(Duration::hours(1));
    let regs = read(&mut office).await;
    assert_eq!(regs[3], 1, "the heater reports on");
    assert!(air(&regs) < office_before, "yet the room cools: {} → {}", office_before, air(&regs));
    let cold = air(&read(&mut bedroom).await);
    assert!(cold < bedroom_before - 3.0, "the open window: {bedroom_before} → {cold}");

    sim.set_heater_fault(3, false);
    sim.set_ua(1, ua).unwrap();
    let office_cold = air(&read(&mut office).await);
    clock.advance(Duration::hours(1));
    assert!(air(&read(&mut office).await) > office_cold + 1.0, "repaired, it heats");
    assert!(air(&read(&mut bedroom).await) > cold, "the window closed, the room recovers or holds");
}

/// Sensor and device faults at run time: a frozen air sensor (the register stops changing while the room's physics
/// go on) and refused target writes (exception 04, nothing changed); both undone again.
#[tokio::test]
async fn a_frozen_sensor_and_refused_writes_show_over_modbus() {
    let (sim, clock) = start().await;
    let air = |regs: &[u16]| regs[0] as i16;
    let mut office = connect(sim.addrs()[3]).await;
    // The office heating hard: its air rises.
    office.write_single_register(1, encode_deci_celsius(30.0) as u16).await.unwrap().unwrap();
    clock.advance(Duration::minutes(5));
    let before = air(&read(&mut office).await);
    sim.set_sensor_frozen(3, true);
    clock.advance(Duration::hours(1));
    let regs = read(&mut office).await;
    assert_eq!(air(&regs), before, "the frozen sensor reports the same value");
    let real = sim.zones()[3].current().air_temperature;
    assert!(real > f64::from(before) / 10.0 + 1.0, "while the room warms: {before} → {real}");
    assert_eq!(regs[3], 1, "the other registers go on: the heater runs");
    sim.set_sensor_frozen(3, false);
    let thawed = air(&read(&mut office).await);
    assert_eq!(thawed, encode_deci_celsius(real), "thawed, the sensor reports the room again");

    sim.set_writes_refused(3, true);
    let refused = office.write_single_register(1, encode_deci_celsius(18.0) as u16).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::ServerDeviceFailure));
    let refused = office.write_multiple_registers(1, &[encode_deci_celsius(18.0) as u16]).await.unwrap();
    assert_eq!(refused, Err(ExceptionCode::ServerDeviceFailure));
    assert_eq!(read(&mut office).await[1], encode_deci_celsius(30.0) as u16, "a refused write changes nothing");
    sim.set_writes_refused(3, false);
    office.write_single_register(1, encode_deci_celsius(18.0) as u16).await.unwrap().unwrap();
    assert_eq!(read(&mut office).await[1], encode_deci_celsius(18.0) as u16, "accepted again");
    sim.shutdown().await;
}

/// Gateway mode: 1,000 zones, 100 behind each of ten ports; one connection per port reads every unit, writes
/// reach their unit only, and a unit id nobody serves there is answered with 0x0B.
#[tokio::test]
async fn a_thousand_zones_behind_ten_gateways() {
    let cli = <zone_simulator::config::Cli as clap::Parser>::parse_from([
        "zone-simulator",
        "--zones",
        "1000",
        "--base-port",
        "0",
        "--units-per-port",
        "100",
    ]);
    let config = SimulatorConfig::from_cli(&cli).unwrap();
    let clock = Arc::new(ManualClock::new(monday()));
    let sim = Simulator::bind_with_clock(&config, clock.clone()).await.unwrap().spawn();
    assert_eq!(sim.addrs().len(), 1000);
    assert_eq!(sim.listener_addrs().len(), 10);
    for (g, addr) in sim.listener_addrs().iter().enumerate() {
        let mut ctx = connect(*addr).await;
        for unit in 1..=100u8 {
            let i = g * 100 + usize::from(unit) - 1;
            assert_eq!(sim.addrs()[i], *addr);
            assert_eq!(sim.zones()[i].unit_id, unit);
            ctx.set_slave(Slave(unit));
            let regs = read(&mut ctx).await;
            let zone = sim.zones()[i].current();
            assert_eq!(regs[7], zone.heater_power_w, "unit {unit} of port {g} is zone {i}");
        }
        ctx.set_slave(Slave(101));
        expect_exception(ctx.read_holding_registers(0, 8).await, ExceptionCode::GatewayTargetDevice, "unit 101").await;
        ctx.set_slave(Slave(0));
        expect_exception(ctx.read_holding_registers(0, 8).await, ExceptionCode::GatewayTargetDevice, "unit 0").await;
    }
    // A write to unit 7 of the third port reaches zone 206 only.
    let mut ctx = connect(sim.listener_addrs()[2]).await;
    ctx.set_slave(Slave(7));
    ctx.write_single_register(1, 235).await.unwrap().unwrap();
    assert_eq!(sim.zones()[206].current().target.celsius(), 23.5);
    assert_eq!(sim.zones()[205].current().target.celsius(), 20.0);
    assert_eq!(sim.zones()[207].current().target.celsius(), 20.0);
    assert_eq!(sim.zones()[6].current().target.celsius(), 20.0, "unit 7 of another port is another zone");
    sim.shutdown().await;
}
