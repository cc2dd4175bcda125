//! Every built-in device profile end to end over real Modbus TCP: the simulator serving it, a link speaking it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use device_profile::{PointKind, Profile, Table};
use heating_core::clock::ManualClock;
use heating_core::registers::{ZoneRegisters, ZoneSnapshot};
use tokio_modbus::client::{Context, Reader, Writer, tcp};
use tokio_modbus::prelude::{ExceptionCode, Slave};
use zone_client::{Endpoint, HealthState, LinkConfig, ZoneError, ZoneLink};
use zone_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

fn t0() -> DateTime<Utc> {
    // A Monday morning in January: people arrive, heaters run.
    DateTime::parse_from_rfc3339("2026-01-05T08:10:00Z").unwrap().to_utc()
}

fn fast() -> LinkConfig {
    LinkConfig {
        request_timeout: Duration::from_millis(500),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
    }
}

/// The five default zones, all speaking `profile`, on a clock that does not move.
async fn simulator(profile: &Profile) -> SimulatorHandle {
    let mut config = SimulatorConfig { base_port: 0, ..SimulatorConfig::default() };
    for zone in &mut config.zones {
        zone.device_profile = Arc::new(profile.clone());
    }
    Simulator::bind_with_clock(&config, Arc::new(ManualClock::new(t0()))).await.unwrap().spawn()
}

fn endpoint(sim: &SimulatorHandle, zone: usize) -> Endpoint {
    let addr = sim.addrs()[zone];
    Endpoint { host: addr.ip().to_string(), port: addr.port(), unit_id: 1 }
}

fn link(sim: &SimulatorHandle, zone: usize, profile: &Profile) -> ZoneLink {
    ZoneLink::with_profile(endpoint(sim, zone), fast(), Arc::new(profile.clone()))
}

/// The simulator's true value of a point, for comparison.
fn truth(kind: PointKind, z: &ZoneSnapshot) -> Option<f64> {
    Some(match kind {
        PointKind::AirTemperature => z.air_temperature,
        PointKind::Target => z.target.celsius(),
        PointKind::Occupancy => f64::from(u8::from(z.occupied)),
        PointKind::Heater => f64::from(u8::from(z.heater_on)),
        PointKind::Energy => f64::from(z.energy_wh),
        PointKind::OutdoorTemperature => z.outdoor_temperature,
        PointKind::RatedPower => f64::from(z.heater_power_w),
        _ => return None,
    })
}

fn decoded(kind: PointKind, v: &zone_client::DeviceValues) -> Option<f64> {
    let flag = |b: Option<bool>| b.map(|b| f64::from(u8::from(b)));
    match kind {
        PointKind::AirTemperature => Some(v.air_temperature),
        PointKind::Target => Some(v.target),
        PointKind::Occupancy => flag(v.occupied),
        PointKind::Heater => flag(v.heater_on),
        PointKind::Energy => v.energy_wh,
        PointKind::OutdoorTemperature => v.outdoor_temperature,
        PointKind::RatedPower => v.rated_power_w,
        PointKind::ValvePosition => v.valve_position_pct,
        PointKind::WindowContact => flag(v.window_open),
        PointKind::Humidity => v.humidity_pct,
        PointKind::SupplyTemperature => v.supply_temperature,
    }
}

#[tokio::test]
async fn every_builtin_reads_the_simulators_state_within_its_resolution() {
    for profile in device_profile::builtins() {
        let sim = simulator(&profile).await;
        for zone in 0..sim.addrs().len() {
            let mut link = link(&sim, zone, &profile);
            let reading = link.read_device(t0()).await.unwrap_or_else(|e| panic!("{}: {e}", profile.name));
            let state = sim.zones()[zone].current();
            for kind in PointKind::ALL {
                let got = decoded(kind, &reading.values);
                let Some(point) = profile.points.get(kind) else {
                    if kind == PointKind::RatedPower {
                        assert_eq!(got, profile.rated_power_w, "{}: the profile's constant", profile.name);
                    } else {
                        assert_eq!(got, None, "{}: no {kind} point, no value", profile.name);
                    }
                    continue;
                };
                let got = got.unwrap_or_else(|| panic!("{}: {kind} missing", profile.name));
                if let Some(want) = truth(kind, &state) {
                    // Rounding to nearest is off by half a unit at most, truncation by one; float32 by its precision.
                    let tolerance = point.resolution().max(want.abs() * 1e-6) + 1e-9;
                    assert!((got - want).abs() <= tolerance, "{} {kind}: read {got}, simulator {want}", profile.name);
                }
            }
            assert_eq!(reading.raw.len(), link.plan().blocks.len(), "one raw block per request");
            assert_eq!(link.health().state, HealthState::Online);
        }
    }
}

