//! The SQL of `zone_history` (`history.rs`) and the sums it adds up per requested bucket.
//!
//! From a rollup level, the range splits into the level's whole buckets inside it, answered from the rollup table (one `GROUP BY` of the
//! requested bucket index over a few hundred to a few thousand rows), and the two edges shorter than one level
//! bucket (`from` up to the first level boundary, the last boundary up to `to`), answered from the raw readings,
//! where they still exist. A rollup bucket counts whole in the requested bucket its start falls in: where a
//! requested boundary is not a multiple of the level's width, it moves up to the next one (by less than one level
//! bucket, at most as wide as a requested bucket); where it is, the answer is the raw one. Totals (readings, energy)
//! are the raw ones either way. Energy: the used energy of each part plus the counter steps between consecutive
//! parts, exactly as over the raw readings.

use std::collections::BTreeMap;

use sqlx::Row;

use super::rollups::{Level, Sums, level_rows, step_sql};
use super::rows::time_of;
use crate::storage::{HistoryBucket, Stats, StorageError};

/// The requested buckets from a rollup level: `$1` from, `$2` width, `$3` zone, `$4 <= bucket_ms < $5`; for the
/// 15-minute and hourly levels also the pending 1-minute rows from `$6` = max(`$4`, the watermark) ([`level_rows`]).
pub(super) fn rolled_stats_sql(level: Level) -> String {
    format!(
        "SELECT (bucket_ms - $1) / $2 AS bucket, CAST(SUM(n) AS BIGINT) AS n, \
         MIN(temp_min) AS t_min, SUM(temp_sum) AS t_sum, MAX(temp_max) AS t_max, \
         CAST(SUM(target_n) AS BIGINT) AS s_n, MIN(target_min) AS s_min, SUM(target_sum) AS s_sum, \
         MAX(target_max) AS s_max, \
         CAST(SUM(outdoor_n) AS BIGINT) AS o_n, MIN(outdoor_min) AS o_min, SUM(outdoor_sum) AS o_sum, \
         MAX(outdoor_max) AS o_max, \
         CAST(SUM(heater_n) AS BIGINT) AS h_n, CAST(SUM(heater_on_n) AS BIGINT) AS h_on, \
         CAST(SUM(occupied_n) AS BIGINT) AS occ \
         FROM {} GROUP BY bucket",
        level_rows(level, "$3", "$4", "$5", "$6")
    )
}

/// The same columns from raw readings with `$4 <= ts_ms < $5`.
pub(super) const RAW_STATS_SQL: &str = "SELECT (ts_ms - $1) / $2 AS bucket, COUNT(*) AS n, \
     MIN(temperature) AS t_min, SUM(temperature) AS t_sum, MAX(temperature) AS t_max, \
     COUNT(target_temp) AS s_n, MIN(target_temp) AS s_min, COALESCE(SUM(target_temp), 0.0) AS s_sum, \
     MAX(target_temp) AS s_max, \
     COUNT(outdoor_temp) AS o_n, MIN(outdoor_temp) AS o_min, COALESCE(SUM(outdoor_temp), 0.0) AS o_sum, \
     MAX(outdoor_temp) AS o_max, \
     COUNT(heater_on) AS h_n, SUM(CASE WHEN heater_on THEN 1 ELSE 0 END) AS h_on, \
     SUM(CASE WHEN occupancy THEN 1 ELSE 0 END) AS occ \
     FROM sensor_readings WHERE zone_id = $3 AND ts_ms >= $4 AND ts_ms < $5 GROUP BY bucket";

/// The energy counter over raw readings of zone `$1` with `$2 <= ts_ms < $3`: values, first, last, used.
pub(super) fn raw_counter_sql() -> String {
    format!(
        "SELECT COUNT(*) AS n, MAX(CASE WHEN prev IS NULL THEN e END) AS first, \
         MAX(CASE WHEN next IS NULL THEN e END) AS last, \
         CAST(COALESCE(SUM(CASE WHEN prev IS NULL THEN 0 ELSE {step} END), 0) AS BIGINT) AS used \
         FROM (SELECT energy_wh AS e, LAG(energy_wh) OVER (ORDER BY ts_ms, id) AS prev, \
         LEAD(energy_wh) OVER (ORDER BY ts_ms, id) AS next FROM sensor_readings \
         WHERE zone_id = $1 AND ts_ms >= $2 AND ts_ms < $3 AND energy_wh IS NOT NULL) AS s",
        step = step_sql("prev", "e")
    )
}

