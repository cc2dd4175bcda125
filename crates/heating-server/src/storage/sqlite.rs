//! SQLite backend: WAL journal, 5 s busy timeout, foreign keys on, file created if missing. Runtime queries only
//! (`query` + `bind`), so building needs no database. Schema: `migrations/sqlite/`.
//!
//! Writes that read first (delete, batch insert) start with `BEGIN IMMEDIATE`, so that they take the write lock
//! up front and wait out the busy timeout instead of failing when another connection writes meanwhile.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use heating_core::preferences::Preferences;
use heating_core::units::Setpoint;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::model::*;
use super::{History, HistoryBucket, HistoryQuery, Stats, StorageError};
use crate::domain::Page;
use crate::time::{from_ms, to_ms};

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Rows per multi-row INSERT: 8 parameters each keeps a statement far below SQLite's parameter limit.
const INSERT_CHUNK: usize = 500;

macro_rules! zone_columns {
    () => {
        "id, name, preferences, modbus_host, modbus_port, modbus_unit_id, created_ms, updated_ms"
    };
}
macro_rules! reading_columns {
    () => {
        "id, zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, outdoor_temp"
    };
}
macro_rules! command_columns {
    () => {
        "id, zone_id, ts_ms, target_temp, source, reason, status, error"
    };
}

/// The SQLite storage: a connection pool.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
}

impl SqliteStorage {
    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://heating.db?mode=rwc`. Fails at once if the
    /// file cannot be opened. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // Every connection to a private in-memory database is a database of its own: keep one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(if in_memory { 1 } else { 5 })
            .min_connections(if in_memory { 1 } else { 0 })
            .idle_timeout(if in_memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if in_memory { None } else { Some(Duration::from_secs(1800)) })
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> Result<(), StorageError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // --- zones ---

