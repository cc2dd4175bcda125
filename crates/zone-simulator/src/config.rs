//! Simulator configuration: command-line flags (with environment fallbacks) over an optional TOML or JSON file
//! over built-in defaults.
//!
//! A config file looks like this (every key optional; `zones` replaces the five default zones):
//!
//! ```toml
//! seed = 42
//! time_scale = 60.0
//! step_s = 10.0
//! start = "2026-01-05T06:00:00Z"
//! bind = "127.0.0.1"
//! base_port = 5020
//! idle_timeout_secs = 60          # close a connection that sends no request for this long
//! frame_timeout_ms = 2000         # close a connection whose started request is not complete in this time
//! max_connections_per_zone = 16   # a further connection closes the one longest without a request
//! units_per_port = 1              # zones per listener (a gateway), with unit ids 1..=units_per_port
//!
//! [weather]
//! mean_c = 2.0
//! daily_amplitude_k = 4.0
//! variation_k = 2.0
//! utc_offset_minutes = 60
//!
//! [[zones]]
//! name = "Server Room"
//! port = 5030          # optional: default base_port + index / units_per_port
//! unit_id = 1          # optional: default 1 (with units_per_port > 1 and no port: 1 + index % units_per_port)
//! profile = "relay-coil"  # optional device profile (register map): default --profile, else heating-sim
//! capacitance_mj_per_k = 3.0
//! ua_w_per_k = 30.0
//! heater_power_w = 1500.0
//! occupied_gains_w = 150.0
//! base_gains_w = 20.0
//! schedule = ["mon-fri 08:00-18:00"]
//! initial_target_c = 20.0
//! hysteresis_k = 0.3
//! ```
//!
//! Zones with the same port share one listener, as devices behind one Modbus TCP gateway do: each answers its own
//! unit id, and a request for a unit id nobody serves on that port is answered with exception 0x0B. Two zones with
//! the same port and unit id are refused.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use device_profile::Profile;
use heating_core::registers::DEFAULT_UNIT_ID;
use heating_core::weather::SyntheticWeather;
use heating_core::zone::{ZoneProfile, default_profiles};
use serde::Deserialize;

/// Virtual heating zones (thermostats) served as Modbus TCP slaves, one zone per port.
#[derive(Debug, Clone, Parser)]
#[command(name = "zone-simulator", version)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "SIM_BIND")]
    pub bind: Option<IpAddr>,
    /// Port of the first zone; zone i listens on base-port + i (0: every zone on an ephemeral port).
    #[arg(long, env = "SIM_BASE_PORT")]
    pub base_port: Option<u16>,
    /// Number of zones, generated from the five default profiles (or the config file's zones) in turn.
    #[arg(long, env = "SIM_ZONES", value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub zones: Option<u32>,
    /// TOML or JSON file with zones, parameters and schedules.
    #[arg(long, env = "SIM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seed for occupancy jitter and weather (same seed, same run).
    #[arg(long, env = "SIM_SEED")]
    pub seed: Option<u64>,
    /// Simulated seconds per real second (60: a simulated day in 24 minutes).
    #[arg(long, env = "SIM_TIME_SCALE", value_parser = parse_scale)]
    pub time_scale: Option<f64>,
    /// Physics step in simulated seconds.
    #[arg(long, env = "SIM_STEP", value_parser = parse_step)]
    pub step: Option<f64>,
    /// Simulated start time (RFC 3339); default now. Only meaningful with a time scale other than 1.
    #[arg(long, env = "SIM_START")]
    pub start: Option<DateTime<Utc>>,
    /// Seconds a connection may stay without sending a request (from the connect or the previous answer to the
    /// first byte of the next request) before the zone closes it [default: 60].
    #[arg(long, env = "SIM_IDLE_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(IDLE_TIMEOUT_SECS_RANGE))]
    pub idle_timeout_secs: Option<u64>,
    /// Milliseconds a request may take to arrive whole once its first byte has (and an answer to be taken);
    /// a half-sent request is dropped with its connection [default: 2000].
    #[arg(long, env = "SIM_FRAME_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(FRAME_TIMEOUT_MS_RANGE))]
    pub frame_timeout_ms: Option<u64>,
    /// Connections one zone serves at once; a further connection closes the one that has gone longest without a
    /// request, as devices with few connection slots do [default: 16].
    #[arg(long, env = "SIM_MAX_CONNECTIONS_PER_ZONE", value_parser = clap::value_parser!(u64).range(MAX_CONNECTIONS_RANGE))]
    pub max_connections_per_zone: Option<u64>,
    /// Device profile (register map) the zones speak unless the config file names one per zone: heating-sim
    /// (README's map), prototype-v1, thermo-f32, relay-coil [default: heating-sim].
    #[arg(long, env = "SIM_PROFILE", conflicts_with = "profile_file")]
    pub profile: Option<String>,
    /// A device profile of your own (TOML, see the device-profile crate's example.toml), spoken by the zones that
    /// name none; zones of the config file may name it.
    #[arg(long, env = "SIM_PROFILE_FILE")]
    pub profile_file: Option<PathBuf>,
    /// Zones served per listening port, as devices behind one Modbus TCP gateway: zone i listens on
    /// base-port + i / U with unit id 1 + i % U (1: one zone per port, unit id 1 or the config file's) [default: 1].
    #[arg(long, env = "SIM_UNITS_PER_PORT", value_parser = clap::value_parser!(u8).range(UNITS_PER_PORT_RANGE))]
    pub units_per_port: Option<u8>,
}

