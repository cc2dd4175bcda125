//! The storage interface: every handler and job goes through [`Storage`], never through SQL.
//!
//! `Storage` is an enum over backends; each method forwards to the backend's method of the same name and
//! signature. SQLite is the only backend today. To add PostgreSQL: write `postgres.rs` with a `PgStorage` offering
//! the same methods, its migrations under `migrations/postgres/`, a `Postgres` variant here, and a scheme match in
//! [`Storage::connect`]; handlers do not change. Times cross this interface as `DateTime<Utc>`; how a backend
//! stores them is its own business (SQLite: INTEGER unix milliseconds).

mod model;
pub mod sqlite;

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::Page;
pub use model::*;

pub use self::sqlite::SqliteStorage;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The zone or command does not exist (`what` is "zone" or "command").
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A uniqueness rule refused the write; the message is fit for a user.
    #[error("{0}")]
    Conflict(String),
    /// The zone still has history and the delete was not a cascade.
    #[error("zone has {readings} readings and {commands} commands")]
    HasHistory { readings: i64, commands: i64 },
    /// The URL names no supported backend.
    #[error("unsupported database URL (expected sqlite:...): {0}")]
    UnsupportedUrl(String),
    /// A stored value cannot be read back into its type.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The storage handle. Cheap to clone (backends hold a connection pool).
#[derive(Clone)]
pub enum Storage {
    Sqlite(SqliteStorage),
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No connection options: a future backend's options may hold a password.
        match self {
            Self::Sqlite(_) => f.write_str("Storage::Sqlite"),
        }
    }
}

/// Forwards a call to the backend.
macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Storage::Sqlite(s) => s.$method($($arg),*).await,
        }
    };
}

impl Storage {
    /// Opens the database named by `url` and applies pending migrations (idempotent).
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("sqlite:") {
            let storage = SqliteStorage::connect(url).await?;
            storage.migrate().await?;
            Ok(Self::Sqlite(storage))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StorageError::UnsupportedUrl(format!("scheme {scheme:?}")))
        }
    }

    /// Applies pending migrations. [`Storage::connect`] already does; running it again changes nothing.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        dispatch!(self, migrate())
    }

    /// A trivial query, to tell whether the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        dispatch!(self, ping())
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        dispatch!(self, close())
    }

    // --- zones ---

    /// Creates a zone. `Conflict` when the name, or the host + port + unit id, is taken.
    pub async fn create_zone(&self, fields: &ZoneFields, now: DateTime<Utc>) -> Result<Zone, StorageError> {
        dispatch!(self, create_zone(fields, now))
    }

    pub async fn get_zone(&self, id: ZoneId) -> Result<Option<Zone>, StorageError> {
        dispatch!(self, get_zone(id))
    }

    /// Every zone, by id (for the poller).
    pub async fn list_zones(&self) -> Result<Vec<Zone>, StorageError> {
        dispatch!(self, list_zones())
    }

    /// A page of zones, by id.
    pub async fn list_zones_page(&self, page: Page) -> Result<Vec<Zone>, StorageError> {
        dispatch!(self, list_zones_page(page))
    }

    /// Replaces a zone's writable fields. `NotFound` or `Conflict`.
    pub async fn update_zone(&self, id: ZoneId, fields: &ZoneFields, now: DateTime<Utc>) -> Result<Zone, StorageError> {
        dispatch!(self, update_zone(id, fields, now))
    }

    /// Deletes a zone. With history (readings or commands) it is refused with `HasHistory` unless `cascade`,
    /// which deletes the history too, in the same transaction.
    pub async fn delete_zone(&self, id: ZoneId, cascade: bool) -> Result<(), StorageError> {
        dispatch!(self, delete_zone(id, cascade))
    }

    // --- readings ---

    /// Stores one reading. `NotFound` if the zone does not exist.
    pub async fn insert_reading(&self, reading: &NewReading) -> Result<Reading, StorageError> {
        dispatch!(self, insert_reading(reading))
    }

    /// Stores a batch of readings in one transaction (all or none); returns how many were stored.
    pub async fn insert_readings(&self, readings: &[NewReading]) -> Result<u64, StorageError> {
        dispatch!(self, insert_readings(readings))
    }

    /// All zones' readings, newest first.
    pub async fn list_readings(&self, page: Page) -> Result<Vec<Reading>, StorageError> {
        dispatch!(self, list_readings(page))
    }

    /// One zone's readings, newest first.
    pub async fn list_zone_readings(
        &self,
        zone_id: ZoneId,
        filter: ReadingFilter,
    ) -> Result<Vec<Reading>, StorageError> {
        dispatch!(self, list_zone_readings(zone_id, filter))
    }

    // --- commands ---

    /// Logs a command. `NotFound` if the zone does not exist.
    pub async fn insert_command(&self, command: &NewCommand) -> Result<Command, StorageError> {
        dispatch!(self, insert_command(command))
    }

    /// Sets a command's status and error text (`None` clears it). `NotFound` if there is no such command.
    pub async fn update_command_status(
        &self,
        id: CommandId,
        status: CommandStatus,
        error: Option<&str>,
    ) -> Result<Command, StorageError> {
        dispatch!(self, update_command_status(id, status, error))
    }

    pub async fn get_command(&self, id: CommandId) -> Result<Option<Command>, StorageError> {
        dispatch!(self, get_command(id))
    }

    /// One zone's commands, newest first.
    pub async fn list_zone_commands(&self, zone_id: ZoneId, page: Page) -> Result<Vec<Command>, StorageError> {
        dispatch!(self, list_zone_commands(zone_id, page))
    }
}
