//! What the database holds, for the metrics: rows per table and its size on disk. Exact counts (`COUNT(*)`),
//! meant to be asked at most every few seconds (the metrics service caches them).

use super::Backend;
use crate::storage::{Storage, StorageError};

/// The server's tables, as the metrics name them.
pub const TABLES: &[&str] = &[
    "zones",
    "sensor_readings",
    "readings_1m",
    "readings_15m",
    "readings_1h",
    "commands",
    "zone_holds",
    "api_tokens",
    "audit_log",
    "device_profiles",
    "zone_groups",
    "alerts",
];

impl Storage {
    /// Rows per table of [`TABLES`], in that order.
    pub async fn table_rows(&self) -> Result<Vec<(&'static str, i64)>, StorageError> {
        // One statement, built from the constant table names above (nothing from outside).
        let sql = TABLES
            .iter()
            .enumerate()
            .map(|(i, t)| format!("SELECT CAST({i} AS BIGINT) AS i, COUNT(*) AS n FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        on_backend!(self, |pool| {
            let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            let mut counts: Vec<(&'static str, i64)> = TABLES.iter().map(|t| (*t, 0)).collect();
            for (i, n) in rows {
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
                    slot.1 = n;
                }
            }
            Ok(counts)
        })
    }

    /// Bytes on disk: the SQLite file (page count × page size), or the total size (with indexes and TOAST) of the
    /// tables in PostgreSQL's current schema.
    pub async fn database_size_bytes(&self) -> Result<i64, StorageError> {
        on_backend!(self, |pool, B| {
            let (bytes,): (i64,) = sqlx::query_as(B::SIZE_BYTES).fetch_one(pool).await?;
            Ok(bytes)
        })
    }
}