    pub async fn create_zone(&self, f: &ZoneFields, now: DateTime<Utc>) -> Result<Zone, StorageError> {
        let row = sqlx::query(concat!(
            "INSERT INTO zones (name, preferences, modbus_host, modbus_port, modbus_unit_id, created_ms, updated_ms) ",
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ",
            zone_columns!()
        ))
        .bind(f.name.as_str())
        .bind(preferences_text(&f.preferences)?)
        .bind(f.modbus_host.as_str())
        .bind(f.modbus_port.map(|p| i64::from(p.get())))
        .bind(i64::from(f.modbus_unit_id))
        .bind(to_ms(now))
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| zone_write_error(e, f))?;
        zone_from_row(&row)
    }

    pub async fn get_zone(&self, id: ZoneId) -> Result<Option<Zone>, StorageError> {
        let row = sqlx::query(concat!("SELECT ", zone_columns!(), " FROM zones WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(zone_from_row).transpose()
    }

    pub async fn list_zones(&self) -> Result<Vec<Zone>, StorageError> {
        let rows =
            sqlx::query(concat!("SELECT ", zone_columns!(), " FROM zones ORDER BY id")).fetch_all(&self.pool).await?;
        rows.iter().map(zone_from_row).collect()
    }

    pub async fn list_zones_page(&self, page: Page) -> Result<Vec<Zone>, StorageError> {
        let rows = sqlx::query(concat!("SELECT ", zone_columns!(), " FROM zones ORDER BY id LIMIT ? OFFSET ?"))
            .bind(page.limit())
            .bind(page.skip())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(zone_from_row).collect()
    }

    pub async fn update_zone(&self, id: ZoneId, f: &ZoneFields, now: DateTime<Utc>) -> Result<Zone, StorageError> {
        let row = sqlx::query(concat!(
            "UPDATE zones SET name = ?, preferences = ?, modbus_host = ?, modbus_port = ?, modbus_unit_id = ?, ",
            "updated_ms = ? WHERE id = ? RETURNING ",
            zone_columns!()
        ))
        .bind(f.name.as_str())
        .bind(preferences_text(&f.preferences)?)
        .bind(f.modbus_host.as_str())
        .bind(f.modbus_port.map(|p| i64::from(p.get())))
        .bind(i64::from(f.modbus_unit_id))
        .bind(to_ms(now))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| zone_write_error(e, f))?;
        match row {
            Some(row) => zone_from_row(&row),
            None => Err(StorageError::NotFound { what: "zone" }),
        }
    }

    pub async fn delete_zone(&self, id: ZoneId, cascade: bool) -> Result<(), StorageError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let exists = sqlx::query("SELECT 1 FROM zones WHERE id = ?").bind(id).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Err(StorageError::NotFound { what: "zone" });
        }
        if cascade {
            sqlx::query("DELETE FROM sensor_readings WHERE zone_id = ?").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM commands WHERE zone_id = ?").bind(id).execute(&mut *tx).await?;
        } else {
            let row = sqlx::query(concat!(
                "SELECT (SELECT COUNT(*) FROM sensor_readings WHERE zone_id = ?), ",
                "(SELECT COUNT(*) FROM commands WHERE zone_id = ?)"
            ))
            .bind(id)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let (readings, commands): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            if readings > 0 || commands > 0 {
                return Err(StorageError::HasHistory { readings, commands });
            }
        }
        sqlx::query("DELETE FROM zones WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // --- holds ---

    /// Stores the zone's hold, replacing any other; `NotFound` if the zone does not exist.
    pub async fn put_hold(&self, h: &StoredHold) -> Result<(), StorageError> {
        sqlx::query(concat!(
            "INSERT INTO zone_holds (zone_id, target_temp, until_ms, occupied_at_start, set_ms, source) ",
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (zone_id) DO UPDATE SET target_temp = excluded.target_temp, ",
            "until_ms = excluded.until_ms, occupied_at_start = excluded.occupied_at_start, set_ms = excluded.set_ms, ",
            "source = excluded.source"
        ))
        .bind(h.zone_id)
        .bind(h.target.celsius())
        .bind(h.until.map(to_ms))
        .bind(h.occupied_at_start)
        .bind(to_ms(h.set_at))
        .bind(h.source.as_str())
        .execute(&self.pool)
        .await
        .map_err(history_write_error)?;
        Ok(())
    }

    /// Removes the zone's hold; whether there was one.
    pub async fn delete_hold(&self, zone_id: ZoneId) -> Result<bool, StorageError> {
        let done = sqlx::query("DELETE FROM zone_holds WHERE zone_id = ?").bind(zone_id).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Every stored hold, by zone id.
    pub async fn list_holds(&self) -> Result<Vec<StoredHold>, StorageError> {
        let rows = sqlx::query(
            "SELECT zone_id, target_temp, until_ms, occupied_at_start, set_ms, source FROM zone_holds ORDER BY zone_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hold_from_row).collect()
    }

    // --- readings ---

    pub async fn insert_reading(&self, r: &NewReading) -> Result<Reading, StorageError> {
        let row = sqlx::query(concat!(
            "INSERT INTO sensor_readings (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, ",
            "outdoor_temp) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
            reading_columns!()
        ))
        .bind(r.zone_id)
        .bind(to_ms(r.ts))
        .bind(r.temperature)
        .bind(r.target_temp)
        .bind(r.occupancy)
        .bind(r.heater_on)
        .bind(r.energy_wh.map(i64::from))
        .bind(r.outdoor_temp)
        .fetch_one(&self.pool)
        .await
        .map_err(history_write_error)?;
        reading_from_row(&row)
    }

    pub async fn insert_readings(&self, readings: &[NewReading]) -> Result<u64, StorageError> {
        if readings.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted = 0;
        for chunk in readings.chunks(INSERT_CHUNK) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO sensor_readings \
                 (zone_id, ts_ms, temperature, target_temp, occupancy, heater_on, energy_wh, outdoor_temp) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.zone_id)
                    .push_bind(to_ms(r.ts))
                    .push_bind(r.temperature)
                    .push_bind(r.target_temp)
                    .push_bind(r.occupancy)
                    .push_bind(r.heater_on)
                    .push_bind(r.energy_wh.map(i64::from))
                    .push_bind(r.outdoor_temp);
            });
            inserted += qb.build().execute(&mut *tx).await.map_err(history_write_error)?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn list_readings(&self, page: Page) -> Result<Vec<Reading>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            reading_columns!(),
            " FROM sensor_readings ORDER BY ts_ms DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(page.limit())
        .bind(page.skip())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reading_from_row).collect()
    }

    pub async fn list_zone_readings(&self, zone_id: ZoneId, f: ReadingFilter) -> Result<Vec<Reading>, StorageError> {
        let mut qb = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            reading_columns!(),
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
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter().map(reading_from_row).collect()
    }

    pub async fn readings_between(
        &self,
        zone_id: ZoneId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_rows: i64,
    ) -> Result<Vec<Reading>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT * FROM (SELECT ",
            reading_columns!(),
            " FROM sensor_readings WHERE zone_id = ? AND ts_ms >= ? AND ts_ms < ? ",
            "ORDER BY ts_ms DESC, id DESC LIMIT ?) AS newest ORDER BY ts_ms, id"
        ))
        .bind(zone_id)
        .bind(to_ms(from))
        .bind(to_ms(to))
        .bind(max_rows.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reading_from_row).collect()
    }

    // --- commands ---

    pub async fn insert_command(&self, c: &NewCommand) -> Result<Command, StorageError> {
        let row = sqlx::query(concat!(
            "INSERT INTO commands (zone_id, ts_ms, target_temp, source, reason, status) ",
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING ",
            command_columns!()
        ))
        .bind(c.zone_id)
        .bind(to_ms(c.ts))
        .bind(c.target_temp.celsius())
        .bind(c.source.as_str())
        .bind(c.reason.as_deref())
        .bind(c.status.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(history_write_error)?;
        command_from_row(&row)
    }

    pub async fn update_command_status(
        &self,
        id: CommandId,
        status: CommandStatus,
        error: Option<&str>,
    ) -> Result<Command, StorageError> {
        let row = sqlx::query(concat!(
            "UPDATE commands SET status = ?, error = ? WHERE id = ? RETURNING ",
            command_columns!()
        ))
        .bind(status.as_str())
        .bind(error)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => command_from_row(&row),
            None => Err(StorageError::NotFound { what: "command" }),
        }
    }

    pub async fn get_command(&self, id: CommandId) -> Result<Option<Command>, StorageError> {
        let row = sqlx::query(concat!("SELECT ", command_columns!(), " FROM commands WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(command_from_row).transpose()
    }

    pub async fn list_zone_commands(&self, zone_id: ZoneId, page: Page) -> Result<Vec<Command>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            command_columns!(),
            " FROM commands WHERE zone_id = ? ORDER BY ts_ms DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(zone_id)
        .bind(page.limit())
        .bind(page.skip())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(command_from_row).collect()
    }

    // --- history ---

    /// In one read transaction (one snapshot): the buckets, with one `GROUP BY` of the bucket index
    /// `(ts_ms - from) / width` over a range scan of the `(zone_id, ts_ms)` index; then the energy counter's first
    /// and last value in each bucket (two index seeks per bucket). A bucket whose counter stayed within its first and
    /// last value counts `last - first`; only a bucket where it did not (a reset or a wrap inside) is walked reading
    /// by reading with `LAG`. A week of one-second readings costs one scan instead of a window over every row.
    pub async fn zone_history(&self, zone_id: ZoneId, q: HistoryQuery) -> Result<History, StorageError> {
        let (from_ms, to_ms_) = (to_ms(q.from()), to_ms(q.to()));
        let width = q.bucket_ms();
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(concat!(
            "SELECT (ts_ms - ?1) / ?2 AS bucket, COUNT(*) AS n, ",
            "MIN(temperature) AS t_min, AVG(temperature) AS t_avg, MAX(temperature) AS t_max, ",
            "MIN(target_temp) AS s_min, AVG(target_temp) AS s_avg, MAX(target_temp) AS s_max, ",
            "MIN(outdoor_temp) AS o_min, AVG(outdoor_temp) AS o_avg, MAX(outdoor_temp) AS o_max, ",
            "AVG(heater_on) AS heating, AVG(occupancy) AS occupied, ",
            "MIN(energy_wh) AS e_min, MAX(energy_wh) AS e_max, COUNT(energy_wh) AS e_n ",
            "FROM sensor_readings WHERE zone_id = ?3 AND ts_ms >= ?1 AND ts_ms < ?4 ",
            "GROUP BY bucket ORDER BY bucket"
        ))
        .bind(from_ms)
        .bind(width)
        .bind(zone_id)
        .bind(to_ms_)
        .fetch_all(&mut *tx)
        .await?;

        let mut buckets = Vec::with_capacity(rows.len());
        let mut readings = 0;
        // (bucket index, min, max) of the buckets holding counter values.
        let mut counters: Vec<(i64, i64, i64)> = Vec::new();
        for row in &rows {
            let index: i64 = row.try_get("bucket")?;
            let count: i64 = row.try_get("n")?;
            readings += count;
            if row.try_get::<i64, _>("e_n")? > 0 {
                counters.push((index, row.try_get("e_min")?, row.try_get("e_max")?));
            }
            buckets.push(HistoryBucket {
                start: time_of(from_ms + index * width, "bucket start")?,
                count,
                temperature: stats(row, "t")?
                    .ok_or_else(|| StorageError::Corrupt("a bucket without temperatures".into()))?,
                target_temp: stats(row, "s")?,
                outdoor_temp: stats(row, "o")?,
                heater_on_fraction: row.try_get("heating")?,
                occupied_fraction: row.try_get("occupied")?,
            });
        }

        let counter_readings: i64 = rows.iter().map(|r| r.try_get::<i64, _>("e_n")).sum::<Result<_, _>>()?;
        let energy_wh = if counter_readings < 2 {
            None
        } else {
            // First and last counter value of every bucket, in one statement: two index seeks per bucket.
            let ends = sqlx::query(concat!(
                "WITH RECURSIVE b(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM b WHERE i + 1 < ?5) ",
                "SELECT i, ",
                "(SELECT energy_wh FROM sensor_readings WHERE zone_id = ?1 AND ts_ms >= ?2 + i * ?3 ",
                "AND ts_ms < MIN(?2 + (i + 1) * ?3, ?4) AND energy_wh IS NOT NULL ",
                "ORDER BY ts_ms, id LIMIT 1) AS first, ",
                "(SELECT energy_wh FROM sensor_readings WHERE zone_id = ?1 AND ts_ms >= ?2 + i * ?3 ",
                "AND ts_ms < MIN(?2 + (i + 1) * ?3, ?4) AND energy_wh IS NOT NULL ",
                "ORDER BY ts_ms DESC, id DESC LIMIT 1) AS last ",
                "FROM b"
            ))
            .bind(zone_id)
            .bind(from_ms)
            .bind(width)
            .bind(to_ms_)
            .bind(i64::from(q.points()))
            .fetch_all(&mut *tx)
            .await?;
            let mut first_last = vec![None; ends.len()];
            for row in &ends {
                let i: i64 = row.try_get("i")?;
                let first: Option<i64> = row.try_get("first")?;
                let last: Option<i64> = row.try_get("last")?;
                if let (Ok(i), Some(first), Some(last)) = (usize::try_from(i), first, last)
                    && i < first_last.len()
                {
                    first_last[i] = Some((first, last));
                }
            }
            let mut used = 0;
            let mut previous_last: Option<i64> = None;
            for (index, min, max) in counters {
                let Some((first, last)) =
                    usize::try_from(index).ok().and_then(|i| first_last.get(i).copied().flatten())
                else {
                    return Err(StorageError::Corrupt(format!("bucket {index} lost its counter values")));
                };
                if let Some(prev) = previous_last {
                    used += counter_step(prev, first);
                }
                used += if min == first && max == last {
                    last - first
                } else {
                    let lo = from_ms + index * width;
                    counter_use_between(&mut tx, zone_id, lo, (lo + width).min(to_ms_)).await?
                };
                previous_last = Some(last);
            }
            Some(used)
        };
        tx.commit().await?;
        Ok(History { buckets, readings, energy_wh })
    }
}