const UNITS_PER_PORT_RANGE: std::ops::RangeInclusive<i64> = 1..=247;

const IDLE_TIMEOUT_SECS_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
const FRAME_TIMEOUT_MS_RANGE: std::ops::RangeInclusive<u64> = 10..=60_000;
const MAX_CONNECTIONS_RANGE: std::ops::RangeInclusive<u64> = 1..=10_000;

/// How long a connection may hold a zone, and how many may at once (per zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// No request begun within this long after the connect or the previous answer: the connection is closed.
    pub idle_timeout: Duration,
    /// A request begun must be complete within this long (and its answer taken), else the connection is closed.
    pub frame_timeout: Duration,
    /// Connections served at once per zone; a further one closes the connection longest without a request.
    pub max_connections: usize,
}

pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            frame_timeout: DEFAULT_FRAME_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Checks a file value against the range its flag accepts.
fn in_range(key: &str, value: Option<u64>, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>, ConfigError> {
    match value {
        Some(v) if !range.contains(&v) => {
            Err(ConfigError(format!("{key} must be from {} to {}, got {v}", range.start(), range.end())))
        }
        other => Ok(other),
    }
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    heating_core::clock::validate_scale(v)
}

fn parse_step(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (0.01..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("step must be from 0.01 to 3600 simulated seconds, got {v}"))
    }
}

/// One zone to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSpec {
    pub profile: ZoneProfile,
    /// Fixed port, or `None` for base port + index.
    pub port: Option<u16>,
    pub unit_id: u8,
    /// The register map the zone serves its state through.
    pub device_profile: Arc<Profile>,
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    pub bind: IpAddr,
    pub base_port: u16,
    pub zones: Vec<ZoneSpec>,
    pub weather: SyntheticWeather,
    pub time_scale: f64,
    pub step_s: f64,
    pub start: Option<DateTime<Utc>>,
    pub connections: ConnectionLimits,
    /// Zones per listener for the zones without a port of their own (1..=247).
    pub units_per_port: u8,
}

pub const DEFAULT_BASE_PORT: u16 = 5020;
pub const DEFAULT_SEED: u64 = 42;
pub const DEFAULT_STEP_S: f64 = 10.0;

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            base_port: DEFAULT_BASE_PORT,
            zones: default_profiles().into_iter().map(ZoneSpec::from_profile).collect(),
            weather: SyntheticWeather::with_seed(DEFAULT_SEED),
            time_scale: 1.0,
            step_s: DEFAULT_STEP_S,
            start: None,
            connections: ConnectionLimits::default(),
            units_per_port: 1,
        }
    }
}

