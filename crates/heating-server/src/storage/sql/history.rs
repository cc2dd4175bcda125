//! `zone_history`: buckets and energy over a range, aggregated in the database.
//!
//! In one read transaction ([`Backend::BEGIN_SNAPSHOT`], one snapshot): the buckets, with one `GROUP BY` of the
//! bucket index `(ts_ms - from) / width` over a range scan of the `(zone_id, ts_ms)` index; then the energy counter's
//! first and last value in each bucket (two index seeks per bucket). A bucket whose counter stayed within its first
//! and last value counts `last - first`; only a bucket where it did not (a reset or a wrap inside) is walked reading
//! by reading with `LAG`. A week of one-second readings costs one scan instead of a window over every row.

use sqlx::{AssertSqlSafe, Row};

use super::Backend;
use super::rows::{ReadRow, time_of};
use crate::storage::{History, HistoryBucket, HistoryQuery, Storage, StorageError, ZoneId};
use crate::time::to_ms;

impl Storage {
    /// One zone's readings in `query.from <= ts < query.to`, aggregated in the database into at most
    /// `query.points` time buckets (empty ones left out), with the energy used over the range.
    pub async fn zone_history(&self, zone_id: ZoneId, q: HistoryQuery) -> Result<History, StorageError> {
        let (from_ms, to_ms_, width) = (to_ms(q.from()), to_ms(q.to()), q.bucket_ms());
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_SNAPSHOT).await?;
            // Only the backend's constant phrases are spliced in; values are bound.
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT (ts_ms - $1) / $2 AS bucket, COUNT(*) AS n, \
                 MIN(temperature) AS t_min, AVG(temperature) AS t_avg, MAX(temperature) AS t_max, \
                 MIN(target_temp) AS s_min, AVG(target_temp) AS s_avg, MAX(target_temp) AS s_max, \
                 MIN(outdoor_temp) AS o_min, AVG(outdoor_temp) AS o_avg, MAX(outdoor_temp) AS o_max, \
                 {flags}, MIN(energy_wh) AS e_min, MAX(energy_wh) AS e_max, COUNT(energy_wh) AS e_n \
                 FROM sensor_readings WHERE zone_id = $3 AND ts_ms >= $1 AND ts_ms < $4 \
                 GROUP BY bucket ORDER BY bucket",
                flags = B::FLAG_SHARES
            )))
            .bind(from_ms)
            .bind(width)
            .bind(zone_id)
            .bind(to_ms_)
            .fetch_all(&mut *tx)
            .await?;

            let mut buckets = Vec::with_capacity(rows.len());
            let (mut readings, mut counter_readings) = (0, 0);
            // (bucket index, min, max) of the buckets holding counter values.
            let mut counters: Vec<(i64, i64, i64)> = Vec::new();
            for row in &rows {
                let index: i64 = row.try_get("bucket")?;
                let count: i64 = row.try_get("n")?;
                let with_counter: i64 = row.try_get("e_n")?;
                readings += count;
                counter_readings += with_counter;
                if with_counter > 0 {
                    counters.push((index, row.try_get("e_min")?, row.try_get("e_max")?));
                }
                buckets.push(HistoryBucket {
                    start: time_of(from_ms + index * width, "bucket start")?,
                    count,
                    temperature: row
                        .stats("t")?
                        .ok_or_else(|| StorageError::Corrupt("a bucket without temperatures".into()))?,
                    target_temp: row.stats("s")?,
                    outdoor_temp: row.stats("o")?,
                    heater_on_fraction: row.try_get("heating")?,
                    occupied_fraction: row.try_get("occupied")?,
                });
            }

            let energy_wh = if counter_readings < 2 {
                None
            } else {
                // First and last counter value of every bucket, in one statement: two index seeks per bucket.
                let ends = sqlx::query(AssertSqlSafe(format!(
                    "{with}SELECT i, \
                     (SELECT energy_wh FROM sensor_readings WHERE zone_id = $1 AND ts_ms >= $2 + i * $3 \
                     AND ts_ms < {least}($2 + (i + 1) * $3, $4) AND energy_wh IS NOT NULL \
                     ORDER BY ts_ms, id LIMIT 1) AS first, \
                     (SELECT energy_wh FROM sensor_readings WHERE zone_id = $1 AND ts_ms >= $2 + i * $3 \
                     AND ts_ms < {least}($2 + (i + 1) * $3, $4) AND energy_wh IS NOT NULL \
                     ORDER BY ts_ms DESC, id DESC LIMIT 1) AS last \
                     FROM {from}",
                    with = B::BUCKETS_WITH,
                    least = B::LEAST,
                    from = B::BUCKETS_FROM
                )))
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
                        // The counter went down inside: `counter_step` summed over the bucket's readings, in SQL.
                        let lo = from_ms + index * width;
                        let walked = sqlx::query(concat!(
                            "SELECT CAST(COALESCE(SUM(CASE WHEN prev IS NULL THEN 0 WHEN e >= prev THEN e - prev ",
                            "WHEN prev >= 4294967296 - 16777216 THEN e + 4294967296 - prev ELSE e END), 0) AS BIGINT) ",
                            "AS used FROM (SELECT energy_wh AS e, LAG(energy_wh) OVER (ORDER BY ts_ms, id) AS prev ",
                            "FROM sensor_readings WHERE zone_id = $1 AND ts_ms >= $2 AND ts_ms < $3 ",
                            "AND energy_wh IS NOT NULL) AS steps"
                        ))
                        .bind(zone_id)
                        .bind(lo)
                        .bind((lo + width).min(to_ms_))
                        .fetch_one(&mut *tx)
                        .await?;
                        walked.try_get::<i64, _>("used")?
                    };
                    previous_last = Some(last);
                }
                Some(used)
            };
            tx.commit().await?;
            Ok(History { buckets, readings, energy_wh })
        })
    }
}

/// Energy counted between two consecutive counter values: the increase; after a wrap of the 32-bit counter (down
/// from within 2²⁴ Wh of the top) the increase through the wrap; after any other decrease (a reset to 0) the new value.
fn counter_step(prev: i64, next: i64) -> i64 {
    const WRAP: i64 = 1 << 32;
    if next >= prev {
        next - prev
    } else if prev >= WRAP - (1 << 24) {
        next + WRAP - prev
    } else {
        next
    }
}
