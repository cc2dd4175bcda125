//! `zone_history`: buckets and energy over a range, aggregated in the database, in one read transaction
//! ([`Backend::BEGIN_SNAPSHOT`], one snapshot).
//!
//! Buckets: from the coarsest rollup level whose buckets are at most as wide as the ones asked for, its whole buckets
//! inside the range from the rollup table, the two edges shorter than one level bucket from the raw readings
//! (`history_rollups.rs`). Where the requested buckets align with the level (`from` and the width multiples of the
//! level's width) that is exactly the raw answer; where they do not, a requested boundary inside a level bucket
//! moves up to the level's next boundary, and ranges of up to 6 hours are then answered from the raw readings
//! instead (exact, and cheap). Raw: one `GROUP BY` of the bucket index `(ts_ms - from) / width` over a range scan of
//! the raw readings' `(zone_id, ts_ms)` index (also for buckets under a minute).
//!
//! Energy: the same split, over the level answering the buckets (the 1-minute level under the raw path): the energy
//! used inside each part (the rollups store it per bucket; the raw edges are walked with `LAG`, a few minutes of
//! readings at most) plus the counter steps between consecutive parts. That is exactly the sum of `counter_step` over
//! every pair of consecutive counter values in the range, and a week of one-second readings costs a few hundred
//! rollup rows instead of a window over 604,800.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::Backend;
use super::history_rollups::{Acc, RAW_STATS_SQL, buckets_of, raw_counter_sql, rolled_counter_sql, rolled_stats_sql};
use super::rollups::{Counter, FOLDED_SQL, LEVELS, Level, MINUTE, ceil_to, floor_to};
use crate::storage::{History, HistoryQuery, Resolution, Storage, StorageError, ZoneId};
use crate::time::to_ms;

/// The whole buckets of `level` inside `[from, to)`, as `(lo, hi)`, if there is at least one.
fn inside(level: Level, from: i64, to: i64) -> Option<(i64, i64)> {
    let (lo, hi) = (ceil_to(from, level.width_ms), floor_to(to, level.width_ms));
    (lo < hi).then_some((lo, hi))
}

/// Ranges up to this long are answered from raw readings when the buckets asked for do not align with the level
/// (at most 21,600 readings at a 1 s poll interval: exact, and cheap).
const RAW_SPAN_MS: i64 = 6 * 3_600_000;

/// Whether `level` answers buckets of `width` over `[from, to)`: its buckets are at most as wide, and either tile
/// the requested ones (`from` and `width` multiples of its width: the raw answer exactly) or the range is longer
/// than [`RAW_SPAN_MS`] (a requested boundary inside a level bucket moves up to the level's next boundary).
fn answers(level: &Level, from: i64, to: i64, width: i64) -> bool {
    let w = level.width_ms;
    w <= width && ((from.rem_euclid(w) == 0 && width % w == 0) || to - from > RAW_SPAN_MS)
}

