//! The master side of a zone's register map, as its device profile describes it.
//!
//! A link reads and writes through a [`device_profile::Profile`] (default `heating-sim`, README's register map):
//! [`ZoneLink::read_device`] sends one request per block of the profile's read plan (FC01/02/03/04) and decodes
//! [`DeviceValues`], an implausible value being [`ZoneError::InvalidReading`] (the device answered: degraded);
//! [`ZoneLink::write_target_value`] writes with the profile's function (FC06/FC16/FC05) and reads back to confirm
//! within the profile's step; [`ZoneLink::probe`] reads every point once for commissioning. [`ZoneLink::read`] and
//! [`ZoneLink::write_target`] keep the [`ZoneSnapshot`] form of the `heating-sim` map.
//!
//! A [`ZoneLink`] talks over one persistent Modbus TCP [`Connection`] and reuses it across requests; zones behind
//! one gateway (same host and port, distinct unit ids) may share one ([`ZoneLink::on_connection`]).
//! Every request has a deadline (tokio-modbus has none of its own). Failures are kept apart, as the protocol
//! does: [`ZoneError::Exception`] means the device answered and said no; [`ZoneError::Timeout`] and
//! [`ZoneError::Unreachable`] mean it did not answer at all. After a transport failure the connection is dropped
//! (a late answer would otherwise be taken for the next request's) and reconnection waits an exponentially
//! growing, capped delay, during which requests fail fast with [`ZoneError::BackingOff`] instead of stalling the
//! caller. The link keeps a [`Health`] record that the server shows per zone.

mod connection;
mod device;
mod probe;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use device_profile::{InvalidReading, Profile, ReadPlan};
use heating_core::registers::{DecodeError, ZoneSnapshot};
use heating_core::units::Setpoint;
use serde::Serialize;
use tokio::time::Instant;
use tokio_modbus::prelude::ExceptionCode;

pub use connection::Connection;
pub use device::DeviceReading;
pub use device_profile::{DeviceValues, PointKind, Raw};
pub use probe::{PointProbe, ProbeReport, probe};

/// Where a zone listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub unit_id: u8,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} unit {}", self.host, self.port, self.unit_id)
    }
}

/// Timing of requests and reconnection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Deadline for one request (connect, or one Modbus transaction).
    pub request_timeout: Duration,
    /// First reconnection delay after a failure.
    pub backoff_initial: Duration,
    /// Longest reconnection delay.
    pub backoff_max: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(1),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Why a request to a zone failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZoneError {
    /// The device answered with a Modbus exception: it is there, and it said no.
    #[error("device answered with exception {code:#04x} ({name})")]
    Exception { code: u8, name: &'static str },
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection could not be made or broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The device answered something the register map does not allow.
    #[error("invalid answer: {0}")]
    Invalid(String),
    /// The device answered with a value that cannot be true (NaN, 6553.5 °C, a flag of 7): never a reading.
    #[error("{0}")]
    InvalidReading(InvalidReading),
    /// The target cannot be written with this device's profile (outside its range, not a number); nothing was
    /// sent.
    #[error("target refused by the device profile: {0}")]
    BadTarget(String),
    /// A recent failure put the link in backoff; no request was sent.
    #[error("reconnecting in {0:?} after: {1}")]
    BackingOff(Duration, String),
    /// A write was acknowledged but reading back showed another value (°C, beyond half the profile's step).
    #[error("write not confirmed: wrote {wrote} °C, device holds {holds} °C")]
    NotConfirmed { wrote: f64, holds: f64 },
}

impl ZoneError {
    /// Whether the device itself answered (as opposed to not being reachable).
    #[must_use]
    pub fn device_answered(&self) -> bool {
        matches!(self, Self::Exception { .. } | Self::Invalid(_) | Self::InvalidReading(_) | Self::NotConfirmed { .. })
    }
}

fn exception_name(code: ExceptionCode) -> &'static str {
    match code {
        ExceptionCode::IllegalFunction => "illegal function",
        ExceptionCode::IllegalDataAddress => "illegal data address",
        ExceptionCode::IllegalDataValue => "illegal data value",
        ExceptionCode::ServerDeviceFailure => "server device failure",
        ExceptionCode::Acknowledge => "acknowledge",
        ExceptionCode::ServerDeviceBusy => "server device busy",
        ExceptionCode::MemoryParityError => "memory parity error",
        ExceptionCode::GatewayPathUnavailable => "gateway path unavailable",
        ExceptionCode::GatewayTargetDevice => "gateway target device failed to respond",
        ExceptionCode::Custom(_) => "non-standard exception",
    }
}