#[tokio::test]
async fn every_builtin_writes_and_confirms_the_target() {
    for profile in device_profile::builtins() {
        let sim = simulator(&profile).await;
        let mut link = link(&sim, 1, &profile);
        let step = profile.target().step;
        // 21.3 °C: on heating-sim's and the prototype's grid, rounded to 21.5 on the half-degree ones.
        let expected = if step == 0.5 { 21.5 } else { 21.3 };
        let reading = link.write_target_value(21.3, t0()).await.unwrap_or_else(|e| panic!("{}: {e}", profile.name));
        assert_eq!(reading.values.target, expected, "{}", profile.name);
        assert_eq!(sim.zones()[1].current().target.celsius(), expected, "{}: the simulator holds it", profile.name);

        // Outside the profile's range: refused before anything is sent; the health record is untouched.
        let before = link.health();
        let e = link.write_target_value(profile.target().max + 1.0, t0()).await.unwrap_err();
        assert!(matches!(e, ZoneError::BadTarget(_)), "{}: {e:?}", profile.name);
        assert_eq!(link.health(), before);
        assert_eq!(sim.zones()[1].current().target.celsius(), expected, "nothing changed");
    }
}

async fn connect(sim: &SimulatorHandle, zone: usize) -> Context {
    tcp::connect_slave(sim.addrs()[zone], Slave(1)).await.unwrap()
}

fn exception<T: std::fmt::Debug>(result: tokio_modbus::Result<T>) -> ExceptionCode {
    match result {
        Ok(Err(code)) => code,
        other => panic!("expected an exception, got {other:?}"),
    }
}

#[tokio::test]
async fn thermo_f32_takes_its_setpoint_with_fc16_only() {
    let profile = device_profile::builtin("thermo-f32").unwrap();
    let sim = simulator(&profile).await;
    let mut ctx = connect(&sim, 0).await;
    let word = |v: f32| [(v.to_bits() & 0xFFFF) as u16, (v.to_bits() >> 16) as u16];
    assert_eq!(exception(ctx.write_single_register(100, 0).await), ExceptionCode::IllegalFunction, "FC06");
    assert_eq!(exception(ctx.write_multiple_registers(100, &word(35.0)).await), ExceptionCode::IllegalDataValue);
    assert_eq!(exception(ctx.write_multiple_registers(100, &word(f32::NAN)).await), ExceptionCode::IllegalDataValue);
    assert_eq!(exception(ctx.write_multiple_registers(102, &[10]).await), ExceptionCode::IllegalDataAddress);
    assert_eq!(exception(ctx.write_multiple_registers(101, &word(21.0)).await), ExceptionCode::IllegalDataAddress);
    assert_eq!(exception(ctx.read_coils(0, 1).await), ExceptionCode::IllegalFunction, "no coils");
    assert_eq!(exception(ctx.read_input_registers(40, 3).await), ExceptionCode::IllegalDataAddress, "past the end");
    assert_eq!(sim.zones()[0].current().target.celsius(), 20.0, "nothing changed");
    ctx.write_multiple_registers(100, &word(22.0)).await.unwrap().unwrap();
    assert_eq!(sim.zones()[0].current().target.celsius(), 22.0);
}

#[tokio::test]
async fn relay_coil_serves_bits_and_keeps_its_relay_read_only() {
    let profile = device_profile::builtin("relay-coil").unwrap();
    let sim = simulator(&profile).await;
    let mut ctx = connect(&sim, 0).await;
    let state = sim.zones()[0].current();
    assert_eq!(ctx.read_coils(0, 1).await.unwrap().unwrap(), vec![state.heater_on]);
    assert_eq!(ctx.read_discrete_inputs(0, 2).await.unwrap().unwrap(), vec![state.occupied, false]);
    assert_eq!(exception(ctx.write_single_coil(0, true).await), ExceptionCode::IllegalFunction, "FC05");
    assert_eq!(exception(ctx.read_discrete_inputs(0, 2001).await), ExceptionCode::IllegalDataValue);
    assert_eq!(exception(ctx.write_single_register(0, 61).await), ExceptionCode::IllegalDataValue, "30.5 °C");
    assert_eq!(exception(ctx.write_single_register(1, 40).await), ExceptionCode::IllegalDataAddress);
    ctx.write_single_register(0, 45).await.unwrap().unwrap();
    assert_eq!(sim.zones()[0].current().target.celsius(), 22.5);
}

#[tokio::test]
async fn a_coil_target_is_written_with_fc05() {
    // relay-coil with a two-level target instead: coil 5 off = 17 °C, on = 21 °C.
    let mut text = device_profile::builtin_source("relay-coil").unwrap().to_string();
    let target = "[points.target]\ntable = \"holding\"\naddress = 0\ntype = \"uint16\"\nscale = 0.5\nwrite = \"fc06\"\n\
                  min = 5.0\nmax = 30.0\nstep = 0.5\n";
    assert!(text.contains(target));
    text = text.replace(
        target,
        "[points.target]\ntable = \"coil\"\naddress = 5\ntype = \"bool\"\nscale = 4.0\noffset = 17.0\n\
         write = \"fc05\"\nmin = 17.0\nmax = 21.0\nstep = 4.0\n",
    );
    let profile = Profile::from_toml(&text).unwrap();
    let sim = simulator(&profile).await;
    let mut link = link(&sim, 0, &profile);
    assert_eq!(link.write_target_value(17.5, t0()).await.unwrap().values.target, 17.0);
    assert_eq!(sim.zones()[0].current().target.celsius(), 17.0);
    assert_eq!(link.write_target_value(20.0, t0()).await.unwrap().values.target, 21.0);
    assert_eq!(sim.zones()[0].current().target.celsius(), 21.0);
    let mut ctx = connect(&sim, 0).await;
    assert_eq!(exception(ctx.write_single_register(0, 1).await), ExceptionCode::IllegalFunction);
    assert_eq!(exception(ctx.write_single_coil(0, false).await), ExceptionCode::IllegalDataAddress, "the relay");
}

