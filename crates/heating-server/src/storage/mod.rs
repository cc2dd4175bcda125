//! The storage interface: every handler and job goes through [`Storage`], never through SQL.
//!
//! `Storage` is an enum over backends: SQLite (`sqlite:`) and PostgreSQL (`postgres://`, `postgresql://`). Its
//! methods are written once, in `sql.rs` (history in `sql/history.rs`), and run on either backend; each backend
//! module (`sqlite.rs`, `postgres.rs`) implements `sql::Backend` with only what differs: pool setup, migrations,
//! locking and isolation, batch size, a few phrases of history SQL, how errors name constraints. Another backend is
//! such an impl, its migrations under `migrations/<backend>/`, a variant here and in `on_backend!`, and a scheme
//! match in [`Storage::connect`]; handlers do not change. Times cross this interface as `DateTime<Utc>`; how a
//! backend stores them is its own business (both: BIGINT/INTEGER unix milliseconds).

mod model;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Sqlite};

use self::sql::Backend;
pub use model::*;

pub use self::postgres::PostgresStorage;
pub use self::sql::leases::{
    FORWARD_CHANNEL, ForwardState, Forwarded, InstanceIdentity, InstanceRecord, LEASES_CHANNEL, LeaseGrant,
    NewForwarded, Notifications,
};
pub use self::sql::rollups::{RebuildReport, RollupBucket};
pub use self::sql::{DbCheck, Reclaimed, Retained, TABLES};
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
    /// Several instances need PostgreSQL; SQLite mode is single-instance.
    #[error("several server instances need PostgreSQL (SQLite mode is single-instance)")]
    SingleInstance,
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

impl Storage {
    /// Opens the database named by `url` (`sqlite:...`, `postgres://...` or `postgresql://...`) and applies pending
    /// migrations (idempotent). Any other scheme is `UnsupportedUrl`, naming only the scheme (never the password).
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let storage = if url.starts_with("sqlite:") {
            Self::Sqlite(SqliteStorage::new(Sqlite::connect(url).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres(PostgresStorage::new(Postgres::connect(url).await?))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            return Err(StorageError::UnsupportedUrl(format!("scheme {scheme:?}")));
        };
        storage.migrate().await?;
        Ok(storage)
    }

    /// This handle stores readings without updating the rollups, which then fall behind for good (until
    /// `rebuild_rollups`). Not a setting: only for measuring what the rollups cost (the `poll_scale` bench).
    #[doc(hidden)]
    #[must_use]
    pub fn without_rollups(self) -> Self {
        match self {
            Self::Sqlite(s) => Self::Sqlite(SqliteStorage { rollups_off: true, ..s }),
            Self::Postgres(s) => Self::Postgres(PostgresStorage { rollups_off: true, ..s }),
        }
    }

    fn maintains_rollups(&self) -> bool {
        match self {
            Self::Sqlite(s) => !s.rollups_off,
            Self::Postgres(s) => !s.rollups_off,
        }
    }
}

/// Which data answered a history query: the raw readings, or a rollup level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    Raw,
    /// `readings_1m`.
    Minute,
    /// `readings_15m`.
    Quarter,
    /// `readings_1h`.
    Hour,
}

impl Resolution {
    /// `raw`, `1m`, `15m`, `1h`: as the API names it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Minute => "1m",
            Self::Quarter => "15m",
            Self::Hour => "1h",
        }
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
    /// Where the buckets came from: the coarsest rollup level whose buckets are at most as wide as the buckets asked
    /// for (the raw answer exactly where they align with it), or the raw readings: when there is no such level, or
    /// the buckets do not align with it and the range is at most 6 hours.
    pub resolution: Resolution,
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