/// The same over a rollup level's buckets with `$2 <= bucket_ms < $3` (15-minute and hourly: and the pending
/// 1-minute rows from `$4`), in time order.
pub(super) fn rolled_counter_sql(level: Level) -> String {
    format!(
        "SELECT CAST(COALESCE(SUM(energy_n), 0) AS BIGINT) AS n, \
         MAX(CASE WHEN prev IS NULL THEN energy_first END) AS first, \
         MAX(CASE WHEN next IS NULL THEN energy_last END) AS last, \
         CAST(COALESCE(SUM(energy_used + CASE WHEN prev IS NULL THEN 0 ELSE {step} END), 0) AS BIGINT) AS used \
         FROM (SELECT energy_n, energy_first, energy_last, energy_used, \
         LAG(energy_last) OVER (ORDER BY at_ms) AS prev, LEAD(energy_first) OVER (ORDER BY at_ms) AS next \
         FROM {rows} WHERE energy_n > 0) AS s",
        step = step_sql("prev", "energy_first"),
        rows = level_rows(level, "$1", "$2", "$3", "$4")
    )
}

/// One requested bucket, summed over its parts.
#[derive(Debug, Default)]
pub(super) struct Acc {
    n: i64,
    temp: Sums,
    target: Sums,
    outdoor: Sums,
    heater_n: i64,
    heater_on: i64,
    occupied: i64,
}

impl Acc {
    pub(super) fn add<R: Row>(&mut self, row: &R) -> Result<(), StorageError>
    where
        for<'a> &'a str: sqlx::ColumnIndex<R>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> f64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let n: i64 = row.try_get("n")?;
        self.n += n;
        for (sums, p, count) in
            [(&mut self.temp, "t", Some(n)), (&mut self.target, "s", None), (&mut self.outdoor, "o", None)]
        {
            let n = match count {
                Some(n) => n,
                None => row.try_get(format!("{p}_n").as_str())?,
            };
            sums.merge(Sums {
                n,
                min: row.try_get(format!("{p}_min").as_str())?,
                sum: row.try_get::<Option<f64>, _>(format!("{p}_sum").as_str())?.unwrap_or(0.0),
                max: row.try_get(format!("{p}_max").as_str())?,
            });
        }
        self.heater_n += row.try_get::<i64, _>("h_n")?;
        self.heater_on += row.try_get::<Option<i64>, _>("h_on")?.unwrap_or(0);
        self.occupied += row.try_get::<Option<i64>, _>("occ")?.unwrap_or(0);
        Ok(())
    }
}

/// The requested buckets of `acc` (index → sums), oldest first, with the readings in them.
pub(super) fn buckets_of(
    acc: BTreeMap<i64, Acc>,
    from_ms: i64,
    width: i64,
) -> Result<(Vec<HistoryBucket>, i64), StorageError> {
    let mut buckets = Vec::with_capacity(acc.len());
    let mut readings = 0;
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    for (index, a) in acc {
        if a.n == 0 {
            continue;
        }
        readings += a.n;
        let stats = |s: Sums| match (s.min, s.max) {
            (Some(min), Some(max)) if s.n > 0 => Some(Stats { min, avg: s.sum / s.n as f64, max }),
            _ => None,
        };
        buckets.push(HistoryBucket {
            start: time_of(from_ms + index * width, "bucket start")?,
            count: a.n,
            temperature: stats(a.temp).ok_or_else(|| StorageError::Corrupt("a bucket without temperatures".into()))?,
            target_temp: stats(a.target),
            outdoor_temp: stats(a.outdoor),
            heater_on_fraction: (a.heater_n > 0).then(|| a.heater_on as f64 / a.heater_n as f64),
            occupied_fraction: a.occupied as f64 / a.n as f64,
        });
    }
    Ok((buckets, readings))
}