/// Energy counted between two consecutive counter values: the increase; after a wrap of the 32-bit counter (down
/// from within 2²⁴ Wh of the top) the increase through the wrap; after any other decrease (a reset to 0) the new value.
pub(super) fn counter_step(prev: i64, next: i64) -> i64 {
    const WRAP: i64 = 1 << 32;
    if next >= prev {
        next - prev
    } else if prev >= WRAP - (1 << 24) {
        next + WRAP - prev
    } else {
        next
    }
}

/// [`counter_step`] summed over consecutive readings in `lo <= ts_ms < hi`, in SQL.
async fn counter_use_between(
    conn: &mut sqlx::SqliteConnection,
    zone_id: ZoneId,
    lo: i64,
    hi: i64,
) -> Result<i64, StorageError> {
    let row = sqlx::query(concat!(
        "SELECT COALESCE(SUM(CASE WHEN prev IS NULL THEN 0 WHEN e >= prev THEN e - prev ",
        "WHEN prev >= 4294967296 - 16777216 THEN e + 4294967296 - prev ELSE e END), 0) AS used ",
        "FROM (SELECT energy_wh AS e, LAG(energy_wh) OVER (ORDER BY ts_ms, id) AS prev ",
        "FROM sensor_readings WHERE zone_id = ? AND ts_ms >= ? AND ts_ms < ? AND energy_wh IS NOT NULL)"
    ))
    .bind(zone_id)
    .bind(lo)
    .bind(hi)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("used")?)
}

