//! Every built-in device profile end to end, twice: the real zone simulator serving the zone through the profile
//! (`ZoneSpec::device_profile`, the library's `--profile`), and a minimal stand-in (`device.rs`) that serves exactly
//! the profile's points and counts requests. The server polls it (one request per block of the profile's read
//! plan), controls it (write with the profile's function, read back and confirmed) and stores its readings, what
//! the device lacks filled in and marked. The stand-in with `prototype-v1` is the Python prototype's own layout
//! (four holding registers, truncated ×10).

use std::sync::Arc;

use chrono::Duration;
use device_profile::{Profile, ReadPlan};
use heating_core::clock::ManualClock;
use heating_core::zone::ZoneProfile;
use heating_server::domain::Caller;
use heating_server::jobs::poll_once;
use heating_server::services::{control, status, zones};
use heating_server::storage::{CommandStatus, Estimated, ReadingFilter};
use heating_server::{AppState, Config};
use tempfile::TempDir;

use crate::device::Device;
use crate::helpers::monday_3am;

/// What serves the zone.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Serve {
    /// The zone simulator (library), the zone speaking the profile.
    Simulator,
    /// The test's stand-in, serving the given profile's points only.
    StandIn,
}

enum Backend {
    Simulator(zone_simulator::SimulatorHandle),
    StandIn(Device),
}

impl Backend {
    fn room(&self) -> heating_core::registers::ZoneSnapshot {
        match self {
            Self::Simulator(sim) => sim.zones()[0].current(),
            Self::StandIn(d) => d.room(),
        }
    }

    /// The heater's energy so far, Wh (the simulator's counter is whole Wh).
    fn energy_wh(&self) -> f64 {
        match self {
            Self::Simulator(sim) => f64::from(sim.zones()[0].current().energy_wh),
            Self::StandIn(d) => d.energy_wh(),
        }
    }

    /// Requests answered so far (the stand-in counts them).
    fn requests(&self) -> Option<usize> {
        match self {
            Self::Simulator(_) => None,
            Self::StandIn(d) => Some(d.requests()),
        }
    }
}

struct Setup {
    clock: Arc<ManualClock>,
    state: AppState,
    device: Backend,
    zone_id: i64,
    profile: Profile,
    _app: heating_server::App,
    _dir: TempDir,
}

/// A room with `heater_w` on a device speaking `served` (the built-in `name`, unless the test serves another map),
/// registered as a zone of profile `name` with `rated_power_w`.
async fn setup(serve: Serve, name: &str, served: Option<Profile>, heater_w: f64, rated_power_w: Option<f64>) -> Setup {
    let clock = Arc::new(ManualClock::new(monday_3am()));
    let profile = device_profile::builtin(name).unwrap();
    // The office of the default zones (2 MJ/K, 22 W/K, mon-fri 08:30-17:30) with the heater under test.
    let room = ZoneProfile { heater_power_w: heater_w, ..heating_core::zone::default_profiles()[3].clone() };
    let served = served.unwrap_or_else(|| profile.clone());
    let device = match serve {
        Serve::StandIn => Backend::StandIn(Device::start(served, &room, clock.clone()).await),
        Serve::Simulator => {
            let spec = zone_simulator::ZoneSpec {
                device_profile: Arc::new(served),
                ..zone_simulator::ZoneSpec::from_profile(room)
            };
            let config = zone_simulator::SimulatorConfig {
                base_port: 0,
                zones: vec![spec],
                ..zone_simulator::SimulatorConfig::default()
            };
            let sim = zone_simulator::Simulator::bind_with_clock(&config, clock.clone()).await.unwrap();
            Backend::Simulator(sim.spawn())
        }
    };
    let port = match &device {
        Backend::Simulator(sim) => sim.addrs()[0].port(),
        Backend::StandIn(d) => d.addr.port(),
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("profiles.db").display());
    let config = Config {
        poll_interval_secs: Some(10.0),
        modbus_timeout_ms: 1000,
        background_jobs_disabled: true,
        ..Config::with_database_url(url)
    };
    let app = heating_server::build_with_clock(config, clock.clone()).await.unwrap();
    let state = app.state().clone();
    let new = zones::NewZone {
        name: format!("{name} room"),
        preferences: None,
        modbus_port: std::num::NonZeroU16::new(port),
        modbus_host: Some("127.0.0.1".into()),
        modbus_unit_id: Some(1),
        device_profile: Some(name.into()),
        rated_power_w,
        group_id: None,
    };
    let zone = zones::create(&state, &Caller::local(), new).await.unwrap();
    assert_eq!(zone.device_profile, name);
    Setup { clock, state, device, zone_id: zone.id, profile, _app: app, _dir: dir }
}

