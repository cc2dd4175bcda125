//! The one SQL implementation of [`Storage`]'s methods, for every backend: queries and error rules are written once
//! here, history in `sql/history.rs`, row mapping in `sql/rows.rs`. A backend (`sqlite.rs`, `postgres.rs`)
//! implements [`Backend`]: its pool and migrations, and the few places where the databases really differ (locking,
//! isolation, batch size, a few phrases of the history SQL, how an error names a unique constraint).
//!
//! How one text serves both: each method's body is written once inside `on_backend!`, which runs it with `pool`
//! bound to the backend's pool and `B` naming its sqlx driver, so the body is compiled once per backend with concrete
//! types. That reads as plain sqlx code: no generic signatures and no list of trait bounds on every method (a
//! `Database`-generic implementation needs both, and Rust does not carry such bounds over from a trait), and nothing
//! is lost to `sqlx::Any` (which would drop JSONB, BOOLEAN and the exact integer types). Only row mapping is generic
//! (`sql/rows.rs`), with its bounds written once. The SQL is portable:
//! - numbered placeholders `$1` (sqlx-sqlite reads `$NNN` as parameter NNN, so a number used twice is bound once);
//! - preferences bound as [`Json`] (JSONB on PostgreSQL, TEXT on SQLite), read back as `CAST(.. AS TEXT)`;
//! - flags bound and read as `bool` (BOOLEAN, or SQLite's 0/1 INTEGER), times as unix milliseconds.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::error::DatabaseError;
use sqlx::migrate::Migrator;
use sqlx::types::Json;
use sqlx::{Database, Pool, QueryBuilder, Row};

use self::rows::ReadRow;
use super::model::*;
use super::{Storage, StorageError};
use crate::domain::Page;
use crate::time::to_ms;

/// What differs between the backends; implemented by `sqlx::Sqlite` and `sqlx::Postgres`.
pub trait Backend: Database {
    /// Starts a transaction that reads, then writes (`delete_zone`, `insert_readings`).
    const BEGIN_WRITE: &'static str;
    /// The first statement of `delete_zone`: whether zone `$1` exists, keeping new history out until commit.
    const LOCK_ZONE: &'static str;
    /// Starts the read-only transaction of `zone_history`, so that all its statements see one snapshot.
    const BEGIN_SNAPSHOT: &'static str;
    /// Rows per multi-row UPSERT of rollups (23 parameters a row), below the backend's bind-parameter limit.
    const ROLLUP_CHUNK: usize;
    /// In `rebuild_rollups`' write transaction: what keeps new readings out until it commits, if `BEGIN_WRITE`
    /// does not already.
    const LOCK_READINGS: Option<&'static str>;
    /// The first rollup statement of every transaction that writes rollups: reads the coarser levels' watermark
    /// (`rollup_fold.folded_ms`, one BIGINT) and keeps the other writers' folds out until it commits, if
    /// `BEGIN_WRITE` does not already.
    const LOCK_FOLD: &'static str;
    /// The same for a batch that will not move the watermark: keeps folds out, not the other writers of the
    /// 1-minute level, so instances storing readings of their own zones do not wait for each other.
    const LOCK_FOLD_SHARED: &'static str;
    /// The database's size in bytes, one BIGINT (`Storage::database_size_bytes`).
    const SIZE_BYTES: &'static str;
    /// Rows (table name, bytes with its indexes) of the server's tables (`Storage::table_bytes`).
    const TABLE_BYTES: &'static str;

