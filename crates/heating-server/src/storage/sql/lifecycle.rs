//! The data lifecycle's storage side: expired rows deleted in bounded batches ([`Retained`],
//! [`Storage::purge_batch`]), space given back to the file system (SQLite), per-table sizes and a database check.
//!
//! A batch is one short statement (its own transaction): `DELETE ... WHERE key IN (SELECT key ... WHERE ts < cutoff
//! LIMIT n)`, the inner query on the table's time index. The caller (the retention job) loops and yields between
//! batches, so the poller's insert and the API's reads wait at most one batch for the database.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Backend;
use crate::config::{Keep, RetentionSettings};
use crate::storage::{Storage, StorageError, TABLES};
use crate::time::to_ms;

/// A table the retention job trims, each with its setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retained {
    /// Raw readings (`sensor_readings`), `RETENTION_RAW`.
    Readings,
    /// Commands, `RETENTION_COMMANDS`; a pending command is never deleted.
    Commands,
    /// The audit log, `RETENTION_AUDIT`.
    Audit,
    /// 1-minute rollups (`readings_1m`), `RETENTION_MINUTE`.
    Minute,
    /// 15-minute rollups (`readings_15m`), `RETENTION_QUARTER`.
    Quarter,
    /// Hourly rollups (`readings_1h`), `RETENTION_HOUR`.
    Hour,
}

/// What one retained table needs: its name, the statement deleting one batch (`$1` the cutoff in unix ms, `$2` the
/// most rows), and how long its rows are kept.
struct Spec {
    table: &'static str,
    purge: &'static str,
    keep: fn(&RetentionSettings) -> Keep,
}

impl Retained {
    /// Every retained table, in the order the retention job trims them.
    pub const ALL: &'static [Retained] =
        &[Self::Readings, Self::Minute, Self::Quarter, Self::Hour, Self::Commands, Self::Audit];

    const fn spec(self) -> Spec {
        match self {
            Self::Readings => Spec {
                table: "sensor_readings",
                purge: "DELETE FROM sensor_readings WHERE id IN \
                        (SELECT id FROM sensor_readings WHERE ts_ms < $1 LIMIT $2)",
                keep: |r| r.retention_raw,
            },
            Self::Commands => Spec {
                table: "commands",
                purge: "DELETE FROM commands WHERE id IN \
                        (SELECT id FROM commands WHERE ts_ms < $1 AND status <> 'pending' LIMIT $2)",
                keep: |r| r.retention_commands,
            },
            Self::Audit => Spec {
                table: "audit_log",
                purge: "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE ts_ms < $1 LIMIT $2)",
                keep: |r| r.retention_audit,
            },
            // A bucket goes when it ends at or before the cutoff, so nothing newer than the cutoff is lost.
            Self::Minute => Spec {
                table: "readings_1m",
                purge: "DELETE FROM readings_1m WHERE (zone_id, bucket_ms) IN \
                        (SELECT zone_id, bucket_ms FROM readings_1m WHERE bucket_ms <= $1 - 60000 LIMIT $2)",
                keep: |r| r.retention_minute,
            },
            Self::Quarter => Spec {
                table: "readings_15m",
                purge: "DELETE FROM readings_15m WHERE (zone_id, bucket_ms) IN \
                        (SELECT zone_id, bucket_ms FROM readings_15m WHERE bucket_ms <= $1 - 900000 LIMIT $2)",
                keep: |r| r.retention_quarter,
            },
            Self::Hour => Spec {
                table: "readings_1h",
                purge: "DELETE FROM readings_1h WHERE (zone_id, bucket_ms) IN \
                        (SELECT zone_id, bucket_ms FROM readings_1h WHERE bucket_ms <= $1 - 3600000 LIMIT $2)",
                keep: |r| r.retention_hour,
            },
        }
    }

