//! PostgreSQL backend, for large sites. Schema: `migrations/postgres/` (BIGINT milliseconds, DOUBLE PRECISION
//! temperatures, BOOLEAN flags, JSONB preferences, identity ids never reused). The SQL is `sql.rs`'s, the same as
//! SQLite's; this module holds only what PostgreSQL does its own way.
//!
//! Writes that read first take row locks up front: `delete_zone` locks the zone row `FOR UPDATE`, which waits for
//! (and then blocks) concurrent inserts of readings or commands for that zone, whose foreign-key checks lock it
//! `FOR KEY SHARE`. History is read in one `REPEATABLE READ` transaction, so all its statements see one snapshot.

use std::str::FromStr;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, Postgres};

use super::sql::rollups::{self, Level, RollupRow};
use super::sql::{Backend, DbCheck, Reclaimed, SqlStorage};
use super::{NewReading, StorageError};
use crate::time::to_ms;

/// The PostgreSQL storage: a connection pool.
pub type PostgresStorage = SqlStorage<Postgres>;

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

const _: () = assert!(<Postgres as Backend>::ROLLUP_CHUNK * 23 <= 65_535);

/// Longest wait for a connection, at start and from the pool.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Backend for Postgres {
    /// 2000 × 23 = 46 000 bind parameters a statement (checked above).
    const ROLLUP_CHUNK: usize = 2_000;
    /// Waits for transactions storing readings to commit and keeps new ones out, so that the recomputed buckets see
    /// every reading and no concurrent merge is lost (READ COMMITTED reads a fresh snapshot per statement).
    const LOCK_READINGS: Option<&'static str> = Some("LOCK TABLE sensor_readings IN SHARE MODE");
    /// The watermark's row lock: writers of rollups fold one after another (READ COMMITTED would let two fold the
    /// same quarters).
    const LOCK_FOLD: &'static str = "SELECT folded_ms FROM rollup_fold FOR UPDATE";
    /// Writers that only merge into the 1-minute level (most batches) share the row: they never fold, and each
    /// instance writes the buckets of the zones it holds only. A fold (`FOR UPDATE`) waits for them and they for it;
    /// no transaction holding the shared lock ever asks for the exclusive one, so they cannot deadlock.
    const LOCK_FOLD_SHARED: &'static str = "SELECT folded_ms FROM rollup_fold FOR SHARE";
    const BEGIN_WRITE: &'static str = "BEGIN";
    const LOCK_ZONE: &'static str = "SELECT 1 FROM zones WHERE id = $1 FOR UPDATE";
    const BEGIN_SNAPSHOT: &'static str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    const SIZE_BYTES: &'static str = "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()";

    const TABLE_BYTES: &'static str = "SELECT c.relname::text, pg_total_relation_size(c.oid)::bigint FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema()";

    /// One INSERT from nine arrays, one bound parameter each, however large the batch: PostgreSQL parses and plans
    /// one short statement instead of multi-row `VALUES` of 63,000 parameters (half the time of those at 20,000
    /// readings). `WITH ORDINALITY … ORDER BY` keeps the batch's order for the ids.
    async fn insert_reading_rows(conn: &mut PgConnection, readings: &[NewReading]) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(
            "INSERT INTO sensor_readings \
             (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, outdoor_temp, estimated) \
             SELECT zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, outdoor_temp, estimated \
             FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::FLOAT8[], $4::FLOAT8[], $5::BOOLEAN[], $6::BOOLEAN[], \
             $7::BIGINT[], $8::FLOAT8[], $9::BIGINT[]) WITH ORDINALITY AS v(zone_id, ts_ms, temperature, \
             target_temp, occupancy, heater_on, energy_wh, outdoor_temp, estimated, i) ORDER BY i",
        )
        .bind(readings.iter().map(|r| r.zone_id).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| to_ms(r.ts)).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| r.temperature).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| r.target_temp).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| r.occupancy).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| r.heater_on).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| r.energy_wh.map(i64::from)).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| r.outdoor_temp).collect::<Vec<_>>())
        .bind(readings.iter().map(|r| i64::from(r.estimated.bits())).collect::<Vec<_>>())
        .execute(conn)
        .await?;
        Ok(done.rows_affected())
    }

    /// One statement from nine arrays, as [`Self::insert_reading_rows`].
    async fn upsert_single_buckets(
        conn: &mut PgConnection,
        level: Level,
        rows: &[RollupRow],
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "{}UNNEST($1::BIGINT[], $2::BIGINT[], $3::FLOAT8[], $4::FLOAT8[], $5::FLOAT8[], $6::BOOLEAN[], \
             $7::BOOLEAN[], $8::BIGINT[], $9::BIGINT[]) AS v(column1, column2, column3, column4, column5, column6, \
             column7, column8, column9) WHERE TRUE{}",
            rollups::single_select(level),
            rollups::upsert_tail(level)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(rows.iter().map(|r| r.zone_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.bucket_ms).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.temp.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.target.min).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.outdoor.min).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| (r.heater_n == 1).then_some(r.heater_on_n == 1)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.occupied_n == 1).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.energy.first.map(|f| f.0)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.energy.first.map(|f| f.1)).collect::<Vec<_>>())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Connects to the database at `url` (`postgres://user:password@host:5432/db`, or `postgresql://`). Fails at
    /// once if the server cannot be reached or refuses the login.
    async fn connect(url: &str) -> Result<PgPool, StorageError> {
        let options = PgConnectOptions::from_str(url)?.application_name("heating-server");
        // One connection first, so that a refused connection, a failed login or a missing database is reported as
        // such at once (the pool would retry until its timeout and report only that).
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await.map_err(|_| {
            sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from the PostgreSQL server within {} s", CONNECT_TIMEOUT.as_secs()),
            ))
        })??;
        probe.close().await?;
        Ok(PgPoolOptions::new()
            .max_connections(10)
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(600)))
            .max_lifetime(Some(Duration::from_secs(1800)))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?)
    }

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    /// By the constraint's name in the migration.
    fn is_name_taken(error: &dyn DatabaseError) -> bool {
        error.constraint() == Some("zones_name_unique")
    }

    /// Nothing to do: PostgreSQL's autovacuum marks deleted rows' space reusable, so a table under steady inserts
    /// and retention stays the same size; the space is not given back to the file system (that would need
    /// `VACUUM FULL`, which locks the table).
    async fn reclaim_space(
        _pool: &PgPool,
        _max_pages: i64,
        _step_pages: i64,
        _pause: Duration,
        _switch_max_bytes: i64,
    ) -> Result<Option<Reclaimed>, StorageError> {
        Ok(None)
    }

    /// Indexes of the current schema not valid or not ready (a failed `CREATE INDEX CONCURRENTLY`), and the
    /// database's deadlock and checksum-failure counters since the statistics were reset.
    async fn check(pool: &PgPool) -> Result<DbCheck, StorageError> {
        let (invalid,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready)",
        )
        .fetch_one(pool)
        .await?;
        let (deadlocks, checksum_failures): (i64, i64) = sqlx::query_as(
            "SELECT deadlocks, COALESCE(checksum_failures, 0) FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(pool)
        .await?;
        Ok(DbCheck {
            ok: invalid == 0 && checksum_failures == 0,
            detail: format!(
                "invalid indexes: {invalid}, checksum failures: {checksum_failures}, deadlocks: {deadlocks}"
            ),
        })
    }
}
