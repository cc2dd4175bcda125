//! The service layer: every operation the server offers, as plain async functions over [`AppState`], with domain
//! errors ([`ServiceError`]) and no HTTP types. HTTP handlers (`crate::http`) parse a request, call one service
//! and map its error to a status; the demo (and any future CLI) calls the same functions.
//!
//! | module | operations |
//! |---|---|
//! | [`zones`] | the zone registry: create, read, list, update, delete (with their rules), details |
//! | [`control`] | manual control: a target with a hold, cancelling a hold, `POST /commands/`, a zone's commands |
//! | [`readings`] | readings posted by hand, listing readings |
//! | [`history`] | a zone's readings aggregated over a range |
//! | [`models`] | a zone's thermal model (fitted on request or cached) and its predictive plan |
//! | [`status`] | the live picture of the building: zones, jobs, weather |
//! | [`weather`], [`health`] | forecasts from the shared cache; whether the database answers |
//! | [`hosts`] | whether a request's `Host` is one the server answers to |
//!
//! Services use the fleet, storage, strategy and learning modules below them, never HTTP or the jobs.

pub mod control;
pub mod health;
pub mod history;
pub mod hosts;
pub mod models;
pub mod readings;
pub mod status;
pub mod weather;
pub mod zones;

pub use crate::state::AppState;
use crate::storage::{StorageError, Zone, ZoneId};

/// Why a service refused or failed. The message of every variant but `Internal` is written for users.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The zone (or another named thing) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state (a taken name, a zone without a device, history in the way).
    #[error("{0}")]
    Conflict(String),
    /// A value is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A device did not take a write.
    #[error("{0}")]
    Unavailable(String),
    /// The weather provider failed (its public message never holds the key or the upstream URL).
    #[error("{}", .0.public_message())]
    Weather(heating_weather::WeatherError),
    /// A bug or an unavailable database: logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ServiceError {
    #[must_use]
    pub fn zone_not_found() -> Self {
        Self::NotFound("Zone not found".into())
    }
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { what: "zone" } => Self::zone_not_found(),
            StorageError::NotFound { what: "command" } => Self::NotFound("Command not found".into()),
            StorageError::NotFound { what } => Self::NotFound(format!("{what} not found")),
            StorageError::Conflict(msg) => Self::Conflict(msg),
            StorageError::HasHistory { readings, commands } => Self::Conflict(format!(
                "Zone has history (sensor readings: {readings}, commands: {commands}); \
                 delete with ?cascade=true to delete it together with its history"
            )),
            other => Self::Internal(other.into()),
        }
    }
}

/// The zone, or `NotFound`.
pub(crate) async fn require_zone(state: &AppState, id: ZoneId) -> Result<Zone, ServiceError> {
    state.storage.get_zone(id).await?.ok_or_else(ServiceError::zone_not_found)
}