impl Setup {
    async fn poll(&self) -> heating_server::state::PollReport {
        self.clock.advance(Duration::seconds(10));
        poll_once(&self.state).await
    }

    fn live(&self) -> heating_server::fleet::LiveReading {
        self.state.fleet.get(self.zone_id).unwrap().live().reading.expect("a reading")
    }
}

/// Polls, checks the decoded values against the room within the profile's resolution, writes a target and reads
/// it back, and checks what was stored and marked estimated.
async fn round_trip(name: &str, heater_w: f64, rated_power_w: Option<f64>, estimated: &[&str]) {
    for serve in [Serve::Simulator, Serve::StandIn] {
        round_trip_on(serve, name, heater_w, rated_power_w, estimated).await;
    }
}

async fn round_trip_on(serve: Serve, name: &str, heater_w: f64, rated_power_w: Option<f64>, estimated: &[&str]) {
    let s = setup(serve, name, None, heater_w, rated_power_w).await;
    let before = s.device.requests();
    let report = s.poll().await;
    assert_eq!((report.ok, report.failed, report.stored), (1, 0, 1), "{serve:?} {name}: {report:?}");
    if let (Some(before), Some(after)) = (before, s.device.requests()) {
        let blocks = ReadPlan::new(&s.profile).blocks.len();
        assert_eq!(after - before, blocks, "one request per block of the read plan");
    }
    let name = &format!("{name} on {serve:?}");

    let room = s.device.room();
    let live = s.live();
    let caps = s.profile.capabilities();
    // Decoding is exact up to the raw step; the prototype truncates, the others round.
    let air = s.profile.points.air_temperature;
    let tolerance = air.resolution().max(1e-4);
    let diff = (live.snapshot.air_temperature - room.air_temperature).abs();
    assert!(
        diff <= tolerance,
        "{name}: air {} vs room {} (resolution {tolerance})",
        live.snapshot.air_temperature,
        room.air_temperature
    );
    assert_eq!(live.snapshot.target, room.target, "{name}: target");
    if caps.occupancy {
        assert_eq!(live.snapshot.occupied, room.occupied, "{name}: occupancy");
    }
    if caps.heater {
        assert_eq!(live.snapshot.heater_on, room.heater_on, "{name}: heater");
    }
    if caps.energy {
        assert_eq!(live.snapshot.energy_wh, room.energy_wh, "{name}: energy");
    }
    if caps.outdoor_temperature {
        let out = s.profile.points.outdoor_temperature.unwrap();
        let tolerance = (out.resolution() / 2.0).max(1e-4) + 1e-9;
        let diff = (live.outdoor().unwrap() - room.outdoor_temperature).abs();
        assert!(diff <= tolerance, "{name}: outdoor {:?} vs {}", live.outdoor(), room.outdoor_temperature);
    } else {
        assert_eq!(live.outdoor(), None);
    }
    assert_eq!(live.estimated.names(), estimated, "{name}: what is marked estimated");

    // Control: written with the profile's function, read back and confirmed.
    let (command, _) = control::set_target(&s.state, &Caller::local(), s.zone_id, 22.5, Some(60)).await.unwrap();
    assert_eq!(command.status, CommandStatus::Confirmed, "{name}: {command:?}");
    assert_eq!(s.device.room().target.celsius(), 22.5, "{name}: the device holds the target");
    assert_eq!(s.live().snapshot.target.celsius(), 22.5);

    // Storing: the next poll is stored with the same marks; NULL for what is unknown.
    s.poll().await;
    let rows = s.state.storage.list_zone_readings(s.zone_id, ReadingFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].target_temp, Some(22.5));
    let stored: Vec<_> = estimated.iter().copied().filter(|n| *n != "heater_on").collect();
    assert_eq!(rows[0].estimated.names(), stored, "{name}: stored marks");
    assert_eq!(rows[0].heater_on.is_some(), caps.heater);
    assert_eq!(rows[0].outdoor_temp.is_some(), caps.outdoor_temperature);
    assert_eq!(rows[0].energy_wh.is_some(), caps.energy || caps.rated_power || rated_power_w.is_some());

    // /status shows the profile and the marks.
    let st = status::zone_status(&s.state, s.zone_id).await.unwrap();
    assert_eq!(st.zone.device_profile, s.profile.name);
    // The plan (and the model fit) say what was assumed for what the device lacks.
    let plan = heating_server::services::models::zone_plan(&s.state, s.zone_id).await.unwrap();
    assert_eq!(plan.assumptions.is_empty(), estimated.is_empty(), "{name}: {:?}", plan.assumptions);
    if !caps.occupancy {
        assert!(plan.assumptions.iter().any(|a| a.starts_with("occupancy assumed")), "{:?}", plan.assumptions);
    }
    if !caps.energy {
        assert!(plan.assumptions.iter().any(|a| a.starts_with("energy estimated")), "{:?}", plan.assumptions);
    }
}