impl From<DecodeError> for ZoneError {
    fn from(e: DecodeError) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<InvalidReading> for ZoneError {
    fn from(e: InvalidReading) -> Self {
        Self::InvalidReading(e)
    }
}

/// Connection health of a zone, as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// No request made yet.
    Unknown,
    /// The last request succeeded.
    Online,
    /// The device answers, but the last request failed (an exception, an invalid answer), or one transport failure.
    Degraded,
    /// Two or more transport failures in a row: the zone is not reachable; reconnection is in backoff.
    Offline,
}

/// Health record of one link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub state: HealthState,
    /// When the device last answered anything (UTC, from the caller's clock).
    pub last_seen: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Seconds until the next reconnection attempt, while in backoff.
    pub retry_in_s: Option<f64>,
}

/// Transport failures in a row from which a zone counts as offline.
pub const OFFLINE_AFTER_FAILURES: u32 = 2;

static HEATING_SIM: LazyLock<Arc<Profile>> = LazyLock::new(|| {
    Arc::new(device_profile::builtin(device_profile::DEFAULT_PROFILE).expect("the default profile is built in"))
});

/// The default profile (`heating-sim`, README's register map), parsed once.
#[must_use]
pub fn default_profile() -> Arc<Profile> {
    HEATING_SIM.clone()
}

/// One zone's side of a persistent connection: the connection is its own, or shared with the other zones behind
/// the same gateway ([`ZoneLink::on_connection`]); backoff after the zone's failures and health are the zone's.
pub struct ZoneLink {
    endpoint: Endpoint,
    config: LinkConfig,
    profile: Arc<Profile>,
    plan: Arc<ReadPlan>,
    connection: Connection,
    /// While set, requests fail fast until this instant.
    retry_at: Option<Instant>,
    next_backoff: Duration,
    state: HealthState,
    last_seen: Option<DateTime<Utc>>,
    last_error: Option<String>,
    consecutive_failures: u32,
}

impl std::fmt::Debug for ZoneLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneLink")
            .field("endpoint", &self.endpoint)
            .field("profile", &self.profile.name)
            .field("connected", &self.connection.is_connected())
            .field("health", &self.health())
            .finish_non_exhaustive()
    }
}

impl ZoneLink {
    /// A link speaking the default profile (`heating-sim`).
    #[must_use]
    pub fn new(endpoint: Endpoint, config: LinkConfig) -> Self {
        Self::with_profile(endpoint, config, default_profile())
    }

    /// A link speaking `profile` (validated: a [`Profile`] from `from_toml` or the built-ins).
    #[must_use]
    pub fn with_profile(endpoint: Endpoint, config: LinkConfig, profile: Arc<Profile>) -> Self {
        Self::on_connection(endpoint, config, profile, Connection::new())
    }

    /// A link speaking `profile` over `connection`, which other links to zones behind the same gateway (same host
    /// and port, other unit ids) may share: their requests then go one at a time, each with its zone's unit id.
    #[must_use]
    pub fn on_connection(
        endpoint: Endpoint,
        config: LinkConfig,
        profile: Arc<Profile>,
        connection: Connection,
    ) -> Self {
        Self {
            plan: Arc::new(ReadPlan::new(&profile)),
            profile,
            endpoint,
            next_backoff: config.backoff_initial,
            config,
            connection,
            retry_at: None,
            state: HealthState::Unknown,
            last_seen: None,
            last_error: None,
            consecutive_failures: 0,
        }
    }

    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    #[must_use]
    pub fn profile(&self) -> &Arc<Profile> {
        &self.profile
    }