/// The `{prefix}_min`, `_avg`, `_max` columns of a bucket row; `None` when the bucket had no value.
fn stats(row: &SqliteRow, prefix: &str) -> Result<Option<Stats>, StorageError> {
    let min: Option<f64> = row.try_get(format!("{prefix}_min").as_str())?;
    let avg: Option<f64> = row.try_get(format!("{prefix}_avg").as_str())?;
    let max: Option<f64> = row.try_get(format!("{prefix}_max").as_str())?;
    Ok(match (min, avg, max) {
        (Some(min), Some(avg), Some(max)) => Some(Stats { min, avg, max }),
        _ => None,
    })
}

// --- errors ---

/// Unique violations on `zones` become a `Conflict` naming what is taken.
fn zone_write_error(e: sqlx::Error, f: &ZoneFields) -> StorageError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return if db.message().contains("zones.name") {
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

/// A foreign-key violation when writing a reading or command means the zone does not exist.
fn history_write_error(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StorageError::NotFound { what: "zone" };
    }
    e.into()
}

// --- rows ---

pub(super) fn preferences_text(p: &Preferences) -> Result<String, StorageError> {
    serde_json::to_string(&p.to_json()).map_err(|e| StorageError::Corrupt(format!("preferences: {e}")))
}

pub(super) fn time_of(ms: i64, what: &str) -> Result<DateTime<Utc>, StorageError> {
    from_ms(ms).ok_or_else(|| StorageError::Corrupt(format!("{what} {ms} is not a valid time")))
}