#[tokio::test]
async fn heating_sim_round_trip_in_one_request_per_poll() {
    round_trip("heating-sim", 2500.0, None, &[]).await;
}

#[tokio::test]
async fn prototype_v1_round_trip_with_the_prototypes_four_registers() {
    // No energy meter and no rated power in the profile: the zone's rated power makes the estimate.
    round_trip("prototype-v1", 1000.0, Some(1000.0), &["energy_wh"]).await;
}

#[tokio::test]
async fn thermo_f32_round_trip_float_little_endian_fc16() {
    // No occupancy sensor (and no schedule on the zone): occupied, marked.
    round_trip("thermo-f32", 2000.0, None, &["occupancy"]).await;
}

#[tokio::test]
async fn relay_coil_round_trip_coils_discrete_inputs_no_meter() {
    round_trip("relay-coil", 2000.0, None, &["energy_wh"]).await;
}

/// A simulated day of polls every 10 s: the estimated counter follows the room's true heater energy within 2 %,
/// and continues from the stored value after a restart of the estimate.
async fn estimated_energy_over_a_day(serve: Serve, name: &str, heater_w: f64, rated_power_w: Option<f64>) {
    let s = setup(serve, name, None, heater_w, rated_power_w).await;
    s.poll().await;
    let (true0, est0) = (s.device.energy_wh(), f64::from(s.live().snapshot.energy_wh));
    for _ in 0..(24 * 360) {
        let report = s.poll().await;
        assert_eq!(report.stored, 1);
    }
    let (true1, est1) = (s.device.energy_wh(), f64::from(s.live().snapshot.energy_wh));
    let (truth, estimate) = (true1 - true0, est1 - est0);
    assert!(truth > 1000.0, "{name}: the heater ran ({truth} Wh)");
    let error = (estimate - truth).abs() / truth;
    assert!(error < 0.02, "{name}: estimated {estimate:.0} Wh vs true {truth:.0} Wh ({:.2} %)", error * 100.0);
    let last = s.state.storage.list_zone_readings(s.zone_id, ReadingFilter::default()).await.unwrap()[0].clone();
    assert!(last.estimated.contains(Estimated::ENERGY));
    assert_eq!(last.energy_wh, Some(est1 as u32));
    // A server restart starts the estimate again from the stored counter, not from 0.
    *s.state.fleet.get(s.zone_id).unwrap().energy.lock().unwrap() = None;
    s.poll().await;
    assert!(f64::from(s.live().snapshot.energy_wh) >= est1, "continues from the stored counter");
}

#[tokio::test]
async fn relay_coil_estimated_energy_over_a_day_within_2_percent() {
    estimated_energy_over_a_day(Serve::Simulator, "relay-coil", 2000.0, None).await;
}

#[tokio::test]
async fn prototype_v1_estimated_energy_over_a_day_within_2_percent() {
    estimated_energy_over_a_day(Serve::StandIn, "prototype-v1", 1000.0, Some(1000.0)).await;
}

#[tokio::test]
async fn an_implausible_value_is_not_stored_and_degrades_the_zone_naming_the_point() {
    // The device shows thousandths where the profile says hundredths: 20 °C reads as 200 °C.
    let mut served = device_profile::builtin("relay-coil").unwrap();
    served.points.air_temperature.scale = 0.001;
    let s = setup(Serve::Simulator, "relay-coil", Some(served), 2000.0, None).await;
    let report = s.poll().await;
    assert_eq!((report.ok, report.failed, report.stored), (0, 1, 0), "{report:?}");
    let health = s.state.fleet.get(s.zone_id).unwrap().live().health.clone().unwrap();
    assert_eq!(health.state, zone_client::HealthState::Degraded);
    let error = health.last_error.unwrap();
    assert!(error.contains("air_temperature at input 0 [0x") && error.contains("plausible range"), "{error}");
    assert!(s.state.storage.list_zone_readings(s.zone_id, ReadingFilter::default()).await.unwrap().is_empty());
}
