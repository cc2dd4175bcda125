//! The storage interface: every handler and job goes through [`Storage`], never through SQL.
//!
//! `Storage` is an enum over backends; each method forwards to the backend's method of the same name and
//! signature. Backends: SQLite (`sqlite:`) and PostgreSQL (`postgres://`, `postgresql://`). Another backend is a
//! module offering the same methods, its migrations under `migrations/<backend>/`, a variant here, and a scheme
//! match in [`Storage::connect`]; handlers do not change. Times cross this interface as `DateTime<Utc>`; how a
//! backend stores them is its own business (both: BIGINT/INTEGER unix milliseconds).

mod model;
pub mod postgres;
pub mod sqlite;

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::Page;
pub use model::*;

pub use self::postgres::PostgresStorage;
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
    #[error("unsupported database URL (expected sqlite:..., postgres://... or postgresql://...): {0}")]
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
    Postgres(PostgresStorage),
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No connection options: a future backend's options may hold a password.
        match self {
            Self::Sqlite(_) => f.write_str("Storage::Sqlite"),
            Self::Postgres(_) => f.write_str("Storage::Postgres"),
        }
    }
}

/// Forwards a call to the backend.
macro_rules! dispatch {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Storage::Sqlite(s) => s.$method($($arg),*).await,
            Storage::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Storage {
    /// Opens the database named by `url` (`sqlite:...`, `postgres://...` or `postgresql://...`) and applies pending
    /// migrations (idempotent). Any other scheme is `UnsupportedUrl`, naming only the scheme (never the password).
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("sqlite:") {
            let storage = SqliteStorage::connect(url).await?;
            storage.migrate().await?;
            Ok(Self::Sqlite(storage))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let storage = PostgresStorage::connect(url).await?;
            storage.migrate().await?;
            Ok(Self::Postgres(storage))
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
    pub async fn put_hold(&self, hold: &StoredHold) -> Result<(), StorageError> {
        dispatch!(self, put_hold(hold))
    }

    pub async fn delete_hold(&self, zone_id: ZoneId) -> Result<bool, StorageError> {
        dispatch!(self, delete_hold(zone_id))
    }

    pub async fn list_holds(&self) -> Result<Vec<StoredHold>, StorageError> {
        dispatch!(self, list_holds())
    }

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

    /// One zone's readings in `from <= ts < to`, oldest first (by timestamp, then id): the newest `max_rows` of
    /// them, so that a huge range cannot exhaust memory.
    pub async fn readings_between(
        &self,
        zone_id: ZoneId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_rows: i64,
    ) -> Result<Vec<Reading>, StorageError> {
        dispatch!(self, readings_between(zone_id, from, to, max_rows))
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

    // --- history ---

    /// One zone's readings in `query.from <= ts < query.to`, aggregated in the database into at most
    /// `query.points` time buckets (empty ones left out), with the energy used over the range.
    pub async fn zone_history(&self, zone_id: ZoneId, query: HistoryQuery) -> Result<History, StorageError> {
        dispatch!(self, zone_history(zone_id, query))
    }
}

/// Which history to aggregate: the half-open range `from <= ts < to`, cut into `points` buckets of equal width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    points: u32,
}

impl HistoryQuery {
    /// Most buckets one query may ask for.
    pub const MAX_POINTS: u32 = 2000;

    /// `from < to` and `1 <= points <= MAX_POINTS`, or a message naming what is wrong.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, points: u32) -> Result<Self, String> {
        if from >= to {
            return Err("from must be before to".into());
        }
        if !(1..=Self::MAX_POINTS).contains(&points) {
            return Err(format!("points: {points} is outside 1..={}", Self::MAX_POINTS));
        }
        Ok(Self { from, to, points })
    }

    #[must_use]
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    #[must_use]
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    #[must_use]
    pub fn points(&self) -> u32 {
        self.points
    }

    /// Width of one bucket in milliseconds: the range divided by `points`, rounded up (at least 1 ms), so that
    /// `points` buckets always cover the range.
    #[must_use]
    pub fn bucket_ms(&self) -> i64 {
        let span = (self.to - self.from).num_milliseconds();
        let points = i64::from(self.points);
        ((span + points - 1) / points).max(1)
    }
}

/// Minimum, mean and maximum of one quantity over a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

/// The readings that fell into one time bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryBucket {
    /// Start of the bucket (inclusive); it ends at `start + bucket width`, or at the range's end.
    pub start: DateTime<Utc>,
    /// Readings in the bucket (at least one: empty buckets are left out).
    pub count: i64,
    pub temperature: Stats,
    /// `None` when no reading in the bucket carried the value (readings posted by hand).
    pub target_temp: Option<Stats>,
    pub outdoor_temp: Option<Stats>,
    /// Share of the readings with the heater on, 0..=1.
    pub heater_on_fraction: Option<f64>,
    /// Share of the readings with the zone occupied, 0..=1.
    pub occupied_fraction: f64,
}

/// A zone's aggregated history.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Non-empty buckets, oldest first.
    pub buckets: Vec<HistoryBucket>,
    /// Readings in the range.
    pub readings: i64,
    /// Energy used over the range, Wh, from the differences of consecutive energy counter values: a counter that
    /// goes down was reset (its new value counts as used since) or, from within 2²⁴ Wh of 2³², wrapped. `None`
    /// when fewer than two readings carried the counter.
    pub energy_wh: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn history_queries_hold_an_ordered_range_and_a_bounded_bucket_count() {
        let (a, b) = (at("2026-11-27T00:00:00Z"), at("2026-11-27T01:00:00Z"));
        assert!(HistoryQuery::new(a, b, 1).is_ok());
        assert!(HistoryQuery::new(a, b, HistoryQuery::MAX_POINTS).is_ok());
        assert!(HistoryQuery::new(a, b, 0).unwrap_err().contains("points"));
        assert!(HistoryQuery::new(a, b, HistoryQuery::MAX_POINTS + 1).unwrap_err().contains("points"));
        assert!(HistoryQuery::new(b, a, 10).unwrap_err().contains("before"));
        assert!(HistoryQuery::new(a, a, 10).is_err());
    }

    #[test]
    fn buckets_cover_the_range_and_are_at_least_a_millisecond() {
        let a = at("2026-11-27T00:00:00Z");
        let q = |ms: i64, points| HistoryQuery::new(a, a + chrono::Duration::milliseconds(ms), points).unwrap();
        assert_eq!(q(3_600_000, 500).bucket_ms(), 7_200);
        assert_eq!(q(1000, 3).bucket_ms(), 334, "rounded up: 3 buckets of 334 ms cover 1000 ms");
        assert_eq!(q(5, 2000).bucket_ms(), 1, "never 0");
        for (span, points) in [(1000, 3), (7, 2), (604_800_000, 2000), (1, 1)] {
            let w = q(span, points).bucket_ms();
            assert!(w * i64::from(points) >= span, "{span} ms in {points} buckets of {w} ms");
            assert!((span + w - 1) / w <= i64::from(points), "at most {points} buckets");
        }
    }
}