    /// Appends `readings` to `sensor_readings` on `conn`, inside the caller's transaction, in the backend's fastest
    /// bulk form, rows in batch order (ids follow it); returns how many were stored.
    fn insert_reading_rows(
        conn: &mut Self::Connection,
        readings: &[NewReading],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
    /// Merges `rows`, buckets of one reading each, into the rollup `level` on `conn`, inside the caller's
    /// transaction: [`rollups::single_select`], the rows as `column1` to `column9`, then [`rollups::upsert_tail`].
    fn upsert_single_buckets(
        conn: &mut Self::Connection,
        level: rollups::Level,
        rows: &[rollups::RollupRow],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    /// Opens a pool on `url`; fails at once if the database cannot be reached. Does not migrate.
    fn connect(url: &str) -> impl Future<Output = Result<Pool<Self>, StorageError>> + Send;
    /// The migrations embedded from `migrations/<backend>/`.
    fn migrator() -> &'static Migrator;
    /// Whether a unique violation on `zones` is the one on its name (else it is on the Modbus endpoint).
    fn is_name_taken(error: &dyn DatabaseError) -> bool;
    /// Gives free space back to the file system after deletions, if the backend needs to (`Storage::reclaim_space`).
    fn reclaim_space(
        pool: &Pool<Self>,
        max_pages: i64,
        step_pages: i64,
        pause: std::time::Duration,
        switch_max_bytes: i64,
    ) -> impl Future<Output = Result<Option<lifecycle::Reclaimed>, StorageError>> + Send;
    /// A cheap consistency check (`Storage::check`).
    fn check(pool: &Pool<Self>) -> impl Future<Output = Result<lifecycle::DbCheck, StorageError>> + Send;
}

/// One backend's storage: its connection pool.
#[derive(Debug)]
pub struct SqlStorage<DB: Database> {
    pub(super) pool: Pool<DB>,
    /// Readings are stored without updating the rollups (see [`Storage::without_rollups`]).
    pub(super) rollups_off: bool,
}

impl<DB: Database> SqlStorage<DB> {
    pub(super) fn new(pool: Pool<DB>) -> Self {
        Self { pool, rollups_off: false }
    }
}

impl<DB: Database> Clone for SqlStorage<DB> {
    fn clone(&self) -> Self {
        Self { pool: self.pool.clone(), rollups_off: self.rollups_off }
    }
}

/// `on_backend!(storage, |pool, B| { body })`: `body` with `pool` the backend's `&Pool<B>` and `B` its driver,
/// once per backend. `?` and `.await` in the body act on the enclosing method.
macro_rules! on_backend {
    ($storage:expr, |$pool:ident $(, $db:ident)?| $body:block) => {
        match $storage {
            Storage::Sqlite(s) => {
                $(type $db = sqlx::Sqlite;)?
                let $pool = &s.pool;
                $body
            }
            Storage::Postgres(s) => {
                $(type $db = sqlx::Postgres;)?
                let $pool = &s.pool;
                $body
            }
        }
    };
}

mod access;
mod alerts;
mod history;
mod history_rollups;
pub(super) mod lifecycle;
mod profiles;
pub(crate) mod rollups;
mod rows;
mod stats;

pub use lifecycle::{DbCheck, Reclaimed, Retained};
pub use stats::TABLES;

/// The columns each row mapping reads, for `concat!`.
macro_rules! columns {
    (zones) => {
        "id, name, CAST(preferences AS TEXT) AS preferences, modbus_host, modbus_port, modbus_unit_id, device_profile, \
         rated_power_w, group_id, created_ms, updated_ms"
    };
    (readings) => {
        "id, zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, outdoor_temp, estimated"
    };
    (commands) => {
        "id, zone_id, ts_ms, target_temp, source, reason, status, error, actor"
    };
}

mod export;
mod groups;
pub(crate) mod leases;

impl Storage {
    /// Applies pending migrations. [`Storage::connect`] already does; running it again changes nothing.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        on_backend!(self, |pool, B| { Ok(B::migrator().run(pool).await?) })
    }

    /// A trivial query, to tell whether the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        on_backend!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    /// Closes every connection, waiting for running queries.
    pub async fn close(&self) {
        on_backend!(self, |pool| { pool.close().await })
    }

    // --- zones ---

    /// Creates a zone. `Conflict` when the name, or the host + port + unit id, is taken.
    pub async fn create_zone(&self, f: &ZoneFields, now: DateTime<Utc>) -> Result<Zone, StorageError> {
        let sql = concat!(
            "INSERT INTO zones (name, preferences, modbus_host, modbus_port, modbus_unit_id, created_ms, updated_ms, ",
            "device_profile, rated_power_w) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8) RETURNING ",
            columns!(zones)
        );
        self.write_zone(sql, f, now, None).await?.ok_or_else(|| sqlx::Error::RowNotFound.into())
    }

    pub async fn get_zone(&self, id: ZoneId) -> Result<Option<Zone>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!("SELECT ", columns!(zones), " FROM zones WHERE id = $1");
            sqlx::query(sql).bind(id).fetch_optional(pool).await?.as_ref().map(ReadRow::zone).transpose()
        })
    }

    /// Every zone, by id (for the poller).
    pub async fn list_zones(&self) -> Result<Vec<Zone>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!("SELECT ", columns!(zones), " FROM zones ORDER BY id");
            sqlx::query(sql).fetch_all(pool).await?.iter().map(ReadRow::zone).collect()
        })
    }

    /// A page of zones, by id.
    pub async fn list_zones_page(&self, page: Page) -> Result<Vec<Zone>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!("SELECT ", columns!(zones), " FROM zones ORDER BY id LIMIT $1 OFFSET $2");
            let rows = sqlx::query(sql).bind(page.limit()).bind(page.skip()).fetch_all(pool).await?;
            rows.iter().map(ReadRow::zone).collect()
        })
    }

    /// Replaces a zone's writable fields. `NotFound` or `Conflict`.
    pub async fn update_zone(&self, id: ZoneId, f: &ZoneFields, now: DateTime<Utc>) -> Result<Zone, StorageError> {
        let sql = concat!(
            "UPDATE zones SET name = $1, preferences = $2, modbus_host = $3, modbus_port = $4, modbus_unit_id = $5, ",
            "updated_ms = $6, device_profile = $7, rated_power_w = $8 WHERE id = $9 RETURNING ",
            columns!(zones)
        );
        self.write_zone(sql, f, now, Some(id)).await?.ok_or(StorageError::NotFound { what: "zone" })
    }

    /// Runs `sql` with the zone's fields as `$1`..`$5`, `now` as `$6`, the device profile and rated power as `$7`,
    /// `$8` and `id` (if any) as `$9`; the zone written.
    async fn write_zone(
        &self,
        sql: &'static str,
        f: &ZoneFields,
        now: DateTime<Utc>,
        id: Option<ZoneId>,
    ) -> Result<Option<Zone>, StorageError> {
        on_backend!(self, |pool, B| {
            let query = sqlx::query(sql)
                .bind(f.name.as_str())
                .bind(Json(f.preferences.to_json()))
                .bind(f.modbus_host.as_str())
                .bind(f.modbus_port.map(|p| i64::from(p.get())))
                .bind(i64::from(f.modbus_unit_id))
                .bind(to_ms(now))
                .bind(f.device_profile.as_str())
                .bind(f.rated_power_w);
            let query = if let Some(id) = id { query.bind(id) } else { query };
            let row = query.fetch_optional(pool).await.map_err(|e| zone_write_error::<B>(e, f))?;
            row.as_ref().map(ReadRow::zone).transpose()
        })
    }

    /// Deletes a zone. With history (readings, raw or rolled up, or commands) it is refused with `HasHistory` unless
    /// `cascade`, which deletes the history too, in the same transaction (the rollups by their foreign key). That transaction checks the zone first and keeps
    /// new readings and commands for it out until it ends (`Backend::BEGIN_WRITE`, `Backend::LOCK_ZONE`).
    pub async fn delete_zone(&self, id: ZoneId, cascade: bool) -> Result<(), StorageError> {
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
            if sqlx::query(B::LOCK_ZONE).bind(id).fetch_optional(&mut *tx).await?.is_none() {
                return Err(StorageError::NotFound { what: "zone" });
            }
            if cascade {
                sqlx::query("DELETE FROM sensor_readings WHERE zone_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM commands WHERE zone_id = $1").bind(id).execute(&mut *tx).await?;
            } else {
                // Readings whose raw rows have expired still count, from the hourly rollups (and the minutes not
                // yet folded into them).
                let row = sqlx::query(concat!(
                    "SELECT (SELECT COUNT(*) FROM sensor_readings WHERE zone_id = $1) AS readings, ",
                    "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM readings_1h WHERE zone_id = $1) ",
                    "+ (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM readings_1m WHERE zone_id = $1 ",
                    "AND bucket_ms >= (SELECT folded_ms FROM rollup_fold)) AS rolled, ",
                    "(SELECT COUNT(*) FROM commands WHERE zone_id = $1) AS commands"
                ))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                let (raw, rolled): (i64, i64) = (row.try_get("readings")?, row.try_get("rolled")?);
                let (readings, commands): (i64, i64) = (raw.max(rolled), row.try_get("commands")?);
                if readings > 0 || commands > 0 {
                    return Err(StorageError::HasHistory { readings, commands });
                }
            }
            sqlx::query("DELETE FROM zones WHERE id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    // --- holds ---

    /// Stores the zone's hold, replacing any other; `NotFound` if the zone does not exist.
    pub async fn put_hold(&self, h: &StoredHold) -> Result<(), StorageError> {
        on_backend!(self, |pool| {
            sqlx::query(concat!(
                "INSERT INTO zone_holds (zone_id, target_temp, until_ms, occupied_at_start, set_ms, source) ",
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (zone_id) DO UPDATE SET ",
                "target_temp = excluded.target_temp, until_ms = excluded.until_ms, ",
                "occupied_at_start = excluded.occupied_at_start, set_ms = excluded.set_ms, source = excluded.source"
            ))
            .bind(h.zone_id)
            .bind(h.target.celsius())
            .bind(h.until.map(to_ms))
            .bind(h.occupied_at_start)
            .bind(to_ms(h.set_at))
            .bind(h.source.as_str())
            .execute(pool)
            .await
            .map_err(history_write_error)?;
            Ok(())
        })
    }

    /// Removes the zone's hold; whether there was one.
    pub async fn delete_hold(&self, zone_id: ZoneId) -> Result<bool, StorageError> {
        on_backend!(self, |pool| {
            let done = sqlx::query("DELETE FROM zone_holds WHERE zone_id = $1").bind(zone_id).execute(pool).await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Every stored hold, by zone id.
    pub async fn list_holds(&self) -> Result<Vec<StoredHold>, StorageError> {
        on_backend!(self, |pool| {
            let sql = "SELECT zone_id, target_temp, until_ms, occupied_at_start, set_ms, source FROM zone_holds \
                       ORDER BY zone_id";
            sqlx::query(sql).fetch_all(pool).await?.iter().map(ReadRow::hold).collect()
        })
    }

    // --- readings ---

    /// Stores one reading, and merges it into the rollups in the same transaction. `NotFound` if the zone does not
    /// exist.
    pub async fn insert_reading(&self, r: &NewReading) -> Result<Reading, StorageError> {
        let maintain = self.maintains_rollups();
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
            let row = sqlx::query(concat!(
                "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, ",
                "energy_wh, outdoor_temp, estimated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
                columns!(readings)
            ))
            .bind(r.zone_id)
            .bind(to_ms(r.ts))
            .bind(r.temperature)
            .bind(r.target_temp)
            .bind(r.occupancy)
            .bind(r.heater_on)
            .bind(r.energy_wh.map(i64::from))
            .bind(r.outdoor_temp)
            .bind(i64::from(r.estimated.bits()))
            .fetch_one(&mut *tx)
            .await
            .map_err(history_write_error)?;
            if maintain {
                rollups::maintain_rollups!(tx, B, std::slice::from_ref(r));
            }
            tx.commit().await?;
            row.reading()
        })
    }

    /// Stores a batch of readings in one transaction (all or none), rollups included; returns how many were
    /// stored. `Backend::insert_reading_rows`, in a `Backend::BEGIN_WRITE` transaction.
    pub async fn insert_readings(&self, readings: &[NewReading]) -> Result<u64, StorageError> {
        if readings.is_empty() {
            return Ok(0);
        }
        let maintain = self.maintains_rollups();
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
            let inserted = B::insert_reading_rows(&mut tx, readings).await.map_err(history_write_error)?;
            if maintain {
                rollups::maintain_rollups!(tx, B, readings);
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    /// All zones' readings, newest first.
    pub async fn list_readings(&self, page: Page) -> Result<Vec<Reading>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!(
                "SELECT ",
                columns!(readings),
                " FROM sensor_readings ORDER BY ts_ms DESC, id DESC LIMIT $1 OFFSET $2"
            );
            let rows = sqlx::query(sql).bind(page.limit()).bind(page.skip()).fetch_all(pool).await?;
            rows.iter().map(ReadRow::reading).collect()
        })
    }

    /// One zone's readings, newest first.
    pub async fn list_zone_readings(&self, zone_id: ZoneId, f: ReadingFilter) -> Result<Vec<Reading>, StorageError> {
        on_backend!(self, |pool, B| {
            let mut qb = QueryBuilder::<B>::new(concat!(
                "SELECT ",
                columns!(readings),
                " FROM sensor_readings WHERE zone_id = "
            ));
            qb.push_bind(zone_id);
            if let Some(from) = f.from {
                qb.push(" AND ts_ms >= ").push_bind(to_ms(from));
            }
            if let Some(to) = f.to {
                qb.push(" AND ts_ms < ").push_bind(to_ms(to));
            }
            qb.push(" ORDER BY ts_ms DESC, id DESC LIMIT ").push_bind(f.page.limit());
            qb.push(" OFFSET ").push_bind(f.page.skip());
            qb.build().fetch_all(pool).await?.iter().map(ReadRow::reading).collect()
        })
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
        on_backend!(self, |pool| {
            let rows = sqlx::query(concat!(
                "SELECT * FROM (SELECT ",
                columns!(readings),
                " FROM sensor_readings WHERE zone_id = $1 AND ts_ms >= $2 AND ts_ms < $3 ",
                "ORDER BY ts_ms DESC, id DESC LIMIT $4) AS newest ORDER BY ts_ms, id"
            ))
            .bind(zone_id)
            .bind(to_ms(from))
            .bind(to_ms(to))
            .bind(max_rows.max(0))
            .fetch_all(pool)
            .await?;
            rows.iter().map(ReadRow::reading).collect()
        })
    }

    // --- commands ---

    /// Logs a command. `NotFound` if the zone does not exist.
    pub async fn insert_command(&self, c: &NewCommand) -> Result<Command, StorageError> {
        on_backend!(self, |pool| {
            let row = sqlx::query(concat!(
                "INSERT INTO commands (zone_id, ts_ms, target_temp, source, reason, status, actor) ",
                "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
                columns!(commands)
            ))
            .bind(c.zone_id)
            .bind(to_ms(c.ts))
            .bind(c.target_temp.celsius())
            .bind(c.source.as_str())
            .bind(c.reason.as_deref())
            .bind(c.status.as_str())
            .bind(c.actor.as_str())
            .fetch_one(pool)
            .await
            .map_err(history_write_error)?;
            row.command()
        })
    }

    /// Sets a command's status and error text (`None` clears it). `NotFound` if there is no such command.
    pub async fn update_command_status(
        &self,
        id: CommandId,
        status: CommandStatus,
        error: Option<&str>,
    ) -> Result<Command, StorageError> {
        on_backend!(self, |pool| {
            let sql =
                concat!("UPDATE commands SET status = $1, error = $2 WHERE id = $3 RETURNING ", columns!(commands));
            let row = sqlx::query(sql).bind(status.as_str()).bind(error).bind(id).fetch_optional(pool).await?;
            row.as_ref().map_or(Err(StorageError::NotFound { what: "command" }), ReadRow::command)
        })
    }

    pub async fn get_command(&self, id: CommandId) -> Result<Option<Command>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!("SELECT ", columns!(commands), " FROM commands WHERE id = $1");
            sqlx::query(sql).bind(id).fetch_optional(pool).await?.as_ref().map(ReadRow::command).transpose()
        })
    }

    /// One zone's commands, newest first.
    pub async fn list_zone_commands(&self, zone_id: ZoneId, page: Page) -> Result<Vec<Command>, StorageError> {
        on_backend!(self, |pool| {
            let sql = concat!(
                "SELECT ",
                columns!(commands),
                " FROM commands WHERE zone_id = $1 ORDER BY ts_ms DESC, id DESC LIMIT $2 OFFSET $3"
            );
            let rows = sqlx::query(sql).bind(zone_id).bind(page.limit()).bind(page.skip()).fetch_all(pool).await?;
            rows.iter().map(ReadRow::command).collect()
        })
    }
}

// --- errors ---

/// Unique violations on `zones` become a `Conflict` naming what is taken.
fn zone_write_error<B: Backend>(e: sqlx::Error, f: &ZoneFields) -> StorageError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return if B::is_name_taken(db.as_ref()) {
            StorageError::Conflict(format!("a zone named {:?} already exists", f.name.as_str()))
        } else {
            let port = f.modbus_port.map_or_else(|| "-".to_string(), |p| p.to_string());
            StorageError::Conflict(format!(
                "another zone already uses modbus endpoint {}:{port} unit {}",
                f.modbus_host, f.modbus_unit_id
            ))
        };
    }
    e.into()
}

/// A foreign-key violation when writing a reading, command or hold means the zone does not exist.
fn history_write_error(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StorageError::NotFound { what: "zone" };
    }
    e.into()
}