    /// The requests one read makes.
    #[must_use]
    pub fn plan(&self) -> &ReadPlan {
        &self.plan
    }

    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.connection.is_connected()
    }

    /// The connection the link sends on (shared with the zones behind the same gateway, if any).
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    #[must_use]
    pub fn health(&self) -> Health {
        Health {
            state: self.state,
            last_seen: self.last_seen,
            last_error: self.last_error.clone(),
            consecutive_failures: self.consecutive_failures,
            retry_in_s: self
                .retry_at
                .map(|at| at.saturating_duration_since(Instant::now()).as_secs_f64())
                .filter(|s| *s > 0.0),
        }
    }

    /// Reads the device as a [`ZoneSnapshot`] (the `heating-sim` map's form; with the default profile, one FC03
    /// request of registers 0-7). A profile lacking a point the snapshot needs gives [`ZoneError::Invalid`]: use
    /// [`ZoneLink::read_device`] for those. `now` is the caller's clock, recorded as "last seen".
    pub async fn read(&mut self, now: DateTime<Utc>) -> Result<ZoneSnapshot, ZoneError> {
        let result = self.read_values().await.and_then(|v| self.snapshot(&v));
        self.record(&result, now);
        result
    }

    /// Writes a new target with the profile's write function, then reads the device back to confirm it.
    pub async fn write_target(&mut self, target: Setpoint, now: DateTime<Utc>) -> Result<ZoneSnapshot, ZoneError> {
        let result = self.write_and_confirm(target.celsius()).await.and_then(|r| self.snapshot(&r.values));
        self.record(&result, now);
        result
    }

    /// The snapshot form of decoded values: every point of the `heating-sim` map must be there.
    fn snapshot(&self, v: &DeviceValues) -> Result<ZoneSnapshot, ZoneError> {
        let missing = |what: &str| {
            ZoneError::Invalid(format!(
                "profile {} has no {what} point, which a zone snapshot needs",
                self.profile.name
            ))
        };
        Ok(ZoneSnapshot {
            air_temperature: v.air_temperature,
            target: Setpoint::from_celsius(v.target).map_err(|e| ZoneError::Invalid(e.to_string()))?,
            occupied: v.occupied.ok_or_else(|| missing("occupancy"))?,
            heater_on: v.heater_on.ok_or_else(|| missing("heater"))?,
            energy_wh: v.energy_wh.ok_or_else(|| missing("energy"))? as u32,
            outdoor_temperature: v.outdoor_temperature.ok_or_else(|| missing("outdoor_temperature"))?,
            heater_power_w: v.rated_power_w.ok_or_else(|| missing("rated_power"))? as u16,
        })
    }

    fn unpack<T>(
        answer: Result<tokio_modbus::Result<T>, tokio::time::error::Elapsed>,
        deadline: Duration,
    ) -> Result<T, ZoneError> {
        match answer {
            Err(_) => Err(ZoneError::Timeout(deadline)),
            Ok(Err(e)) => Err(ZoneError::Unreachable(e.to_string())),
            Ok(Ok(Err(code))) => Err(ZoneError::Exception { code: u8::from(code), name: exception_name(code) }),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }

    fn record<T>(&mut self, result: &Result<T, ZoneError>, now: DateTime<Utc>) {
        match result {
            Ok(_) => {
                self.state = HealthState::Online;
                self.last_seen = Some(now);
                self.consecutive_failures = 0;
                self.retry_at = None;
                self.next_backoff = self.config.backoff_initial;
            }
            Err(ZoneError::BackingOff(..) | ZoneError::BadTarget(_)) => {
                // Nothing was tried; the record stands.
            }
            Err(e) if e.device_answered() => {
                self.state = HealthState::Degraded;
                self.last_seen = Some(now);
                self.last_error = Some(e.to_string());
                self.consecutive_failures += 1;
            }
            Err(e) => {
                // The connection was dropped (it may hold a late answer to this request); start afresh after a
                // pause.
                self.consecutive_failures += 1;
                self.last_error = Some(e.to_string());
                self.state = if self.consecutive_failures >= OFFLINE_AFTER_FAILURES {
                    HealthState::Offline
                } else {
                    HealthState::Degraded
                };
                self.retry_at = Some(Instant::now() + self.next_backoff);
                self.next_backoff = (self.next_backoff * 2).min(self.config.backoff_max);
                tracing::debug!(endpoint = %self.endpoint, failures = self.consecutive_failures, "zone request failed: {e}");
            }
        }
    }
}