fn zone_from_row(row: &SqliteRow) -> Result<Zone, StorageError> {
    let id: i64 = row.try_get("id")?;
    let corrupt = |msg: String| StorageError::Corrupt(format!("zone {id}: {msg}"));
    let prefs_text: String = row.try_get("preferences")?;
    let prefs_json: serde_json::Value = serde_json::from_str(&prefs_text).map_err(|e| corrupt(e.to_string()))?;
    let preferences = Preferences::from_stored(prefs_json, |e| {
        tracing::warn!(zone_id = id, "stored {e}: the default applies until the preferences are saved again")
    })
    .map_err(|e| corrupt(e.to_string()))?;
    let port: Option<i64> = row.try_get("modbus_port")?;
    let modbus_port =
        port.map(|p| u16::try_from(p).map_err(|_| corrupt(format!("modbus_port {p} out of range")))).transpose()?;
    let unit: i64 = row.try_get("modbus_unit_id")?;
    let modbus_unit_id = u8::try_from(unit).map_err(|_| corrupt(format!("modbus_unit_id {unit} out of range")))?;
    Ok(Zone {
        id,
        name: row.try_get("name")?,
        preferences,
        modbus_host: row.try_get("modbus_host")?,
        modbus_port,
        modbus_unit_id,
        created_at: time_of(row.try_get("created_ms")?, "created_ms")?,
        updated_at: time_of(row.try_get("updated_ms")?, "updated_ms")?,
    })
}

fn reading_from_row(row: &SqliteRow) -> Result<Reading, StorageError> {
    let energy: Option<i64> = row.try_get("energy_wh")?;
    let energy_wh = energy
        .map(|e| u32::try_from(e).map_err(|_| StorageError::Corrupt(format!("energy_wh {e} out of range"))))
        .transpose()?;
    Ok(Reading {
        id: row.try_get("id")?,
        zone_id: row.try_get("zone_id")?,
        ts: time_of(row.try_get("ts_ms")?, "ts_ms")?,
        temperature: row.try_get("temperature")?,
        target_temp: row.try_get("target_temp")?,
        occupancy: row.try_get("occupancy")?,
        heater_on: row.try_get("heater_on")?,
        energy_wh,
        outdoor_temp: row.try_get("outdoor_temp")?,
    })
}

fn hold_from_row(row: &SqliteRow) -> Result<StoredHold, StorageError> {
    let target: f64 = row.try_get("target_temp")?;
    let source: String = row.try_get("source")?;
    let until: Option<i64> = row.try_get("until_ms")?;
    Ok(StoredHold {
        zone_id: row.try_get("zone_id")?,
        target: Setpoint::from_celsius(target).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        until: until.map(|ms| time_of(ms, "until_ms")).transpose()?,
        occupied_at_start: row.try_get("occupied_at_start")?,
        set_at: time_of(row.try_get("set_ms")?, "set_ms")?,
        source: source.parse().map_err(StorageError::Corrupt)?,
    })
}

fn command_from_row(row: &SqliteRow) -> Result<Command, StorageError> {
    let target: f64 = row.try_get("target_temp")?;
    let source: String = row.try_get("source")?;
    let status: String = row.try_get("status")?;
    Ok(Command {
        id: row.try_get("id")?,
        zone_id: row.try_get("zone_id")?,
        ts: time_of(row.try_get("ts_ms")?, "ts_ms")?,
        target_temp: Setpoint::from_celsius(target).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        source: source.parse().map_err(StorageError::Corrupt)?,
        reason: row.try_get("reason")?,
        status: status.parse().map_err(StorageError::Corrupt)?,
        error: row.try_get("error")?,
    })
}