impl ZoneSpec {
    #[must_use]
    pub fn from_profile(profile: ZoneProfile) -> Self {
        Self { profile, port: None, unit_id: DEFAULT_UNIT_ID, device_profile: default_device_profile() }
    }
}

/// The `heating-sim` profile (README's register map).
#[must_use]
pub fn default_device_profile() -> Arc<Profile> {
    Arc::new(device_profile::builtin(device_profile::DEFAULT_PROFILE).expect("the default profile is built in"))
}

/// The device profiles a configuration may name: the built-ins and, with `--profile-file`, one of the user's.
#[derive(Debug, Default)]
struct Profiles {
    custom: Option<Arc<Profile>>,
}

impl Profiles {
    fn get(&self, name: &str) -> Result<Arc<Profile>, String> {
        if let Some(p) = self.custom.as_ref().filter(|p| p.name == name) {
            return Ok(p.clone());
        }
        device_profile::builtin(name).map(Arc::new).ok_or_else(|| {
            let mut known = device_profile::builtin_names().join(", ");
            if let Some(p) = &self.custom {
                known = format!("{known}, {} (--profile-file)", p.name);
            }
            format!("unknown device profile {name:?}; known: {known}")
        })
    }
}

fn read_profile_file(path: &Path) -> Result<Arc<Profile>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("--profile-file: cannot read {}: {e}", path.display())))?;
    Profile::from_toml(&text).map(Arc::new).map_err(|e| ConfigError(format!("--profile-file {}: {e}", path.display())))
}