impl Storage {
    /// One zone's readings in `query.from <= ts < query.to`, aggregated in the database into at most
    /// `query.points` time buckets (empty ones left out), with the energy used over the range. Answered from the
    /// coarsest rollup level whose buckets are at most as wide as the ones asked for, or from the raw readings (see
    /// the module's documentation); [`History::resolution`] says which.
    pub async fn zone_history(&self, zone_id: ZoneId, q: HistoryQuery) -> Result<History, StorageError> {
        let (from_ms, to_ms_, width) = (to_ms(q.from()), to_ms(q.to()), q.bucket_ms());
        // The level answering the buckets, with its whole buckets in the range.
        let rolled = LEVELS
            .iter()
            .rev()
            .find(|l| l.width_ms <= width)
            .filter(|l| answers(l, from_ms, to_ms_, width))
            .and_then(|&l| inside(l, from_ms, to_ms_).map(|span| (l, span)));
        // The level (and span) counting the energy.
        let counted = rolled.or_else(|| inside(LEVELS[0], from_ms, to_ms_).map(|span| (LEVELS[0], span)));
        on_backend!(self, |pool, B| {
            let mut tx = pool.begin_with(B::BEGIN_SNAPSHOT).await?;
            // The 15-minute and hourly levels hold what is before the watermark; the reads below add the pending minutes.
            let folded: i64 = sqlx::query_scalar(FOLDED_SQL).fetch_one(&mut *tx).await?;
            // A level holding no rows over its span (expired by retention) gives way to the next coarser one that
            // holds some, so history continues past a level's retention.
            let mut rolled = rolled;
            let mut counted = counted;
            if let Some((chosen, _)) = rolled {
                let mut pick = None;
                for level in LEVELS.iter().filter(|l| l.width_ms >= chosen.width_ms) {
                    let Some((lo, hi)) = inside(*level, from_ms, to_ms_) else { break };
                    let found: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT bucket_ms FROM {} WHERE zone_id = $1 AND bucket_ms >= $2 AND bucket_ms < $3 LIMIT 1",
                        level.table
                    )))
                    .bind(zone_id)
                    .bind(lo)
                    .bind(hi)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let found = match found {
                        None if *level != MINUTE && folded.max(lo) < hi => sqlx::query_scalar(AssertSqlSafe(format!(
                            "SELECT bucket_ms FROM {} WHERE zone_id = $1 AND bucket_ms >= $2 AND bucket_ms < $3 LIMIT 1",
                            MINUTE.table
                        )))
                        .bind(zone_id)
                        .bind(folded.max(lo))
                        .bind(hi)
                        .fetch_optional(&mut *tx)
                        .await?,
                        found => found,
                    };
                    if found.is_some() {
                        pick = Some((*level, (lo, hi)));
                        break;
                    }
                }
                if let Some(p) = pick.filter(|p| p.0 != chosen) {
                    rolled = Some(p);
                    counted = Some(p);
                }
            }
            let mut acc: BTreeMap<i64, Acc> = BTreeMap::new();
            // Raw parts: the whole range, or the two edges around the level's whole buckets.
            let raw_parts = match rolled {
                None => vec![(from_ms, to_ms_)],
                Some((level, (lo, hi))) => {
                    // Only constant table names and phrases are spliced in; values are bound.
                    let sql = rolled_stats_sql(level);
                    let query =
                        sqlx::query(AssertSqlSafe(sql)).bind(from_ms).bind(width).bind(zone_id).bind(lo).bind(hi);
                    let query = if level == MINUTE { query } else { query.bind(folded.max(lo)) };
                    let rows = query.fetch_all(&mut *tx).await?;
                    for row in &rows {
                        acc.entry(row.try_get("bucket")?).or_default().add(row)?;
                    }
                    vec![(from_ms, lo), (hi, to_ms_)]
                }
            };
            for &(a, b) in raw_parts.iter().filter(|(a, b)| a < b) {
                let rows = sqlx::query(RAW_STATS_SQL)
                    .bind(from_ms)
                    .bind(width)
                    .bind(zone_id)
                    .bind(a)
                    .bind(b)
                    .fetch_all(&mut *tx)
                    .await?;
                for row in &rows {
                    acc.entry(row.try_get("bucket")?).or_default().add(row)?;
                }
            }

            // The counter over the parts, in time order.
            // (SQL, range, whether it reads a coarser level and takes the pending minutes' start).
            let parts: Vec<(String, i64, i64, bool)> = match counted {
                None => vec![(raw_counter_sql(), from_ms, to_ms_, false)],
                Some((level, (lo, hi))) => vec![
                    (raw_counter_sql(), from_ms, lo, false),
                    (rolled_counter_sql(level), lo, hi, level != MINUTE),
                    (raw_counter_sql(), hi, to_ms_, false),
                ],
            };
            let mut counter = Counter::default();
            for (sql, a, b, pending) in parts {
                if a >= b {
                    continue;
                }
                let query = sqlx::query(AssertSqlSafe(sql)).bind(zone_id).bind(a).bind(b);
                let query = if pending { query.bind(folded.max(a)) } else { query };
                let row = query.fetch_one(&mut *tx).await?;
                let n: i64 = row.try_get("n")?;
                let (first, last): (Option<i64>, Option<i64>) = (row.try_get("first")?, row.try_get("last")?);
                if let (true, Some(first), Some(last)) = (n > 0, first, last) {
                    let part =
                        Counter { n, first: Some((first, a)), last: Some((last, b)), used: row.try_get("used")? };
                    counter.append(&part);
                }
            }
            tx.commit().await?;

            let (buckets, readings) = buckets_of(acc, from_ms, width)?;
            let energy_wh = (counter.n >= 2).then_some(counter.used);
            let resolution = rolled.map_or(Resolution::Raw, |(l, _)| l.resolution);
            Ok(History { buckets, readings, energy_wh, resolution })
        })
    }
}
