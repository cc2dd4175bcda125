//! SQLite backend: WAL journal, 5 s busy timeout, foreign keys on, file created if missing. Schema:
//! `migrations/sqlite/` (INTEGER milliseconds, REAL temperatures, 0/1 INTEGER flags, TEXT preferences). The SQL is
//! `sql.rs`'s, the same as PostgreSQL's; this module holds only what SQLite does its own way.
//!
//! Writes that read first (delete, batch insert) start with `BEGIN IMMEDIATE`, so that they take the write lock
//! up front and wait out the busy timeout instead of failing when another connection writes meanwhile.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::StorageError;
use super::sql::{Backend, SqlStorage};

/// The SQLite storage: a connection pool.
pub type SqliteStorage = SqlStorage<Sqlite>;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

impl Backend for Sqlite {
    /// 9 parameters a row keeps a statement far below SQLite's parameter limit.
    const INSERT_CHUNK: usize = 500;
    /// 23 parameters a row: 11 500 a statement, below SQLite's limit of 32 766.
    const ROLLUP_CHUNK: usize = 500;
    /// `BEGIN IMMEDIATE` holds the one write lock already.
    const LOCK_READINGS: Option<&'static str> = None;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    /// The write lock, taken by `BEGIN IMMEDIATE`, already keeps every other writer out.
    const LOCK_ZONE: &'static str = "SELECT 1 FROM zones WHERE id = $1";
    /// A deferred transaction: its first read fixes the snapshot (WAL).
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    const SIZE_BYTES: &'static str = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";

    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://heating.db?mode=rwc`. Fails at once if the
    /// file cannot be opened.
    async fn connect(url: &str) -> Result<SqlitePool, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // Every connection to a private in-memory database is a database of its own: keep one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Ok(SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 5 })
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?)
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// SQLite names no constraint, only the columns: "UNIQUE constraint failed: zones.name".
    fn is_name_taken(error: &dyn DatabaseError) -> bool {
        error.message().contains("zones.name")
    }
}