    /// The table's name.
    #[must_use]
    pub const fn table(self) -> &'static str {
        self.spec().table
    }

    /// How long the settings keep this table's rows.
    #[must_use]
    pub fn keep(self, settings: &RetentionSettings) -> Keep {
        (self.spec().keep)(settings)
    }
}

/// What giving space back did (SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reclaimed {
    /// The file was switched to incremental auto-vacuum by a one-time `VACUUM`.
    pub converted: bool,
    /// The file (this many bytes) is not in incremental auto-vacuum mode and was too large to switch while the
    /// server runs: freed pages are reused by later inserts but not given back (`heating-server vacuum` switches it).
    pub switch_deferred_bytes: Option<i64>,
    /// Free pages given back to the file system.
    pub pages: i64,
    /// Free pages left in the file (reused by later inserts, or given back by the next run).
    pub free_pages_left: i64,
}

/// The result of a database check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbCheck {
    pub ok: bool,
    /// What was checked and found, in a line.
    pub detail: String,
}

impl Storage {
    /// Deletes at most `limit` rows of `table` older than `cutoff` (never one at or after it; never a pending
    /// command), in one statement; how many it deleted. Fewer than `limit` means none is left.
    pub async fn purge_batch(&self, table: Retained, cutoff: DateTime<Utc>, limit: u32) -> Result<u64, StorageError> {
        match table {
            // Pending minutes are folded into the coarser levels before they may go: all those of buckets ending by
            // the cutoff (the watermark moves to the quarter at or after it).
            Retained::Minute => {
                let next = super::rollups::ceil_to(to_ms(cutoff), super::rollups::QUARTER.width_ms);
                self.fold_rollups(super::rows::time_of(next, "retention cutoff")?).await?;
            }
            // Quarters are complete once folded (before the watermark): fold up to the cutoff first.
            Retained::Quarter => {
                self.fold_rollups(cutoff).await?;
            }
            _ => {}
        }
        on_backend!(self, |pool| {
            let done = sqlx::query(table.spec().purge).bind(to_ms(cutoff)).bind(i64::from(limit)).execute(pool).await?;
            Ok(done.rows_affected())
        })
    }

    /// Gives free pages back to the file system, at most `max_pages` in steps of `step_pages`, sleeping `pause`
    /// between steps. SQLite: switches an older file to incremental auto-vacuum once if it is at most
    /// `switch_max_bytes` (a `VACUUM`, which holds the database for as long as it takes to rewrite the file; a larger
    /// file is left as it is and reported), then `PRAGMA incremental_vacuum`. PostgreSQL: `None`, its autovacuum makes
    /// deleted rows' space reusable by itself.
    pub async fn reclaim_space(
        &self,
        max_pages: i64,
        step_pages: i64,
        pause: Duration,
        switch_max_bytes: i64,
    ) -> Result<Option<Reclaimed>, StorageError> {
        on_backend!(self, |pool, B| { B::reclaim_space(pool, max_pages, step_pages, pause, switch_max_bytes).await })
    }

    /// A cheap consistency check: SQLite `PRAGMA quick_check`; PostgreSQL, that every index of the schema is valid,
    /// with the database's counters of deadlocks and checksum failures.
    pub async fn check(&self) -> Result<DbCheck, StorageError> {
        on_backend!(self, |pool, B| { B::check(pool).await })
    }

    /// Bytes per table of [`TABLES`] with its indexes, in that order: SQLite's `dbstat` (reads every page: ask
    /// rarely), PostgreSQL's `pg_total_relation_size`.
    pub async fn table_bytes(&self) -> Result<Vec<(&'static str, i64)>, StorageError> {
        on_backend!(self, |pool, B| {
            let rows: Vec<(String, i64)> = sqlx::query_as(B::TABLE_BYTES).fetch_all(pool).await?;
            Ok(TABLES.iter().map(|t| (*t, rows.iter().find(|(name, _)| name == t).map_or(0, |(_, b)| *b))).collect())
        })
    }
}
