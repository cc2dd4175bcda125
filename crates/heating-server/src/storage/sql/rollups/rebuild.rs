//! Rollups rebuilt from the raw readings, folded on request (before retention trims a level), and read as stored.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::super::Backend;
use super::super::rows::{self, ReadRow};
use super::merge_pending;
use super::{COLUMNS, FOLDED_SQL, LEVELS, Level, MINUTE, QUARTER, RollupBucket, WIDEST_MS, ceil_to, floor_to};
use super::{clear_sql, fold_levels, rebuild_sql};
use crate::storage::{Resolution, Storage, StorageError, ZoneId};
use crate::time::to_ms;

/// What [`Storage::rebuild_rollups`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildReport {
    /// The range recomputed, aligned to whole hours; `None` when no raw reading lay in the range asked for.
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Transactions run.
    pub chunks: u64,
    /// Rollup rows written, all levels.
    pub rows: u64,
}

impl Storage {
    /// Recomputes the three rollup levels from the raw readings in `from <= ts < to` (of one zone, or all), after an
    /// import or a fix. Whole buckets are recomputed (the range widens to whole hours), in chunks of one transaction
    /// each (a day for one zone, an hour for all), so writers wait at most one chunk. Only where raw readings exist:
    /// the range is first narrowed to the oldest and newest raw reading in it, and when it starts at or before the
    /// oldest, the buckets holding that reading are left as they are (the raw readings before it in the same bucket
    /// may have expired), so a rebuild never loses what only the rollups still hold. `from >= to` does nothing.
    pub async fn rebuild_rollups(
        &self,
        zone: Option<ZoneId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<RebuildReport, StorageError> {
        let (from_ms, to_ms_) = (to_ms(from), to_ms(to));
        let mut report = RebuildReport { range: None, chunks: 0, rows: 0 };
        if from_ms >= to_ms_ {
            return Ok(report);
        }
        on_backend!(self, |pool, B| {
            let zone_clause = if zone.is_some() { " AND zone_id = $3" } else { "" };
            let query = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT MIN(ts_ms), MAX(ts_ms) FROM sensor_readings WHERE ts_ms >= $1 AND ts_ms < $2{zone_clause}"
            )))
            .bind(from_ms)
            .bind(to_ms_);
            let query = if let Some(z) = zone { query.bind(z) } else { query };
            let extent: (Option<i64>, Option<i64>) = query.fetch_one(pool).await?;
            let (Some(oldest), Some(newest)) = extent else {
                return Ok(report);
            };
            // Per level: [lo, hi), aligned to the level.
            let bounds: Vec<(Level, i64, i64)> = LEVELS
                .iter()
                .map(|&l| {
                    let lo = if from_ms > oldest { floor_to(from_ms, l.width_ms) } else { ceil_to(oldest, l.width_ms) };
                    (l, lo, ceil_to(newest + 1, l.width_ms))
                })
                .collect();
            let start = floor_to(bounds.iter().map(|b| b.1).min().unwrap_or(oldest), WIDEST_MS);
            let end = ceil_to(newest + 1, WIDEST_MS);
            report.range = Some((rows::time_of(start, "range start")?, rows::time_of(end, "range end")?));
            let chunk_ms = if zone.is_some() { 24 * WIDEST_MS } else { WIDEST_MS };
            let mut at = start;
            while at < end {
                let next = (at + chunk_ms).min(end);
                let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
                if let Some(lock) = B::LOCK_READINGS {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let (folded,): (i64,) = sqlx::query_as(B::LOCK_FOLD).fetch_one(&mut *tx).await?;
                for &(level, lo, hi) in &bounds {
                    let (a, b) = (at.max(lo), next.min(hi));
                    if a >= b {
                        continue;
                    }
                    // The 15-minute and hourly levels hold only what is before the watermark.
                    let until = if level == MINUTE { b } else { b.min(folded) };
                    for (rebuild, sql) in
                        [(false, clear_sql(level, zone.is_some())), (true, rebuild_sql(level, zone.is_some()))]
                    {
                        if rebuild && a >= until {
                            continue;
                        }
                        let query = sqlx::query(AssertSqlSafe(sql)).bind(a).bind(if rebuild { until } else { b });
                        let query = if let Some(z) = zone { query.bind(z) } else { query };
                        let done = query.execute(&mut *tx).await?;
                        if rebuild {
                            report.rows += done.rows_affected();
                        }
                    }
                }
                tx.commit().await?;
                report.chunks += 1;
                at = next;
            }
            Ok(report)
        })
    }

    /// Folds every 1-minute bucket before `upto` (rounded down to a quarter) into the 15-minute level and those
    /// quarters into the hourly level, if the watermark is below it: the retention job does so before it trims the
    /// 1-minute or 15-minute level, so that nothing pending is deleted unfolded. One transaction; whether anything
    /// was folded.
    pub async fn fold_rollups(&self, upto: DateTime<Utc>) -> Result<bool, StorageError> {
        let next = floor_to(to_ms(upto), QUARTER.width_ms);
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_WRITE).await?;
            let (folded,): (i64,) = sqlx::query_as(B::LOCK_FOLD).fetch_one(&mut *tx).await?;
            if next <= folded {
                return Ok(false);
            }
            fold_levels!(tx, B, folded, next, false);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The rollup rows of one level for a zone, oldest first (for tests and tools); the 15-minute and hourly levels
    /// with their pending minutes added.
    pub async fn rollup_buckets(
        &self,
        zone_id: ZoneId,
        resolution: Resolution,
    ) -> Result<Vec<RollupBucket>, StorageError> {
        let Some(&level) = LEVELS.iter().find(|l| l.resolution == resolution) else {
            return Ok(Vec::new());
        };
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_SNAPSHOT).await?;
            let select = |table: &str| {
                format!("SELECT {COLUMNS} FROM {table} WHERE zone_id = $1 AND bucket_ms >= $2 ORDER BY bucket_ms")
            };
            let rows = sqlx::query(AssertSqlSafe(select(level.table)))
                .bind(zone_id)
                .bind(i64::MIN)
                .fetch_all(&mut *tx)
                .await?;
            let rows: Vec<(ZoneId, RollupBucket)> =
                rows.iter().map(ReadRow::rollup_bucket).collect::<Result<_, _>>()?;
            let rows = if level == MINUTE {
                rows
            } else {
                // The level's rows, and the pending minutes added to them.
                let folded: i64 = sqlx::query_scalar(FOLDED_SQL).fetch_one(&mut *tx).await?;
                let pending = sqlx::query(AssertSqlSafe(select(MINUTE.table)))
                    .bind(zone_id)
                    .bind(folded)
                    .fetch_all(&mut *tx)
                    .await?;
                let pending = pending.iter().map(ReadRow::rollup_bucket).collect::<Result<_, _>>()?;
                merge_pending(level, rows, pending)
            };
            tx.commit().await?;
            Ok(rows.into_iter().map(|(_, bucket)| bucket).collect())
        })
    }
}
