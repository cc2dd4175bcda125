//! The service layer: every operation the server offers, as plain async functions over [`AppState`], with domain
//! errors ([`ServiceError`]) and no HTTP types. HTTP handlers (`crate::http`) parse a request, call one service
//! and map its error to a status; the demo (and any future CLI) calls the same functions.
//!
//! | module | operations |
//! |---|---|
//! | [`zones`] | the zone registry: create, read, list, update, delete (with their rules), details |
//! | [`groups`] | zone groups (a tree): create, list, rename, move, delete; a group's summary and history |
//! | [`control`] | manual control: a target with a hold, cancelling a hold, `POST /commands/`, a zone's commands |
//! | [`readings`] | readings posted by hand, listing readings |
//! | [`history`] | a zone's readings aggregated over a range |
//! | [`models`] | a zone's thermal model (fitted on request or cached) and its predictive plan |
//! | [`status`] | the live picture of the building: zones, jobs, weather |
//! | [`weather`], [`health`] | forecasts from the shared cache; whether the database answers |
//! | [`metrics`] | the Prometheus metrics (`GET /metrics`), the HTTP requests' hook |
//! | [`hosts`] | whether a request's `Host` is one the server answers to |
//! | [`auth`] | who is asking: a bearer token (or none) to a [`Caller`], failed sign-ins rate limited |
//! | [`alerts`] | alerts: the list, the summary, acknowledging (operator, audited, sent to the webhook) |
//! | [`tokens`], [`audit`] | API tokens (create, list, revoke); the audit log (record, list) |
//!
//! Roles are checked here, at the service boundary: every operation that changes something takes the [`Caller`]
//! and refuses with [`ServiceError::Forbidden`] when its role is too low ([`require`]), and records its name
//! (commands' `actor`, the audit log). Reads need no caller: every authenticated caller is at least a viewer.
//!
//! Services use the fleet, storage, strategy and learning modules below them, never HTTP or the jobs.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod control;
pub mod device_profiles;
pub mod export;
pub mod groups;
pub mod health;
pub mod history;
pub mod hosts;
pub mod metrics;
pub mod models;
pub mod readings;
pub mod rollups;
pub mod status;
pub mod tokens;
pub mod weather;
pub mod zones;

pub use crate::domain::{Caller, Role};
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
    /// No valid credentials: no token where one is needed, or one that is unknown, revoked or expired. The message
    /// never holds the token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller's role is too low; the message names the role needed.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed sign-ins from this client address: try again in `retry_after_secs`.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after_secs: u64 },
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
            StorageError::NotFound { what: "token" } => Self::NotFound("Token not found".into()),
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

/// `Ok` when the caller's role is `needed` or above; else `Forbidden`, naming the role needed.
pub fn require(caller: &Caller, needed: Role) -> Result<(), ServiceError> {
    if caller.may(needed) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "This needs the {needed} role; {:?} has the {} role",
            caller.name, caller.role
        )))
    }
}
