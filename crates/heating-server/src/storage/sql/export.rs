//! Readings for export, in keyset pages: each page the next `limit` readings after the last one seen (by time,
//! then id; rollup rows by zone, then bucket: their primary key), so an export of any size holds one page in memory
//! and each query is an index range scan.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::Backend;
use super::rollups::{COLUMNS, FOLDED_SQL, LEVELS, MINUTE, RollupBucket, ceil_to, merge_pending};
use super::rows::ReadRow;
use crate::storage::{Reading, Resolution, Storage, StorageError, ZoneId};
use crate::time::to_ms;

impl Storage {
    /// Readings in `from <= ts < to` (of one zone, or of all), oldest first (by timestamp, then id), strictly after
    /// `after` = (timestamp, id) of the last reading of the previous page; at most `limit`.
    pub async fn readings_page(
        &self,
        zone: Option<ZoneId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u32,
    ) -> Result<Vec<Reading>, StorageError> {
        on_backend!(self, |pool, B| {
            let mut qb = QueryBuilder::<B>::new(concat!("SELECT ", columns!(readings), " FROM sensor_readings WHERE "));
            if let Some(zone) = zone {
                qb.push("zone_id = ").push_bind(zone).push(" AND ");
            }
            qb.push("ts_ms < ").push_bind(to_ms(to));
            match after {
                None => {
                    qb.push(" AND ts_ms >= ").push_bind(to_ms(from));
                }
                Some((ts, id)) => {
                    let ts = to_ms(ts);
                    qb.push(" AND ts_ms >= ").push_bind(ts).push(" AND (ts_ms > ").push_bind(ts);
                    qb.push(" OR id > ").push_bind(id).push(")");
                }
            }
            qb.push(" ORDER BY ts_ms, id LIMIT ").push_bind(i64::from(limit));
            qb.build().fetch_all(pool).await?.iter().map(ReadRow::reading).collect()
        })
    }

    /// Rollup rows of `level` whose bucket starts in `from <= start < to` (of one zone, or of all), by zone then
    /// bucket start (the tables' primary key), strictly after `after` = (zone, bucket start) of the previous page's
    /// last row; at most `limit`. Raw asks for nothing here: an empty page.
    pub async fn rollups_page(
        &self,
        level: Resolution,
        zone: Option<ZoneId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(ZoneId, DateTime<Utc>)>,
        limit: u32,
    ) -> Result<Vec<(ZoneId, RollupBucket)>, StorageError> {
        let Some(level) = LEVELS.iter().find(|l| l.resolution == level) else {
            return Ok(Vec::new());
        };
        let level = *level;
        on_backend!(self, |pool, B| {
            // One snapshot: the level's rows and the pending minutes agree on the watermark.
            let mut tx = pool.begin_with(B::BEGIN_SNAPSHOT).await?;
            let mut qb = QueryBuilder::<B>::new(format!("SELECT {COLUMNS} FROM {} WHERE ", level.table));
            if let Some(zone) = zone {
                qb.push("zone_id = ").push_bind(zone).push(" AND ");
            }
            qb.push("bucket_ms >= ").push_bind(to_ms(from)).push(" AND bucket_ms < ").push_bind(to_ms(to));
            if let Some((z, start)) = after {
                let start = to_ms(start);
                qb.push(" AND (zone_id > ").push_bind(z).push(" OR (zone_id = ").push_bind(z);
                qb.push(" AND bucket_ms > ").push_bind(start).push("))");
            }
            qb.push(" ORDER BY zone_id, bucket_ms LIMIT ").push_bind(i64::from(limit));
            let rows: Vec<(ZoneId, RollupBucket)> =
                qb.build().fetch_all(&mut *tx).await?.iter().map(ReadRow::rollup_bucket).collect::<Result<_, _>>()?;
            if level == MINUTE {
                tx.commit().await?;
                return Ok(rows);
            }
            // The pending minutes whose bucket of the level starts in the range and after `after`.
            let folded: i64 = sqlx::query_scalar(FOLDED_SQL).fetch_one(&mut *tx).await?;
            let w = level.width_ms;
            let mut qb = QueryBuilder::<B>::new(format!("SELECT {COLUMNS} FROM {} WHERE ", MINUTE.table));
            if let Some(zone) = zone {
                qb.push("zone_id = ").push_bind(zone).push(" AND ");
            }
            qb.push("bucket_ms >= ").push_bind(folded.max(ceil_to(to_ms(from), w)));
            qb.push(" AND bucket_ms < ").push_bind(ceil_to(to_ms(to), w));
            if let Some((z, start)) = after {
                let next_bucket = to_ms(start) + w;
                qb.push(" AND (zone_id > ").push_bind(z).push(" OR (zone_id = ").push_bind(z);
                qb.push(" AND bucket_ms >= ").push_bind(next_bucket).push("))");
            }
            qb.push(" ORDER BY zone_id, bucket_ms");
            let pending: Vec<(ZoneId, RollupBucket)> =
                qb.build().fetch_all(&mut *tx).await?.iter().map(ReadRow::rollup_bucket).collect::<Result<_, _>>()?;
            tx.commit().await?;
            let mut merged = merge_pending(level, rows, pending);
            merged.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            Ok(merged)
        })
    }
}
