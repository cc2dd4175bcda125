//! SQLite backend: WAL journal, 5 s busy timeout, foreign keys on, file created if missing. Schema:
//! `migrations/sqlite/` (INTEGER milliseconds, REAL temperatures, 0/1 INTEGER flags, TEXT preferences). The SQL is
//! `sql.rs`'s, the same as PostgreSQL's; this module holds only what SQLite does its own way.
//!
//! Writes that read first (delete, batch insert) start with `BEGIN IMMEDIATE`, so that they take the write lock
//! up front and wait out the busy timeout instead of failing when another connection writes meanwhile.

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::sql::rollups::{self, Level, RollupRow};
use super::sql::{Backend, DbCheck, Reclaimed, SqlStorage};
use super::{NewReading, StorageError};
use crate::time::to_ms;

/// The SQLite storage: a connection pool.
pub type SqliteStorage = SqlStorage<Sqlite>;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Rows per multi-row INSERT of readings: 9 parameters a row keeps a statement far below SQLite's parameter limit.
const INSERT_CHUNK: usize = 500;

impl Backend for Sqlite {
    /// 23 parameters a row: 11 500 a statement, below SQLite's limit of 32 766.
    const ROLLUP_CHUNK: usize = 500;
    /// `BEGIN IMMEDIATE` holds the one write lock already.
    const LOCK_READINGS: Option<&'static str> = None;
    /// `BEGIN IMMEDIATE` holds the one write lock already.
    const LOCK_FOLD: &'static str = "SELECT folded_ms FROM rollup_fold";
    /// `BEGIN IMMEDIATE` holds the one write lock already.
    const LOCK_FOLD_SHARED: &'static str = "SELECT folded_ms FROM rollup_fold";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    /// The write lock, taken by `BEGIN IMMEDIATE`, already keeps every other writer out.
    const LOCK_ZONE: &'static str = "SELECT 1 FROM zones WHERE id = $1";
    /// A deferred transaction: its first read fixes the snapshot (WAL).
    const BEGIN_SNAPSHOT: &'static str = "BEGIN";
    const SIZE_BYTES: &'static str = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
    /// `dbstat` (compiled into the bundled SQLite): the pages of every b-tree, indexes counted with their table.
    const TABLE_BYTES: &'static str = "SELECT m.tbl_name, CAST(SUM(s.pgsize) AS INTEGER) FROM dbstat s \
         JOIN sqlite_schema m ON m.name = s.name GROUP BY m.tbl_name";