#[tokio::test]
async fn an_implausible_value_degrades_the_zone_and_names_the_point_and_registers() {
    // A heating-sim device read with a profile that puts occupancy where the rated power is (2500 W).
    let sim = simulator(&device_profile::builtin("heating-sim").unwrap()).await;
    let text = device_profile::builtin_source("prototype-v1").unwrap().replace(
        "[points.occupancy]\ntable = \"holding\"\naddress = 2",
        "[points.occupancy]\ntable = \"holding\"\naddress = 7",
    );
    let wrong = Profile::from_toml(&text).unwrap();
    let mut link = link(&sim, 0, &wrong);
    let e = link.read_device(t0()).await.unwrap_err();
    let ZoneError::InvalidReading(invalid) = &e else { panic!("{e:?}") };
    assert_eq!(invalid.point, PointKind::Occupancy);
    assert_eq!(
        e.to_string(),
        "invalid reading of occupancy at holding 7 [0x09c4]: a bool register holds 2500, expected 0 or 1"
    );
    let h = link.health();
    assert_eq!(h.state, HealthState::Degraded, "the device answered");
    assert_eq!(h.last_error.as_deref(), Some(e.to_string().as_str()));
    assert!(link.is_connected());
}

#[tokio::test]
async fn the_probe_shows_values_next_to_raw_registers() {
    let thermo = device_profile::builtin("thermo-f32").unwrap();
    let sim = simulator(&thermo).await;
    let report = zone_client::probe(endpoint(&sim, 0), Arc::new(thermo.clone()), fast(), t0()).await.unwrap();
    assert!(report.fits(), "{report:?}");
    assert_eq!(report.points.len(), thermo.points.iter().count());
    assert_eq!(report.blocks.len(), 3);
    let air = report.points.iter().find(|p| p.point == PointKind::AirTemperature).unwrap();
    assert_eq!((air.table, air.address), (Table::Input, 0));
    assert_eq!(air.raw.as_ref().unwrap().words.len(), 2);
    let want = sim.zones()[0].current().air_temperature;
    assert!((air.value.clone().unwrap() - want).abs() < 1e-4);

    // The same profile against a heating-sim device: the installer sees which blocks fail and why.
    let other = simulator(&device_profile::builtin("heating-sim").unwrap()).await;
    let report = zone_client::probe(endpoint(&other, 0), Arc::new(thermo), fast(), t0()).await.unwrap();
    assert!(!report.fits());
    let (block, answer) = &report.blocks[1];
    assert_eq!((block.table, block.start, block.count), (Table::Input, 0, 14));
    assert_eq!(answer.as_ref().unwrap_err(), "device answered with exception 0x02 (illegal data address)");
    let air = report.points.iter().find(|p| p.point == PointKind::AirTemperature).unwrap();
    assert_eq!(air.raw, None);
    assert!(air.value.as_ref().unwrap_err().contains("illegal data address"));

    // Nobody there: the probe is an error, not a report.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nobody = Endpoint { host: "127.0.0.1".into(), port, unit_id: 1 };
    let e = zone_client::probe(nobody, zone_client::default_profile(), fast(), t0()).await.unwrap_err();
    assert!(matches!(e, ZoneError::Unreachable(_)), "{e:?}");
}

#[tokio::test]
async fn the_snapshot_form_needs_the_heating_sim_points() {
    let thermo = device_profile::builtin("thermo-f32").unwrap();
    let sim = simulator(&thermo).await;
    let mut link = link(&sim, 0, &thermo);
    let e = link.read(t0()).await.unwrap_err();
    assert_eq!(e.to_string(), "invalid answer: profile thermo-f32 has no occupancy point, which a zone snapshot needs");
    // With heating-sim, read() is the snapshot of the same values read_device decodes.
    let sim = simulator(&device_profile::builtin("heating-sim").unwrap()).await;
    let mut link = ZoneLink::new(endpoint(&sim, 0), fast());
    let snapshot = link.read(t0()).await.unwrap();
    let values = link.read_device(t0()).await.unwrap().values;
    assert_eq!(snapshot.air_temperature, values.air_temperature);
    assert_eq!(snapshot.target.celsius(), values.target);
    assert_eq!(f64::from(snapshot.energy_wh), values.energy_wh.unwrap());
    let state = sim.zones()[0].current();
    assert_eq!(snapshot, ZoneRegisters::decode(&ZoneRegisters::encode(&state).0).unwrap());
}