/// A configuration problem, with a message meant for the person who wrote it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    seed: Option<u64>,
    time_scale: Option<f64>,
    step_s: Option<f64>,
    start: Option<DateTime<Utc>>,
    bind: Option<IpAddr>,
    base_port: Option<u16>,
    weather: Option<FileWeather>,
    zones: Option<Vec<serde_json::Value>>,
    idle_timeout_secs: Option<u64>,
    frame_timeout_ms: Option<u64>,
    max_connections_per_zone: Option<u64>,
    units_per_port: Option<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWeather {
    mean_c: Option<f64>,
    daily_amplitude_k: Option<f64>,
    variation_k: Option<f64>,
    utc_offset_minutes: Option<i32>,
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let parsed = if is_json {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        toml::from_str(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ConfigError(format!("config file {}: {e}", path.display())))
}

/// Splits the endpoint keys (and the device profile, `None` when not named) off a zone table and reads the rest
/// strictly as a [`ZoneProfile`].
fn zone_spec(index: usize, mut value: serde_json::Value, profiles: &Profiles) -> Result<(ZoneSpec, bool), ConfigError> {
    let err = |msg: String| ConfigError(format!("zones[{index}]: {msg}"));
    let table = value.as_object_mut().ok_or_else(|| err("must be a table".into()))?;
    let port = match table.remove("port") {
        None => None,
        Some(v) => Some(serde_json::from_value::<u16>(v).map_err(|e| err(format!("port: {e}")))?),
    };
    let unit_id = match table.remove("unit_id") {
        None => DEFAULT_UNIT_ID,
        Some(v) => serde_json::from_value::<u8>(v).map_err(|e| err(format!("unit_id: {e}")))?,
    };
    let device = match table.remove("profile") {
        None => None,
        Some(serde_json::Value::String(name)) => Some(profiles.get(&name).map_err(|e| err(format!("profile: {e}")))?),
        Some(other) => return Err(err(format!("profile: expected a profile name, got {other}"))),
    };
    let profile: ZoneProfile = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
    let named = device.is_some();
    let device_profile = device.unwrap_or_else(default_device_profile);
    Ok((ZoneSpec { profile, port, unit_id, device_profile }, named))
}

impl SimulatorConfig {
    /// Resolves flags over the config file over defaults, and validates the result.
    pub fn from_cli(cli: &Cli) -> Result<Self, ConfigError> {
        let file = cli.config.as_deref().map(read_file).transpose()?.unwrap_or_default();
        let profiles = Profiles { custom: cli.profile_file.as_deref().map(read_profile_file).transpose()? };
        let default_device = match (&cli.profile, &profiles.custom) {
            (Some(name), _) => profiles.get(name).map_err(|e| ConfigError(format!("--profile: {e}")))?,
            (None, Some(custom)) => custom.clone(),
            (None, None) => default_device_profile(),
        };
        let mut config = Self::default();
        if let Some(zones) = file.zones {
            config.zones = zones
                .into_iter()
                .enumerate()
                .map(|(i, v)| zone_spec(i, v, &profiles))
                .map(|spec| {
                    let (mut spec, named) = spec?;
                    if !named {
                        spec.device_profile = default_device.clone();
                    }
                    Ok(spec)
                })
                .collect::<Result<_, ConfigError>>()?;
        } else {
            for spec in &mut config.zones {
                spec.device_profile = default_device.clone();
            }
        }
        if let Some(w) = file.weather {
            let d = &mut config.weather;
            d.mean_c = w.mean_c.unwrap_or(d.mean_c);
            d.daily_amplitude_k = w.daily_amplitude_k.unwrap_or(d.daily_amplitude_k);
            d.variation_k = w.variation_k.unwrap_or(d.variation_k);
            d.utc_offset_minutes = w.utc_offset_minutes.unwrap_or(d.utc_offset_minutes);
        }
        config.weather.seed = cli.seed.or(file.seed).unwrap_or(DEFAULT_SEED);
        config.bind = cli.bind.or(file.bind).unwrap_or(config.bind);
        config.base_port = cli.base_port.or(file.base_port).unwrap_or(config.base_port);
        config.start = cli.start.or(file.start);
        if let Some(scale) = file.time_scale {
            heating_core::clock::validate_scale(scale).map_err(|e| ConfigError(format!("time_scale: {e}")))?;
        }
        config.time_scale = cli.time_scale.or(file.time_scale).unwrap_or(1.0);
        if let Some(step) = file.step_s {
            parse_step(&step.to_string()).map_err(|e| ConfigError(format!("step_s: {e}")))?;
        }
        config.step_s = cli.step.or(file.step_s).unwrap_or(DEFAULT_STEP_S);
        let limits = &mut config.connections;
        if let Some(s) =
            cli.idle_timeout_secs.or(in_range("idle_timeout_secs", file.idle_timeout_secs, IDLE_TIMEOUT_SECS_RANGE)?)
        {
            limits.idle_timeout = Duration::from_secs(s);
        }
        if let Some(ms) =
            cli.frame_timeout_ms.or(in_range("frame_timeout_ms", file.frame_timeout_ms, FRAME_TIMEOUT_MS_RANGE)?)
        {
            limits.frame_timeout = Duration::from_millis(ms);
        }
        let max = in_range("max_connections_per_zone", file.max_connections_per_zone, MAX_CONNECTIONS_RANGE)?;
        if let Some(n) = cli.max_connections_per_zone.or(max) {
            limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = cli.zones {
            config.zones = generate(&config.zones, n as usize);
        }
        if let Some(u) = file.units_per_port
            && !(1..=247).contains(&u)
        {
            return Err(ConfigError(format!("units_per_port must be from 1 to 247, got {u}")));
        }
        config.units_per_port = cli.units_per_port.or(file.units_per_port).unwrap_or(1);
        if config.units_per_port > 1 {
            // Behind a gateway: the zones without a port of their own take unit ids 1..=U on each port in turn.
            let u = usize::from(config.units_per_port);
            for (i, spec) in config.zones.iter_mut().enumerate() {
                if spec.port.is_none() {
                    spec.unit_id = u8::try_from(1 + i % u).unwrap_or(u8::MAX);
                }
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks zones, names and ports.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.zones.is_empty() {
            return Err(ConfigError("at least one zone is needed".into()));
        }
        let w = &self.weather;
        for (name, v) in
            [("mean_c", w.mean_c), ("daily_amplitude_k", w.daily_amplitude_k), ("variation_k", w.variation_k)]
        {
            if !v.is_finite() || v.abs() > 60.0 {
                return Err(ConfigError(format!("weather.{name} must be a number within ±60, got {v}")));
            }
        }
        if w.utc_offset_minutes.abs() > 14 * 60 {
            return Err(ConfigError(format!(
                "weather.utc_offset_minutes must be within ±840, got {}",
                w.utc_offset_minutes
            )));
        }
        let c = &self.connections;
        if c.idle_timeout.is_zero() || c.frame_timeout.is_zero() || c.max_connections == 0 {
            return Err(ConfigError(format!(
                "connection limits must be above zero, got idle {:?}, frame {:?}, {} connections per zone",
                c.idle_timeout, c.frame_timeout, c.max_connections
            )));
        }
        if !(1..=247).contains(&self.units_per_port) {
            return Err(ConfigError(format!("units_per_port must be from 1 to 247, got {}", self.units_per_port)));
        }
        let mut names = HashSet::new();
        let mut served: HashMap<Listener, usize> = HashMap::new();
        let mut units: HashMap<(Listener, u8), usize> = HashMap::new();
        for (i, z) in self.zones.iter().enumerate() {
            z.profile.validate().map_err(|e| ConfigError(e.0))?;
            if !names.insert(z.profile.name.as_str()) {
                return Err(ConfigError(format!("zone name {:?} is used twice", z.profile.name)));
            }
            let listener = self.listener_of(i)?;
            *served.entry(listener).or_default() += 1;
            if let Some(other) = units.insert((listener, z.unit_id), i) {
                let port = self.port_of(i)?;
                return Err(ConfigError(format!(
                    "zones {:?} and {:?} both listen on port {port} with unit id {}: zones sharing a port need \
                     distinct unit ids",
                    self.zones[other].profile.name, z.profile.name, z.unit_id
                )));
            }
        }
        Ok(())
    }

    /// The listener zone `index` is served on: zones on one port share it (devices behind one gateway).
    pub fn listener_of(&self, index: usize) -> Result<Listener, ConfigError> {
        let port = self.port_of(index)?;
        Ok(match (port, self.zones[index].port) {
            (0, Some(_)) => Listener::Own(index),
            (0, None) => Listener::Group(index / usize::from(self.units_per_port.max(1))),
            (port, _) => Listener::Port(port),
        })
    }

    /// The port zone `index` listens on (0: ephemeral).
    pub fn port_of(&self, index: usize) -> Result<u16, ConfigError> {
        if let Some(port) = self.zones[index].port {
            return Ok(port);
        }
        if self.base_port == 0 {
            return Ok(0);
        }
        let port = usize::from(self.base_port) + index / usize::from(self.units_per_port.max(1));
        u16::try_from(port).map_err(|_| {
            ConfigError(format!(
                "zone {index} would listen on port {port} (above 65535): lower --base-port or --zones, or raise \
                 --units-per-port"
            ))
        })
    }
}

/// Which listener serves a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Listener {
    /// A fixed port, shared by every zone on it.
    Port(u16),
    /// An ephemeral port (base port 0) shared by a group of `units_per_port` consecutive zones.
    Group(usize),
    /// An ephemeral port of the zone's own (`port = 0` in the config file).
    Own(usize),
}

/// `n` zones cycling through `base`, numbered apart ("Office", ..., "Office 2", ...) and on consecutive ports.
fn generate(base: &[ZoneSpec], n: usize) -> Vec<ZoneSpec> {
    (0..n)
        .map(|i| {
            let mut z = base[i % base.len()].clone();
            let round = i / base.len();
            if round > 0 {
                z.profile.name = format!("{} {}", z.profile.name, round + 1);
            }
            z.port = None;
            z
        })
        .collect()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