    /// Multi-row INSERTs of [`INSERT_CHUNK`] rows.
    async fn insert_reading_rows(conn: &mut SqliteConnection, readings: &[NewReading]) -> Result<u64, sqlx::Error> {
        let mut inserted = 0;
        for chunk in readings.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO sensor_readings \
                 (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, outdoor_temp, estimated) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.zone_id)
                    .push_bind(to_ms(r.ts))
                    .push_bind(r.temperature)
                    .push_bind(r.target_temp)
                    .push_bind(r.occupancy)
                    .push_bind(r.heater_on)
                    .push_bind(r.energy_wh.map(i64::from))
                    .push_bind(r.outdoor_temp)
                    .push_bind(i64::from(r.estimated.bits()));
            });
            inserted += qb.build().execute(&mut *conn).await?.rows_affected();
        }
        Ok(inserted)
    }

    /// Multi-row `(VALUES …)` of [`Self::ROLLUP_CHUNK`] rows.
    async fn upsert_single_buckets(
        conn: &mut SqliteConnection,
        level: Level,
        rows: &[RollupRow],
    ) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(Self::ROLLUP_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(rollups::single_select(level));
            qb.push("(");
            qb.push_values(chunk, |mut b, row| {
                b.push_bind(row.zone_id)
                    .push_bind(row.bucket_ms)
                    .push_bind(row.temp.0)
                    .push_bind(row.target.min)
                    .push_bind(row.outdoor.min)
                    .push_bind((row.heater_n == 1).then_some(row.heater_on_n == 1))
                    .push_bind(row.occupied_n == 1)
                    .push_bind(row.energy.first.map(|f| f.0))
                    .push_bind(row.energy.first.map(|f| f.1));
            });
            qb.push(") AS v WHERE TRUE");
            qb.push(rollups::upsert_tail(level));
            qb.build().execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://heating.db?mode=rwc`. Fails at once if the
    /// file cannot be opened.
    async fn connect(url: &str) -> Result<SqlitePool, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Set before the first table exists (a new file), incremental auto-vacuum lets the retention job give
            // freed pages back with `PRAGMA incremental_vacuum`; an older file needs one `VACUUM` (`reclaim_space`).
            .auto_vacuum(SqliteAutoVacuum::Incremental);
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

    /// Deleted rows leave free pages, which later inserts reuse but the file keeps. A file in incremental
    /// auto-vacuum mode gives them back with `PRAGMA incremental_vacuum(n)`, a short write per step. A file created
    /// before this mode was set is switched once by `VACUUM` (logged: it rewrites the file and holds the write lock
    /// meanwhile, so other writers wait), but only if it is at most `switch_max_bytes`: a larger file would hold the
    /// poller's inserts past the busy timeout, so it is left for `heating-server vacuum` with the server stopped.
    async fn reclaim_space(
        pool: &SqlitePool,
        max_pages: i64,
        step_pages: i64,
        pause: Duration,
        switch_max_bytes: i64,
    ) -> Result<Option<Reclaimed>, StorageError> {
        let mut conn = pool.acquire().await?;
        // SQLite computes `auto_vacuum`'s value when it prepares the pragma, from what the connection read of the file
        // header at its last transaction: read something first (the header with it), and never keep the pragma
        // prepared, else a connection opened before the switch goes on answering "none".
        sqlx::query("SELECT COUNT(*) FROM sqlite_schema").execute(&mut *conn).await?;
        let (mode,): (i64,) = sqlx::query_as("PRAGMA auto_vacuum").persistent(false).fetch_one(&mut *conn).await?;
        let mut done = Reclaimed::default();
        if mode != 2 {
            let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count").persistent(false).fetch_one(&mut *conn).await?;
            let (page_size,): (i64,) =
                sqlx::query_as("PRAGMA page_size").persistent(false).fetch_one(&mut *conn).await?;
            let bytes = pages.saturating_mul(page_size);
            if bytes > switch_max_bytes {
                let (free,): (i64,) =
                    sqlx::query_as("PRAGMA freelist_count").persistent(false).fetch_one(&mut *conn).await?;
                return Ok(Some(Reclaimed { switch_deferred_bytes: Some(bytes), free_pages_left: free, ..done }));
            }
            tracing::warn!(pages, "switching the SQLite file to incremental auto-vacuum: a one-time VACUUM");
            let started = std::time::Instant::now();
            sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut *conn).await?;
            sqlx::query("VACUUM").execute(&mut *conn).await?;

            tracing::warn!(seconds = started.elapsed().as_secs_f64(), "SQLite file vacuumed, incremental from now on");
            done.converted = true;
        }
        let step = step_pages.max(1);
        loop {
            let (free,): (i64,) =
                sqlx::query_as("PRAGMA freelist_count").persistent(false).fetch_one(&mut *conn).await?;
            done.free_pages_left = free;
            if free == 0 || done.pages >= max_pages {
                break;
            }
            let n = step.min(free).min(max_pages - done.pages);
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA incremental_vacuum({n})"))).execute(&mut *conn).await?;
            done.pages += n;
            tokio::time::sleep(pause).await;
        }
        Ok(Some(done))
    }

    async fn check(pool: &SqlitePool) -> Result<DbCheck, StorageError> {
        let rows: Vec<(String,)> = sqlx::query_as("PRAGMA quick_check").fetch_all(pool).await?;
        let ok = rows.len() == 1 && rows[0].0 == "ok";
        let detail = if ok {
            "quick_check: ok".to_string()
        } else {
            let shown: Vec<&str> = rows.iter().take(5).map(|r| r.0.as_str()).collect();
            format!("quick_check found {} problem(s): {}", rows.len(), shown.join("; "))
        };
        Ok(DbCheck { ok, detail })
    }
}
